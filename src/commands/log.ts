/** `nightshift log ID|GLOB`: print a build's log wherever it is (a glob: each matching build's); `--follow` tails one until it ends. */
import { loadSchedule, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { open } from 'node:fs/promises';
import { attemptLogs, copyFrom, earlierAttemptLogs, followLog, openBuildLog } from '../night/follow-log.js';
import { isFinished, nightToRead, pickBuilds, readNight, runnerGone } from '../night/read-night.js';
import { readNightState, type BuildRecord } from '../night/state.js';
import type { NightLayout } from '../night/layout.js';

export interface LogOptions extends GlobalOptions {
  follow?: boolean;
  /** An earlier attempt's log (kept as <id>.attempt-<N>.log when the build started again), by its number. */
  attempt?: string;
}

export async function log(options: LogOptions, [name]: string[], io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  const date = await nightToRead(schedule.root, schedule.timezone, options.date);
  const { layout, state } = await readNight(schedule.root, date);
  const builds = pickBuilds(state, [name!]);
  const write = (chunk: Uint8Array) => io.write(chunk);

  if (options.attempt !== undefined) return printAttempt(layout, builds, name!, options, write);
  if (!options.follow) {
    // One build: its log as it is. A glob: each matching build's log under a header, as `tail` does with several files.
    for (const [index, build] of builds.entries()) {
      if (builds.length > 1) await write(Buffer.from(`${index ? '\n' : ''}==> ${build.id} (${build.status}) <==\n`));
      const handle = await openBuildLog(layout, build.id);
      if (!handle) {
        if (builds.length > 1) continue;
        const earlier = await earlierAttemptLogs(layout, build.id);
        const hint = earlier.length ? `; earlier attempts' logs: ${earlier.join(', ')}` : '';
        throw new NightshiftError(`${build.id} has no log yet: it is ${build.status}${hint}`, ExitCode.nothingSelected);
      }
      try {
        await copyFrom(handle, 0, write);
      } finally {
        await handle.close();
      }
      // For a person: where the earlier attempts are (stdout stays the log alone).
      const earlier = io.isTTY && builds.length === 1 ? await attemptLogs(layout, build.id) : [];
      if (earlier.length) io.err(`nightshift: earlier attempts of ${build.id}: ${earlier.map((a) => a.attempt).join(', ')} (nightshift log ${build.id} --attempt N)`);
    }
    return ExitCode.ok;
  }

  if (builds.length > 1) {
    const shown = builds.slice(0, 5).map((b) => b.id);
    throw new NightshiftError(
      `--follow follows one build, and ${name!} matches ${builds.length}: ${shown.join(', ')}${builds.length > shown.length ? ', ...' : ''}; name one of them`,
      ExitCode.usage,
    );
  }
  const id = builds[0]!.id;
  // Set by `ended` while the log is followed.
  const runner = { gone: false };
  await followLog({
    layout,
    id,
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
    io.err(`nightshift: the runner of night ${date} stopped while ${id} was ${build.status}; nightshift run resumes the night`);
    return ExitCode.buildsFailed;
  }
  return build.status === 'succeeded' ? ExitCode.ok : ExitCode.buildsFailed;
}

/** `log ID --attempt N`: the log an earlier attempt of one build left. */
async function printAttempt(layout: NightLayout, builds: readonly BuildRecord[], name: string, options: LogOptions, write: (chunk: Uint8Array) => Promise<void>): Promise<number> {
  const attempt = Number(options.attempt);
  if (!/^[1-9]\d*$/.test(options.attempt!)) throw new NightshiftError(`--attempt ${options.attempt!}: give an attempt's number, 1 for the first`, ExitCode.usage);
  if (options.follow) throw new NightshiftError('--attempt prints an earlier attempt, which has ended; --follow follows the latest: give one of them', ExitCode.usage);
  if (builds.length > 1) throw new NightshiftError(`--attempt reads one build's logs, and ${name} matches ${builds.length}; name one of them`, ExitCode.usage);
  const id = builds[0]!.id;
  const logs = await attemptLogs(layout, id);
  const found = logs.find((a) => a.attempt === attempt);
  if (!found) {
    const kept = logs.length ? `its earlier attempts' logs are ${logs.map((a) => a.attempt).join(', ')}` : 'it has no earlier attempt';
    throw new NightshiftError(`${id} has no log of attempt ${attempt}: ${kept}; the latest is nightshift log ${id}`, ExitCode.nothingSelected);
  }
  const handle = await open(found.file, 'r');
  try {
    await copyFrom(handle, 0, write);
  } finally {
    await handle.close();
  }
  return ExitCode.ok;
}
