/**
 * Runs a build in a container: `docker run --rm --init` in the foreground, its output straight into
 * the build log. Killing the docker client does NOT stop a container, so timeouts, cancels and every
 * ending but the container's own exit (after which --rm has removed it) go through `docker rm -f <name>`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type Result, type ResultPromise } from 'execa';
import type { ExecuteOptions, ExecuteResult, Executor } from './executor.js';
import { stopTrigger } from './stop-trigger.js';
import { cacheStartError } from './cache.js';
import { CONTAINER_OUT as OUT, CONTAINER_RECIPES as RECIPES } from './container-paths.js';

export interface DockerExecutorOptions {
  /** The docker client binary; default `docker`. */
  docker?: string;
}

/** `nightshift-<date>-<id>-<nonce>`, with characters Docker refuses in names replaced by '-'. */
export function containerName(date: string, id: string, nonce: string): string {
  return `nightshift-${date}-${id}-${nonce}`.replace(/[^A-Za-z0-9_.-]/g, '-');
}

/** The container's environment: the build's plus the paths (recipes, out, cache) as seen inside. */
export function containerEnv(options: Pick<ExecuteOptions, 'env' | 'cache'>): Record<string, string> {
  return {
    ...options.env,
    NIGHTSHIFT_RECIPES: RECIPES,
    NIGHTSHIFT_OUT: OUT,
    ...(options.cache?.path !== undefined && { NIGHTSHIFT_CACHE: options.cache.path }),
  };
}

