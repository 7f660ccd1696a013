/** `nightshift run`: this machine's whole night, unattended. A second run of the same night resumes it. */
import { defaultExecutors } from '../build/executors.js';
import { progress } from '../build/progress.js';
import { loadSchedule, requireMachine, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { stopOnSignals } from '../daemon/signals.js';
import { ExitCode, NightshiftError } from '../errors.js';
import type { Schedule } from '../config/model.js';
import { nightLayout } from '../night/layout.js';
import { resolveNightDate } from '../night/night-date.js';
import { loadEstimates, orderSeconds, type NightEstimates } from '../night/estimates.js';
import { longestExpectedFirst } from '../night/run-night.js';
import { machineBuilds, runScheduledNight } from '../night/scheduled-night.js';
import { readNightState } from '../night/state.js';
import { table } from '../output/table.js';
import { formatDuration } from '../units.js';
import { reportOutcome } from './night-summary.js';

export interface RunOptions extends GlobalOptions {
  only?: string[];
  skip?: string[];
  force?: boolean;
  dryRun?: boolean;
  refreshRecipes?: boolean;
}

export async function run(options: RunOptions, io: Io): Promise<number> {
  const { config, schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  const machine = requireMachine(schedule, options);
  const warn = (line: string) => io.err(`nightshift: ${line}`);
  const estimates = await loadEstimates(schedule, date, { warn });
  const mine = machineBuilds(config, schedule, machine, options, estimates);
  if (mine.builds.length === 0) {
    throw new NightshiftError(`nothing to build on ${machine}${options.only || options.skip ? ' with these --only/--skip selectors' : ''}; see nightshift plan --all-machines`, ExitCode.nothingSelected);
  }
  if (options.dryRun) return dryRun(schedule, date, machine, mine, estimates, options, io);

  const stop = stopOnSignals((signal) => io.err(`nightshift: ${signal}: stopping; running builds are killed and marked canceled`));
  const reporter = progress(io, mine.builds.length);
  try {
    const { night } = await runScheduledNight(
      { config, schedule, date, machine, only: options.only, skip: options.skip, force: options.force, refreshRecipes: options.refreshRecipes, purpose: 'run', estimates },
      {
        executors: defaultExecutors(),
        signal: stop.signal,
        onEvent: (event) => reporter.onEvent(event),
        say: (line) => io.out(line),
        warn,
      },
    );
    reporter.stop();
    return reportOutcome(night, io, stop.signal.aborted);
  } finally {
    reporter.stop();
    stop.dispose();
  }
}

/** What would run, in order, and what would be kept; writes nothing. */
async function dryRun(schedule: Schedule, date: string, machine: string, mine: ReturnType<typeof machineBuilds>, estimates: NightEstimates, options: RunOptions, io: Io): Promise<number> {
  const layout = nightLayout(schedule.root, date);
  const state = await readNightState(layout.state);
  const done = new Set(state?.builds.filter((b) => b.status === 'succeeded').map((b) => b.id));
  const action = (id: string) => (done.has(id) && !options.force ? 'keep (succeeded)' : 'build');
  io.out(`dry run: night ${date} on ${machine}, ${mine.machine.slots} slot(s), folder ${layout.dir}`);
  const estimate = orderSeconds(estimates);
  const ordered = longestExpectedFirst(mine.builds.map((b) => b.cell), estimate);
  const rows = ordered.map((cell, i) => [String(i + 1), cell.id, action(cell.id), formatDuration(estimate(cell))]);
  io.out(table([['#', 'build', 'action', 'expected'], ...rows], { alignRight: [3] }).join('\n'));
  return ExitCode.ok;
}
