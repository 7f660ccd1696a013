/**
 * Runs a build on the machine itself, in its own fresh copy of the recipes (work-copy.ts), contained so that nothing
 * it starts outlives it (host-containment.ts: a PID namespace where permitted, else a process group).
 */
import { writeSync } from 'node:fs';
import { mkdir, rm } from 'node:fs/promises';
import { execa, type Result } from 'execa';
import { hostEnvironment } from './build-env.js';
import { cacheStartError } from './cache.js';
import type { ExecuteOptions, ExecuteResult, Executor } from './executor.js';
import { findExecutable, forgetBuild, buildAlive, killBuild, killLeftovers, namespaceWrapper, pidFileOf, track, type Containment, type TrackedBuild } from './host-containment.js';
import { stopTrigger } from './stop-trigger.js';
import { copyRecipes } from './work-copy.js';

export interface HostExecutorOptions {
  /** How long a killed build has between SIGTERM and SIGKILL; default 5 s. */
  killGraceMs?: number;
  /**
   * 'auto': a PID namespace where this host permits one, else the process group, with a warning once.
   * Default: NIGHTSHIFT_HOST_CONTAINMENT=process-group turns namespaces off (builds that must see the host's processes), else 'auto'.
   */
  containment?: 'auto' | Containment;
  /** Where the once-only warning goes (default stderr). */
  warn?: (line: string) => void;
  /** Whether this host permits a PID namespace (default: probed once); tests force the fallback with it. */
  namespace?: typeof namespaceWrapper;
}

export class HostExecutor implements Executor {
  private readonly graceMs: number;
  private readonly containment: 'auto' | Containment;
  private readonly warn: (line: string) => void;
  private readonly namespace: typeof namespaceWrapper;
  private warned = false;

  constructor(options: HostExecutorOptions = {}) {
    this.graceMs = options.killGraceMs ?? 5000;
    this.containment = options.containment ?? (process.env.NIGHTSHIFT_HOST_CONTAINMENT === 'process-group' ? 'process-group' : 'auto');
    this.warn = options.warn ?? ((line) => void process.stderr.write(`nightshift: ${line}\n`));
    this.namespace = options.namespace ?? namespaceWrapper;
  }

  /** The wrapper argv for this build (empty for a process group), and a note when containment is weaker than asked. */
  private async wrapper(): Promise<{ containment: Containment; argv: string[]; note?: string }> {
    if (this.containment === 'process-group') return { containment: 'process-group', argv: [] };
    const found = await this.namespace();
    if ('wrapper' in found) return { containment: 'pid-namespace', argv: found.wrapper };
    const note = `host builds run in a process group only: ${found.why}; a child that leaves the group is found only by its environment (as root with util-linux unshare each build gets its own PID namespace)`;
    if (!this.warned) this.warn(note);
    this.warned = true;
    return { containment: 'process-group', argv: [], note };
  }

  async run(options: ExecuteOptions): Promise<ExecuteResult> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    if (options.signal.aborted) return { exitCode: null, timedOut: false, canceled: true, durationMs: 0 };
    const [file, ...args] = options.command;
    if (file === undefined) return { exitCode: null, timedOut: false, canceled: false, startError: 'empty command', durationMs: 0 };
    const pidFile = pidFileOf(options.workDir);
    // What an earlier runner of this build left is killed before its folders are touched.
    await killLeftovers(pidFile);
    try {
      await prepareWorkDir(options);
    } catch (error) {
      return {
        exitCode: null,
        timedOut: false,
        canceled: false,
        startError: `could not prepare the work folder ${options.workDir}: ${(error as Error).message}`,
        durationMs: elapsed(),
      };
    }
    const cacheError = await cacheStartError(options.cache);
    if (cacheError) return { exitCode: null, timedOut: false, canceled: false, startError: cacheError, durationMs: elapsed() };
    const env = hostBuildEnv(options);
    const executable = findExecutable(file, env.PATH, options.workDir);
    if (typeof executable !== 'string') return { exitCode: null, timedOut: false, canceled: false, startError: executable.error, durationMs: elapsed() };
    const wrap = await this.wrapper();
    if (wrap.note) writeSync(options.logFd, `nightshift: ${wrap.note}\n`);

    // execa's types list fds 1-9 only; any open fd works at run time (handed to the child as is).
    const log = options.logFd as unknown as 3;
    const argv = [...wrap.argv, executable, ...args];
    const child = execa(argv[0]!, argv.slice(1), {
      cwd: options.workDir,
      env,
      extendEnv: false,
      stdin: 'ignore',
      stdout: log,
      stderr: log,
      detached: true,
      reject: false,
    });
    const tracking: Promise<TrackedBuild> | undefined = child.pid === undefined ? undefined : track(wrap.containment, child.pid, pidFile, `NIGHTSHIFT_RECIPES=${options.workDir}`);
    const trigger = stopTrigger(options, () => tracking?.then((tracked) => killBuild(tracked, this.graceMs)));
    try {
      const result = await child;
      await trigger.settled();
      if (trigger.reason) return trigger.result(elapsed());
      return { ...outcome(file, result), timedOut: false, canceled: false, durationMs: elapsed() };
    } finally {
      trigger.dispose();
      // Like a container, the build's leftovers (background jobs) end with it.
      const tracked = await tracking?.catch(() => undefined);
      if (tracked && buildAlive(tracked)) await killBuild(tracked, this.graceMs);
      await forgetBuild(pidFile);
    }
  }
}

/** A host build's environment: this machine's (without secrets), the build's, and its folders. */
export function hostBuildEnv(options: Pick<ExecuteOptions, 'env' | 'workDir' | 'outDir' | 'cache'>): Record<string, string> {
  return {
    ...hostEnvironment(),
    ...options.env,
    NIGHTSHIFT_RECIPES: options.workDir,
    NIGHTSHIFT_OUT: options.outDir,
    // No container: the build finds its cache folder itself.
    ...(options.cache && { NIGHTSHIFT_CACHE: options.cache.hostDir }),
  };
}

/** A fresh copy each run, so parallel or repeated host builds never share a writable tree. */
async function prepareWorkDir(options: ExecuteOptions): Promise<void> {
  await rm(options.workDir, { recursive: true, force: true });
  await copyRecipes(options.recipesDir, options.workDir);
  await mkdir(options.outDir, { recursive: true });
}

/** The exit code of a build that ended by itself (null when a signal killed it), or why it never started. */
function outcome(file: string, result: Result): Pick<ExecuteResult, 'exitCode' | 'startError'> {
  if (result.exitCode !== undefined || result.signal !== undefined) return { exitCode: result.exitCode ?? null };
  if (result.code === 'ENOENT') return { exitCode: null, startError: `command not found: ${file}` };
  if (result.code === 'EACCES') return { exitCode: null, startError: `command not executable: ${file}` };
  return { exitCode: null, startError: `could not start ${file}: ${result.shortMessage ?? result.code ?? 'unknown error'}` };
}
