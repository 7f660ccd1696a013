/** `nightshift log ID`: print a build's log wherever it is; `--follow` tails it until the build ends. */
import { loadSchedule, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { copyFrom, earlierAttemptLogs, followLog, openBuildLog } from '../night/follow-log.js';
import { resolveNightDate } from '../night/night-date.js';
import { isFinished, pickBuilds, readNight, runnerGone } from '../night/read-night.js';
import { readNightState } from '../night/state.js';

export interface LogOptions extends GlobalOptions {
  follow?: boolean;
}

export async function log(options: LogOptions, [id]: string[], io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  const { layout, state } = await readNight(schedule.root, date);
  pickBuilds(state, [id!]);
  const write = (chunk: Uint8Array) => io.write(chunk);

  if (!options.follow) {
    const handle = await openBuildLog(layout, id!);
    if (!handle) {
      const earlier = await earlierAttemptLogs(layout, id!);
      const hint = earlier.length ? `; earlier attempts' logs: ${earlier.join(', ')}` : '';
      throw new NightshiftError(`${id!} has no log yet: it is ${state.builds.find((b) => b.id === id)!.status}${hint}`, ExitCode.nothingSelected);
    }
    try {
      await copyFrom(handle, 0, write);
    } finally {
      await handle.close();
    }
    return ExitCode.ok;
  }

  // Set by `ended` while the log is followed.
  const runner = { gone: false };
  await followLog({
    layout,
    id: id!,
    write,
    ended: async () => {
      const build = (await readNightState(layout.state))?.builds.find((b) => b.id === id);
      if (!build || isFinished(build)) return true;
      runner.gone = await runnerGone(layout, [build]);
      return runner.gone;
    },
  });
  const build = (await readNightState(layout.state))!.builds.find((b) => b.id === id)!;
  if (runner.gone) {
    io.err(`nightshift: the runner of night ${date} stopped while ${id!} was ${build.status}; nightshift run resumes the night`);
    return ExitCode.buildsFailed;
  }
  return build.status === 'succeeded' ? ExitCode.ok : ExitCode.buildsFailed;
}
