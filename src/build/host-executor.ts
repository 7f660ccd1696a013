/**
 * Runs a build on the machine itself, in its own fresh copy of the recipes, as the leader of a new
 * process group: on timeout or cancel the whole group is killed, grandchildren included.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { cp, mkdir, rm } from 'node:fs/promises';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type Result } from 'execa';
import { hostEnvironment } from './build-env.js';
import { cacheStartError } from './cache.js';
import type { ExecuteOptions, ExecuteResult, Executor } from './executor.js';
import { stopTrigger } from './stop-trigger.js';

export interface HostExecutorOptions {
  /** How long a killed build has between SIGTERM and SIGKILL; default 5 s. */
  killGraceMs?: number;
}


export class HostExecutor implements Executor {
  private readonly graceMs: number;

  constructor(options: HostExecutorOptions = {}) {
    this.graceMs = options.killGraceMs ?? 5000;
  }

  async run(options: ExecuteOptions): Promise<ExecuteResult> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    if (options.signal.aborted) return { exitCode: null, timedOut: false, canceled: true, durationMs: 0 };
    const [file, ...args] = options.command;
    if (file === undefined) return { exitCode: null, timedOut: false, canceled: false, startError: 'empty command', durationMs: 0 };
    try {
      await prepareWorkDir(options);
    } catch (error) {
      return { exitCode: null, timedOut: false, canceled: false, startError: `could not prepare the work folder ${options.workDir}: ${(error as Error).message}`, durationMs: elapsed() };
    }
    const cacheError = await cacheStartError(options.cache);
    if (cacheError) return { exitCode: null, timedOut: false, canceled: false, startError: cacheError, durationMs: elapsed() };

    // execa's types list fds 1-9 only; any open fd works at run time (handed to the child as is).
    const log = options.logFd as unknown as 3;
    const child = execa(file, args, {
      cwd: options.workDir,
      env: {
        ...hostEnvironment(),
        ...options.env,
        NIGHTSHIFT_RECIPES: options.workDir,
        NIGHTSHIFT_OUT: options.outDir,
        // No container: the build finds its cache folder itself.
        ...(options.cache && { NIGHTSHIFT_CACHE: options.cache.hostDir }),
      },
      extendEnv: false,
      stdin: 'ignore',
      stdout: log,
      stderr: log,
      detached: true,
      reject: false,
    });
    const trigger = stopTrigger(options, () => (child.pid === undefined ? undefined : killGroup(child.pid, this.graceMs)));
    try {
      const result = await child;
      await trigger.settled();
      if (trigger.reason) return trigger.result(elapsed());
      return { ...outcome(file, result), timedOut: false, canceled: false, durationMs: elapsed() };
    } finally {
      trigger.dispose();
      // Like a container, the build's leftovers (background jobs) end with it.
      if (child.pid !== undefined && groupAlive(child.pid)) await killGroup(child.pid, this.graceMs);
    }
  }
}

/** A fresh copy each run, so parallel or repeated host builds never share a writable tree. */
async function prepareWorkDir(options: ExecuteOptions): Promise<void> {
  await rm(options.workDir, { recursive: true, force: true });
  // verbatimSymlinks: a relative link must stay relative, not point back into the shared clone.
  await cp(options.recipesDir, options.workDir, { recursive: true, verbatimSymlinks: true });
  await mkdir(options.outDir, { recursive: true });
}

/** The exit code of a build that ended by itself (null when a signal killed it), or why it never started. */
function outcome(file: string, result: Result): Pick<ExecuteResult, 'exitCode' | 'startError'> {
  if (result.exitCode !== undefined || result.signal !== undefined) return { exitCode: result.exitCode ?? null };
  if (result.code === 'ENOENT') return { exitCode: null, startError: `command not found: ${file}` };
  if (result.code === 'EACCES') return { exitCode: null, startError: `command not executable: ${file}` };
  return { exitCode: null, startError: `could not start ${file}: ${result.shortMessage ?? result.code ?? 'unknown error'}` };
}

/** SIGTERM to the group, then SIGKILL to whatever is still there after the grace period. */
async function killGroup(pgid: number, graceMs: number): Promise<void> {
  signalGroup(pgid, 'SIGTERM');
  const deadline = Date.now() + graceMs;
  while (groupAlive(pgid) && Date.now() < deadline) await delay(50);
  if (groupAlive(pgid)) signalGroup(pgid, 'SIGKILL');
}

function signalGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // ESRCH: the group is gone already.
  }
}

/**
 * Whether any process of the group still runs. On Linux zombies do not count: where PID 1 does not
 * reap orphans (some containers), a killed grandchild stays a zombie for good.
 */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
  } catch {
    return false;
  }
  return process.platform === 'linux' ? liveMembersOnLinux(pgid) : true;
}

function liveMembersOnLinux(pgid: number): boolean {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses.
    const [state, , pgrp] = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (Number(pgrp) === pgid && state !== 'Z') return true;
  }
  return false;
}