/** `--mount` options for the cache: read-write bind, so what one night writes the next one finds. */
export function cacheMountArgs(cache: ExecuteOptions['cache']): string[] {
  if (cache === undefined) return [];
  if (cache.path === undefined) throw new Error(`a docker build's cache needs a path inside the container (cache ${cache.hostDir})`);
  // --mount is read as CSV: a field holding "," or '"' is quoted, its quotes doubled.
  const field = (text: string) => (/[",]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text);
  return ['--mount', ['type=bind', field(`src=${cache.hostDir}`), field(`dst=${cache.path}`)].join(',')];
}

/**
 * The `--env-file` text: one `NAME=value` per line. Values reach the container through this private
 * file — not argv, which any user can read in `ps`, and not the docker client's own environment, where a
 * build's PATH, HOME or DOCKER_HOST would change which daemon and helpers the client itself uses.
 */
export function envFileText(env: Readonly<Record<string, string>>): string {
  return Object.entries(env)
    .map(([key, value]) => {
      if (/[\r\n]/.test(value)) throw new Error(`environment variable ${key} holds a line break, which Docker's env file cannot carry`);
      return `${key}=${value}\n`;
    })
    .join('');
}

/** The `docker run` argv; the environment comes from `envFile` (see envFileText). */
export function dockerRunArgs(options: ExecuteOptions, name: string, envFile: string): string[] {
  if (!options.image) throw new Error(`${options.id}: a docker build needs an image`);
  const { gpus, memory, memoryBytes, cpus } = options.resources;
  return [
    'run', '--rm', '--init', '--name', name,
    // Output already goes to the build log through the client. Docker's default json-file driver
    // would keep a second copy under /var/lib/docker and caps line-heavy output at a few MB/s.
    '--log-driver', 'none',
    '--label', `nightshift.night=${options.date}`,
    '--label', `nightshift.build=${options.id}`,
    '--label', `nightshift.machine=${options.machine}`,
    '--label', `nightshift.root=${options.root}`,
    '-v', `${options.recipesDir}:${RECIPES}:ro`,
    '-v', `${options.outDir}:${OUT}`,
    ...cacheMountArgs(options.cache),
    '--env-file', envFile,
    ...(gpus !== undefined && gpus !== 0 ? ['--gpus', String(gpus)] : []),
    // Bytes as nightshift parsed them (binary units, like Docker's own) rather than the text again.
    ...(memoryBytes !== undefined ? ['--memory', String(memoryBytes)] : memory !== undefined ? ['--memory', memory] : []),
    ...(cpus !== undefined ? ['--cpus', String(cpus)] : []),
    ...(options.network !== undefined ? ['--network', options.network] : []),
    options.image,
    ...options.command,
  ];
}

export class DockerExecutor implements Executor {
  private readonly docker: string;

  constructor(options: DockerExecutorOptions = {}) {
    this.docker = options.docker ?? 'docker';
  }

  async run(options: ExecuteOptions): Promise<ExecuteResult> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    if (options.signal.aborted) return { exitCode: null, timedOut: false, canceled: true, durationMs: 0 };

    const name = containerName(options.date, options.id, randomBytes(4).toString('hex'));
    // Docker would create a missing bind source itself, owned by root.
    await mkdir(options.outDir, { recursive: true });
    const cacheError = await cacheStartError(options.cache);
    if (cacheError) return { exitCode: null, timedOut: false, canceled: false, startError: cacheError, durationMs: elapsed() };
    const envDir = await mkdtemp(path.join(os.tmpdir(), 'nightshift-env-'));
    const envFile = path.join(envDir, 'build.env');
    await writeFile(envFile, envFileText(containerEnv(options)), { mode: 0o600 });
    const args = dockerRunArgs(options, name, envFile);
    const logStart = fstatSync(options.logFd).size;

    // execa's types list fds 1-9 only; any open fd works at run time (handed to the child as is).
    const log = options.logFd as unknown as 3;
    const client = execa(this.docker, args, {
      stdin: 'ignore',
      stdout: log,
      stderr: log,
      reject: false,
    });
    const trigger = stopTrigger(options, () => this.stopContainer(name, client));
    let removed = false;
    try {
      const result = await client;
      await trigger.settled();
      if (trigger.reason) return trigger.result(elapsed());
      // With --rm the client returns the container's own exit code only once the daemon has removed
      // it; 125-127 may be docker's own failures, after which nothing is assumed.
      removed = result.exitCode !== undefined && (result.exitCode < 125 || result.exitCode > 127);
      return { ...this.outcome(result, options, logStart), timedOut: false, canceled: false, durationMs: elapsed() };
    } finally {
      trigger.dispose();
      // Whatever else happened to the client, the container must not outlive the build.
      if (!removed) await removeContainer(this.docker, name);
      await rm(envDir, { recursive: true, force: true });
    }
  }

  /** The exit code of a build that ended by itself, or why docker could not start it. */
  private outcome(result: Result, options: ExecuteOptions, logStart: number): Pick<ExecuteResult, 'exitCode' | 'startError'> {
    if (result.exitCode === undefined && result.signal === undefined) {
      // The client itself could not be started (e.g. docker not installed).
      const why = result.code === 'ENOENT' ? `${this.docker} not found; install Docker or fix PATH` : result.shortMessage;
      return { exitCode: null, startError: `docker could not be run: ${why}` };
    }
    // Killed by someone else: no exit code; run() still removes the container.
    if (result.exitCode === undefined) return { exitCode: null };
    const startError = dockerStartError(result.exitCode, options.image!, readLogTail(options.logFd, logStart));
    return startError ? { exitCode: null, startError } : { exitCode: result.exitCode };
  }

  /**
   * `docker rm -f` until the client returns: the container may not exist yet when the timer fires
   * (image still pulling, container being created). A client that still hangs on is killed at last;
   * the `finally` of run() then removes whatever it left.
   */
  private async stopContainer(name: string, client: ResultPromise): Promise<void> {
    let finished = false;
    void client.finally(() => (finished = true));
    for (let attempt = 0; !finished; attempt++) {
      await removeContainer(this.docker, name);
      await Promise.race([client, delay(attempt < 5 ? 200 : 1000)]);
      if (attempt === 30 && !finished) client.kill('SIGKILL');
    }
  }
}

/** Force-removes one container; a container that is already gone is fine. */
async function removeContainer(docker: string, name: string): Promise<void> {
  await execa(docker, ['rm', '-f', name], { reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
}

// Docker prints its own failures as "docker: ..." and exits 125 (126/127 when the runtime cannot
// exec the command); with --init, tini reports a command it cannot exec as "[FATAL tini (N)] exec ...".
const DOCKER_LINE = /^(docker: .*|\[FATAL tini \(\d+\)\] exec .*)$/m;

/**
 * Why docker could not start the build, or undefined when the command itself ran. A build can exit
 * 125-127 on its own: only docker's or tini's own message, or an unreadable log on 125, says otherwise.
 */
export function dockerStartError(exitCode: number, image: string, logTail: string | undefined): string | undefined {
  if (exitCode < 125 || exitCode > 127) return undefined;
  const lines = logTail?.split('\n').filter((line) => DOCKER_LINE.test(line)) ?? [];
  const message = lines.at(-1)?.trim();
  if (message?.startsWith('[FATAL tini')) return `the command could not be run in image ${image}: ${message}`;
  if (message && logTail?.includes('Unable to find image')) {
    return `image ${image} is not on this machine and could not be pulled: ${message.replace(/^docker: /, '')}`;
  }
  if (message) return `docker could not start image ${image}: ${message.replace(/^docker: /, '')}`;
  if (exitCode === 125 && logTail === undefined) return `docker could not start image ${image} (exit 125); see the build log`;
  return undefined;
}

const TAIL_BYTES = 16 * 1024;

/**
 * The last bytes written to the log since `from`. The log may be open write-only, so on Linux it is
 * reopened through /proc; undefined when it cannot be read at all.
 */
function readLogTail(fd: number, from: number): string | undefined {
  const size = fstatSync(fd).size;
  const start = Math.max(from, size - TAIL_BYTES);
  if (size <= start) return '';
  const buffer = Buffer.alloc(size - start);
  try {
    return buffer.toString('utf8', 0, readSync(fd, buffer, 0, buffer.length, start));
  } catch {
    try {
      const copy = openSync(`/proc/self/fd/${fd}`, 'r');
      try {
        return buffer.toString('utf8', 0, readSync(copy, buffer, 0, buffer.length, start));
      } finally {
        closeSync(copy);
      }
    } catch {
      return undefined;
    }
  }
}

/**
 * Force-removes every container carrying ALL of these labels (leftovers of a crashed run) and returns
 * their ids. Refuses a set without a `nightshift.` label: without a label filter `docker ps -a` lists
 * every container on the host, and other labels could match containers that are not nightshift's.
 */
export async function removeContainers(labels: Readonly<Record<string, string>>, docker = 'docker'): Promise<string[]> {
  const entries = Object.entries(labels);
  if (!entries.some(([key]) => key.startsWith('nightshift.'))) {
    throw new Error(`removeContainers needs a nightshift.* label (got ${JSON.stringify(labels)}): it never touches containers that are not nightshift's`);
  }
  const filters = entries.flatMap(([key, value]) => ['--filter', `label=${key}=${value}`]);
  const listed = await execa(docker, ['ps', '-a', '-q', ...filters], { reject: false, stdin: 'ignore' });
  if (listed.failed) throw new Error(`docker ps failed: ${String(listed.stderr).trim() || listed.shortMessage}`);
  const ids = String(listed.stdout).split('\n').map((s) => s.trim()).filter((s) => s !== '');
  if (ids.length === 0) return [];
  const removed = await execa(docker, ['rm', '-f', ...ids], { reject: false, stdin: 'ignore' });
  // --rm containers may vanish by themselves meanwhile; anything else is an error.
  const problems = String(removed.stderr).split('\n').filter((line) => line.trim() !== '' && !/no such container/i.test(line));
  if (removed.failed && problems.length > 0) throw new Error(`docker rm -f failed: ${problems.join('; ')}`);
  return ids;
}
