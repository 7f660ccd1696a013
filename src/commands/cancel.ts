/**
 * `nightshift cancel [ID|GLOB...]`: stop a night's run, or only some of its builds, without looking up a pid.
 * The night's runner is the holder of its lock. Without ids, a `run` or `build` gets SIGTERM and stops as on
 * Ctrl-C; a daemon is asked (cancel-requests.ts) to cancel every build instead, so the daemon itself lives
 * on. With ids, only those builds are canceled, through a request the runner watches; the others go on.
 * Either way the command waits (bounded) until what it canceled has ended, and prints each.
 */
import os from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { loadSchedule, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { errnoCode, ExitCode, NightshiftError } from '../errors.js';
import { isFinished, nightToRead, pickBuilds, readNight } from '../night/read-night.js';
import { readNightLock, type LockStatus } from '../night/lock.js';
import { listCancelRequests, writeCancelRequest } from '../night/cancel-requests.js';
import { readNightState, type BuildRecord } from '../night/state.js';
import type { NightLayout } from '../night/layout.js';
import { formatDuration } from '../units.js';

/** How long cancel waits for what it canceled to end: a build's kill takes at most its grace (5 s) and Docker's removal. */
const WAIT_S = 60;

/** Lock purposes whose holder runs builds; an upload or prune holds the lock without running any. */
const RUNNERS = new Set(['run', 'build', 'daemon']);

export interface CancelOptions extends GlobalOptions {
  /** How often the night is looked at while waiting (default 250 ms). */
  pollMs?: number;
}

export async function cancel(options: CancelOptions, ids: string[], io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  const date = await nightToRead(schedule.root, schedule.timezone, options.date);
  const { layout, state } = await readNight(schedule.root, date);
  // Names are checked first: a typo is told with the id meant, whether or not the night runs.
  const named = ids.length ? pickBuilds(state, ids) : undefined;
  const runner = await liveRunner(layout);
  const wait = { layout, runner, io, pollMs: options.pollMs ?? 250, queue: schedule.queue !== undefined };
  if (!named && runner.purpose !== 'daemon') return stopRunner(wait, state.builds);
  if (!named) io.out(`night ${date} is run by the daemon (pid ${runner.pid}): asking it to cancel every build of the night, so that the daemon itself goes on`);
  return cancelBuilds(wait, named ?? state.builds, ids.length > 0);
}

interface Waiting {
  layout: NightLayout;
  runner: LockStatus;
  io: Io;
  pollMs: number;
  /** The night's builds come from the shared queue: a build waiting there is not this machine's to cancel. */
  queue: boolean;
}

/** The live holder of the night's lock that runs builds, or the reason there is nothing to cancel. */
async function liveRunner(layout: NightLayout): Promise<LockStatus> {
  const night = layout.date;
  const lock = await readNightLock(layout.lock);
  if (!lock) {
    throw new NightshiftError(
      `no run of night ${night} is going on (nobody holds ${layout.lock}): nothing to cancel; nightshift status --date ${night} shows its builds`,
      ExitCode.nothingSelected,
    );
  }
  if (lock.host !== os.hostname()) {
    throw new NightshiftError(
      `night ${night} is run by pid ${lock.pid} on host ${lock.host} (${lock.purpose}), not on this host: cancel it there (nightshift cancel on ${lock.host})`,
      ExitCode.usage,
    );
  }
  if (!lock.alive) {
    throw new NightshiftError(
      `the runner of night ${night} (pid ${lock.pid}, ${lock.purpose}) is gone: nothing runs to cancel; nightshift run resumes the night`,
      ExitCode.nothingSelected,
    );
  }
  if (!RUNNERS.has(lock.purpose)) {
    throw new NightshiftError(`pid ${lock.pid} holds night ${night} for ${lock.purpose}, which runs no builds: nothing to cancel`, ExitCode.nothingSelected);
  }
  return lock;
}

/** The whole night of a `run` or `build`: SIGTERM, as Ctrl-C would; running builds end canceled, the others stay pending. */
async function stopRunner(wait: Waiting, builds: readonly BuildRecord[]): Promise<number> {
  const { layout, runner, io } = wait;
  const running = builds.filter((b) => b.status === 'running').map((b) => b.id);
  try {
    process.kill(runner.pid, 'SIGTERM');
  } catch (error) {
    if (errnoCode(error) === 'EPERM') {
      throw new NightshiftError(
        `pid ${runner.pid} (the ${runner.purpose} of night ${layout.date}) belongs to another user: run nightshift cancel as that user or as root`,
        ExitCode.usage,
      );
    }
    // ESRCH: it ended meanwhile; what it left is read below.
  }
  const what = running.length ? `its running build(s) to end: ${running.join(', ')}` : 'it to stop (no build was running)';
  io.out(`sent SIGTERM to the ${runner.purpose} of night ${layout.date} (pid ${runner.pid}); waiting for ${what}`);
  const deadline = Date.now() + WAIT_S * 1000;
  while (await holds(layout, runner)) {
    if (Date.now() >= deadline) {
      throw new NightshiftError(
        `pid ${runner.pid} still holds ${layout.lock} ${WAIT_S}s after SIGTERM; nightshift status --date ${layout.date} shows its builds (kill -KILL ${runner.pid} if it is stuck; the next run cleans up after it)`,
        ExitCode.waitTimedOut,
      );
    }
    await sleep(wait.pollMs);
  }
  const after = (await readNightState(layout.state))?.builds ?? [];
  for (const id of running) {
    const build = after.find((b) => b.id === id);
    if (build) io.out(ended(build));
  }
  const pending = after.filter((b) => b.status === 'pending').length;
  const canceled = running.filter((id) => after.find((b) => b.id === id)?.status === 'canceled').length;
  io.out(`night ${layout.date} stopped: ${canceled} build(s) canceled${pending ? `, ${pending} not started stay pending (nightshift run goes on with them)` : ''}`);
  return ExitCode.ok;
}

/** Only the builds named: a request each, then wait until each has ended or the runner says it does not run it. */
async function cancelBuilds(wait: Waiting, builds: readonly BuildRecord[], named: boolean): Promise<number> {
  const { layout, runner, io } = wait;
  for (const build of builds.filter(isFinished)) if (named) io.out(`already ended: ${build.status} ${build.id}`);
  const ids = builds.filter((b) => !isFinished(b)).map((b) => b.id);
  if (ids.length === 0) {
    io.out(`nothing to cancel in night ${layout.date}: ${named ? 'the builds named have' : 'every build has'} already ended`);
    return ExitCode.ok;
  }
  for (const id of ids) await writeCancelRequest(layout, id);
  io.out(`asked the ${runner.purpose} of night ${layout.date} (pid ${runner.pid}) to cancel ${ids.length} build(s); waiting for them to end: ${ids.join(', ')}`);

  const left = new Set(ids);
  const notCanceled: { id: string; status: string; why: string }[] = [];
  const deadline = Date.now() + WAIT_S * 1000;
  for (;;) {
    // Requests first: the runner records a build's end before it removes its request, so a request gone and a
    // build not ended in the state read after it means the run does not run that build.
    const requested = new Set(await listCancelRequests(layout));
    const runnerGone = !(await holds(layout, runner));
    const state = await readNightState(layout.state);
    for (const id of [...left]) {
      const build = state?.builds.find((b) => b.id === id);
      if (build && isFinished(build)) io.out(ended(build));
      else if (runnerGone) notCanceled.push({ id, status: build?.status ?? 'pending', why: `the run of pid ${runner.pid} ended before it got to it` });
      else if (!requested.has(id)) notCanceled.push({ id, status: build?.status ?? 'pending', why: `the run of pid ${runner.pid} does not run it` });
      else continue;
      left.delete(id);
    }
    if (left.size === 0) break;
    if (Date.now() >= deadline) {
      io.err(`nightshift: still waiting for ${[...left].join(', ')} to end ${WAIT_S}s after asking; their requests stay until the run handles them (nightshift wait follows them)`);
      return ExitCode.waitTimedOut;
    }
    await sleep(wait.pollMs);
  }
  if (notCanceled.length === 0) return ExitCode.ok;
  const queue = wait.queue ? ' (a build waiting in the shared queue cannot be canceled; one running on another machine is canceled there)' : '';
  for (const build of notCanceled) io.out(`not canceled: ${build.id} stays ${build.status}: ${build.why}${queue}`);
  return ExitCode.nothingSelected;
}

/** True while the runner found at the start still holds the night's lock. */
async function holds(layout: NightLayout, runner: LockStatus): Promise<boolean> {
  const now = await readNightLock(layout.lock);
  return now !== undefined && now.alive && now.pid === runner.pid && now.started_at === runner.started_at;
}

function ended(build: BuildRecord): string {
  const took = build.duration_s === undefined ? '' : ` after ${formatDuration(build.duration_s)}`;
  return `${build.status} ${build.id}${took}${build.reason ? ` (${build.reason})` : ''}`;
}
