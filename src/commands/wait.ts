/** `nightshift wait [ID...]`: block until those builds (default: all of the night) have ended. */
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSchedule, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { humanOutput, printJson } from '../output/json.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { isFinished, nightToRead, pickBuilds, readNight, runnerGone } from '../night/read-night.js';
import type { BuildRecord } from '../night/state.js';
import { formatDuration, parseDuration } from '../units.js';
import { buildJson } from './json-shapes.js';

const NIGHT_APPEAR_MS = 30_000;

export interface WaitOptions extends GlobalOptions {
  timeout?: string;
  pollMs?: number;
  json?: boolean;
}

/** How the waiting ended, in `wait --json`: every build ended, its runner is gone, or --timeout ran out. */
type WaitEnd = 'finished' | 'runner_gone' | 'timeout';

export async function wait(options: WaitOptions, ids: string[], io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  const date = await nightToRead(schedule.root, schedule.timezone, options.date);
  const timeoutS = options.timeout === undefined ? Infinity : parseDuration(options.timeout);
  if (timeoutS === undefined) throw new NightshiftError(`--timeout ${JSON.stringify(options.timeout)} is not a duration like 90m or 4h`, ExitCode.usage);
  const deadline = Date.now() + timeoutS * 1000;
  const reported = new Set<string>();
  // With --json the lines as builds end go to stderr; stdout gets one object at the end.
  const human = humanOutput(io, options.json);
  const answer = (code: number, ended: WaitEnd, night: { dir: string }, state: { date: string; machine: string }, builds: BuildRecord[]) => {
    if (options.json) printJson(io, { date: state.date, machine: state.machine, ended, builds: builds.map((b) => buildJson(b, night.dir)) });
    return code;
  };

  // `nightshift run & nightshift wait`: give the run a moment to create the night before giving up on it.
  const appearBy = Math.min(deadline, Date.now() + NIGHT_APPEAR_MS);
  for (;;) {
    const night = await readNight(schedule.root, date).catch((error: unknown) => {
      if (Date.now() >= appearBy || !(error instanceof NightshiftError)) throw error;
      return undefined;
    });
    if (!night) {
      await sleep(options.pollMs ?? 500);
      continue;
    }
    const { layout, state } = night;
    const builds = pickBuilds(state, ids);
    for (const build of builds.filter((b) => isFinished(b) && !reported.has(b.id))) {
      reported.add(build.id);
      const took = build.duration_s === undefined ? '' : ` after ${formatDuration(build.duration_s)}`;
      human.out(`${build.status} ${build.id}${took}${build.reason ? ` (${build.reason})` : ''}`);
    }
    if (builds.every(isFinished)) return answer(endedCode(builds), 'finished', layout, state, builds);
    if (await runnerGone(layout, builds)) {
      io.err(`nightshift: the runner of night ${date} is gone with ${builds.filter((b) => !isFinished(b)).length} build(s) unfinished; nightshift run resumes the night`);
      return answer(ExitCode.buildsFailed, 'runner_gone', layout, state, builds);
    }
    if (Date.now() >= deadline) {
      io.err(
        `nightshift: still waiting for ${builds
          .filter((b) => !isFinished(b))
          .map((b) => b.id)
          .join(', ')} after ${options.timeout!}`,
      );
      return answer(ExitCode.waitTimedOut, 'timeout', layout, state, builds);
    }
    await sleep(options.pollMs ?? 500);
  }
}

/** The exit code once every build waited for has ended. */
function endedCode(builds: readonly BuildRecord[]): number {
  if (builds.every((b) => b.status === 'succeeded' || b.status === 'skipped')) return ExitCode.ok;
  // Not run: the machine (its Docker engine), not the builds, failed, like `run` says.
  if (builds.some((b) => b.status === 'not_run')) return ExitCode.serviceUnavailable;
  const failed = builds.some((b) => b.status !== 'succeeded' && b.status !== 'skipped' && b.status !== 'canceled');
  return failed ? ExitCode.buildsFailed : ExitCode.canceled;
}
