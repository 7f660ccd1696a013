/**
 * `nightshift daemon`: runs this machine's nights and (on the machine the schedule names) the morning
 * report on schedule, in the foreground, logging one line per event to stdout (for journald). SIGTERM or
 * SIGINT stops it cleanly (exit 0), SIGHUP reloads the configuration. See src/daemon/daemon.ts.
 */
import { defaultExecutors } from '../build/executors.js';
import { loadSchedule, machineName, requireMachine, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { Daemon } from '../daemon/daemon.js';
import { nightProgress } from '../daemon/due.js';
import { daemonLog, LOG_FORMATS, type LogFormat } from '../daemon/log.js';
import { onHangup, stopOnSignals } from '../runner/signals.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { loadEstimates } from '../runner/estimates.js';
import { nightLayout } from '../night/layout.js';
import { runScheduledNight } from '../runner/scheduled-night.js';
import { readNightState } from '../night/state.js';

export interface DaemonOptions extends GlobalOptions {
  logFormat?: string;
}

export async function daemon(options: DaemonOptions, io: Io): Promise<number> {
  if (options.date) {
    throw new NightshiftError('the daemon runs each night at its time, by the clock: --date is for run, status and report (e.g. nightshift run --date 2026_11_22)', ExitCode.usage);
  }
  const format = (options.logFormat ?? 'text') as LogFormat;
  if (!LOG_FORMATS.includes(format)) throw new NightshiftError(`--log-format ${JSON.stringify(options.logFormat)}: use text or json`, ExitCode.usage);

  const machine = machineName(options);
  const instance = new Daemon({
    machine,
    load: async () => {
      const context = await loadSchedule(options);
      requireMachine(context.schedule, options);
      return context;
    },
    estimates: ({ schedule }, date, warn) => loadEstimates(schedule, date, { warn }),
    runNight: runScheduledNight,
    readProgress: async (root, date) => nightProgress(await readNightState(nightLayout(root, date).state)),
    report: async (_context, date, send, say) => {
      // The same delivery as `nightshift report --send`, from the configuration on disk (it is the same as
      // the daemon's unless someone edited it since the last reload). Loaded only when a report is due.
      const { config, schedule } = await loadSchedule(options);
      const { deliverReport } = await import('../report/deliver.js');
      await deliverReport({ config, schedule, date, machine, send, out: say, warn: say });
    },
    executors: defaultExecutors(),
    log: daemonLog(format, (line) => io.out(line)),
  });

  const stop = stopOnSignals((signal) => void instance.stop(signal));
  const offHangup = onHangup(() => void instance.reload());
  try {
    await instance.start();
    await instance.stopped;
    return ExitCode.ok;
  } finally {
    stop.dispose();
    offHangup();
  }
}
