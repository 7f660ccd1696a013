/**
 * Runs a build in a container: `docker run --rm --init` in the foreground, its output straight into
 * the build log. Killing the docker client does NOT stop a container, so timeouts, cancels and every
 * ending but the container's own exit (after which --rm has removed it) go through `docker rm -f <name>`.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, fstatSync, openSync, readSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as delay } from 'node:timers/promises';
import { execa, type Result, type ResultPromise } from 'execa';
import type { ExecuteOptions, ExecuteResult, Executor, MachineFault } from './executor.js';
import { formatDuration } from '../units.js';
import { stopTrigger } from './stop-trigger.js';
import { cacheStartError } from './cache.js';
import { CONTAINER_OUT as OUT, CONTAINER_RECIPES as RECIPES } from '../config/container-paths.js';

export interface DockerExecutorOptions {
  /** The docker client binary; default `docker`. */
  docker?: string;
  /** Added to the docker client's own environment, e.g. DOCKER_HOST (never the build's: see envFileText). */
  env?: Readonly<Record<string, string>>;
  /**
   * How long a build whose engine was down or went away waits for `docker info` to answer again before
   * it runs once more; after that it is recorded as not run. Default 5 minutes.
   */
  engineWaitMs?: number;
  /** How often the engine is asked meanwhile; default 2 s. */
  enginePollMs?: number;
  /**
   * `build --keep`: a build whose command fails leaves its container running (labelled `nightshift.keep=1`,
   * removed by `nightshift prune`) for `docker exec`; `onKept` is told its name.
   */
  keepFailed?: boolean;
  onKept?: (kept: { id: string; name: string }) => void;
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

/** What a build's container is made of, whether it runs the build or a debug shell (`nightshift shell`). */
export type ContainerSetup = Pick<ExecuteOptions, 'id' | 'date' | 'machine' | 'root' | 'image' | 'resources' | 'network' | 'recipesDir' | 'outDir' | 'cache'>;

/**
 * The `docker run` options every container of a build shares: its labels, mounts, environment file,
 * resources and network, then the image. Whatever runs in the build's container — the build itself or a
 * debug shell — gets these, so it sees what the build saw.
 */
export function containerArgs(options: ContainerSetup, envFile: string): string[] {
  if (!options.image) throw new Error(`${options.id}: a docker build needs an image`);
  const { gpus, memory, memoryBytes, cpus } = options.resources;
  return [
    '--label',
    `nightshift.night=${options.date}`,
    '--label',
    `nightshift.build=${options.id}`,
    '--label',
    `nightshift.machine=${options.machine}`,
    '--label',
    `nightshift.root=${options.root}`,
    '-v',
    `${options.recipesDir}:${RECIPES}:ro`,
    '-v',
    `${options.outDir}:${OUT}`,
    ...cacheMountArgs(options.cache),
    '--env-file',
    envFile,
    ...(gpus !== undefined && gpus !== 0 ? ['--gpus', String(gpus)] : []),
    // Bytes as nightshift parsed them (binary units, like Docker's own) rather than the text again.
    ...(memoryBytes !== undefined ? ['--memory', String(memoryBytes)] : memory !== undefined ? ['--memory', memory] : []),
    ...(cpus !== undefined ? ['--cpus', String(cpus)] : []),
    ...(options.network !== undefined ? ['--network', options.network] : []),
    options.image,
  ];
}

// Output already goes to the build log through the client. Docker's default json-file driver would keep
// a second copy under /var/lib/docker and caps line-heavy output at a few MB/s.
const NO_LOG_DRIVER = ['--log-driver', 'none'];

/** The `docker run` argv; the environment comes from `envFile` (see envFileText). */
export function dockerRunArgs(options: ExecuteOptions, name: string, envFile: string): string[] {
  return ['run', '--rm', '--init', '--name', name, ...NO_LOG_DRIVER, ...containerArgs(options, envFile), ...options.command];
}

/** The label of a failed build's container that `build --keep` left for `docker exec`. */
export const KEEP_LABEL = 'nightshift.keep';

// Longer than any build's timeout; `sleep infinity` is not in every image's sleep.
const KEEP_ALIVE = ['sleep', '2147483647'];

/** Docker's complaint when the image has no `sleep` to keep the container alive. */
const lacksKeepAlive = (dockerSaid: string | undefined) => dockerSaid !== undefined && /exec: "sleep": executable file not found/.test(dockerSaid);

/**
 * With `--keep`, the container is started detached, kept alive by `sleep`, and the build runs in it
 * through `docker exec`: when it fails, the container is simply not removed, and a person can
 * `docker exec` into the very filesystem the build left.
 */
export function keptContainerArgs(options: ExecuteOptions, name: string, envFile: string): { start: string[]; exec: string[] } {
  return {
    // sleep itself is PID 1, without --init: an image lacking it then fails `docker run` at once, where
    // docker-init would start, fail to exec it and leave a dead container behind.
    start: ['run', '--detach', '--name', name, ...NO_LOG_DRIVER, '--label', `${KEEP_LABEL}=1`, ...containerArgs(options, envFile), ...KEEP_ALIVE],
    exec: ['exec', name, ...options.command],
  };
}

export class DockerExecutor implements Executor {
  private readonly docker: string;
  private readonly env: Readonly<Record<string, string>> | undefined;
  private readonly engineWaitMs: number;
  private readonly enginePollMs: number;
  private readonly keepFailed: boolean;
  private readonly onKept: ((kept: { id: string; name: string }) => void) | undefined;
  /** Set while the engine is known to be gone after a whole wait: later builds do not wait again. */
  private engineGaveUp = false;

  constructor(options: DockerExecutorOptions = {}) {
    this.docker = options.docker ?? 'docker';
    this.env = options.env;
    this.engineWaitMs = options.engineWaitMs ?? 5 * 60_000;
    this.enginePollMs = options.enginePollMs ?? 2000;
    this.keepFailed = options.keepFailed ?? false;
    this.onKept = options.onKept;
  }

  /**
   * Runs the build; when the engine failed it (down, or gone mid-build), waits for the engine to answer
   * and runs it once more. What still could not run comes back with its `fault`, never as a failure.
   */
  async run(options: ExecuteOptions): Promise<ExecuteResult> {
    const started = Date.now();
    const first = await this.runOnce(options);
    if (first.fault === undefined) {
      this.engineGaveUp = false;
      return first;
    }
    const note = (text: string) => {
      try {
        writeSync(options.logFd, `\nnightshift: ${text}\n`);
      } catch {
        // the log is the build's: the runner notices a log it cannot write
      }
    };
    // Once one build waited in vain, the others only ask once: a dead engine does not cost minutes per build.
    const waitMs = this.engineGaveUp ? 0 : this.engineWaitMs;
    note(`the Docker engine failed this build (${first.fault.detail}); waiting up to ${formatDuration(waitMs / 1000)} for it to answer, then the build runs again`);
    const back = await this.waitForEngine(waitMs, options.signal);
    if (options.signal.aborted) return { exitCode: null, timedOut: false, canceled: true, durationMs: Date.now() - started };
    if (!back) {
      this.engineGaveUp = true;
      note(`the Docker engine still does not answer: the build is not run`);
      return { ...first, durationMs: Date.now() - started };
    }
    this.engineGaveUp = false;
    // An engine that kept its containers (live-restore) may still run the first one.
    const labels = { 'nightshift.night': options.date, 'nightshift.build': options.id, 'nightshift.machine': options.machine, 'nightshift.root': options.root };
    await removeContainers(labels, this.docker, this.env).catch(() => {});
    // From the start: what the first run wrote is never mistaken for the second one's.
    await rm(options.outDir, { recursive: true, force: true });
    note('the Docker engine answers again: the build runs again from the start');
    const second = await this.runOnce(options);
    return { ...second, durationMs: Date.now() - started };
  }

  /** Whether `docker info` answers within `waitMs` (asked at least once). */
  private async waitForEngine(waitMs: number, signal: AbortSignal): Promise<boolean> {
    const deadline = Date.now() + waitMs;
    for (;;) {
      if (signal.aborted) return false;
      if (await this.engineAnswers()) return true;
      if (Date.now() >= deadline) return false;
      await delay(Math.min(this.enginePollMs, Math.max(0, deadline - Date.now())), undefined, { signal }).catch(() => {});
    }
  }

  private async engineAnswers(): Promise<boolean> {
    const info = await execa(this.docker, ['info', '--format', '{{.ServerVersion}}'], { ...this.clientEnv(), reject: false, stdin: 'ignore', timeout: 20_000 });
    return info.exitCode === 0;
  }

  private clientEnv(): { env?: Record<string, string> } {
    return this.env ? { env: { ...this.env } } : {};
  }

  private async runOnce(options: ExecuteOptions): Promise<ExecuteResult> {
    const started = Date.now();
    const elapsed = () => Date.now() - started;
    if (options.signal.aborted) return { exitCode: null, timedOut: false, canceled: true, durationMs: 0 };

    const name = containerName(options.date, options.id, randomBytes(4).toString('hex'));
    // Docker would create a missing bind source itself, owned by root.
    await mkdir(options.outDir, { recursive: true });
    const cacheError = await cacheStartError(options.cache);
    if (cacheError) return { exitCode: null, timedOut: false, canceled: false, startError: cacheError, durationMs: elapsed() };
    const envDir = await mkdtemp(path.join(os.tmpdir(), 'nightshift-env-'));
    try {
      const envFile = path.join(envDir, 'build.env');
      await writeFile(envFile, envFileText(containerEnv(options)), { mode: 0o600 });
      let logStart = fstatSync(options.logFd).size;
      let args = dockerRunArgs(options, name, envFile);
      let keep = this.keepFailed;
      if (keep) {
        const kept = keptContainerArgs(options, name, envFile);
        const started = await this.startKept(kept.start, options.logFd);
        if (started === undefined) args = kept.exec;
        else {
          await removeContainer(this.docker, name, this.env);
          if (!lacksKeepAlive(readLogTail(options.logFd, logStart))) {
            return { ...(await this.outcome(started, options, logStart)), timedOut: false, canceled: false, durationMs: elapsed() };
          }
          // An image without sleep cannot be kept alive: the build still runs, as it would without --keep.
          writeSync(options.logFd, `nightshift: --keep: ${options.image!} has no sleep command to keep its container alive; the build runs without --keep\n`);
          keep = false;
          logStart = fstatSync(options.logFd).size;
        }
      }

      // execa's types list fds 1-9 only; any open fd works at run time (handed to the child as is).
      const log = options.logFd as unknown as 3;
      const client = execa(this.docker, args, {
        ...this.clientEnv(),
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
        removed = !keep && result.exitCode !== undefined && (result.exitCode < 125 || result.exitCode > 127);
        const outcome = await this.outcome(result, options, logStart);
        if (keep && outcome.exitCode !== null && outcome.exitCode !== 0) {
          removed = true;
          writeSync(options.logFd, `\nnightshift: --keep: the container ${name} is kept for debugging: docker exec -it ${name} sh; nightshift prune removes it\n`);
          this.onKept?.({ id: options.id, name });
        }
        return { ...outcome, timedOut: false, canceled: false, durationMs: elapsed() };
      } finally {
        trigger.dispose();
        // Whatever else happened to the client, the container must not outlive the build (unless kept).
        if (!removed) await removeContainer(this.docker, name, this.env);
      }
    } finally {
      await rm(envDir, { recursive: true, force: true });
    }
  }

  /** Starts a kept container (detached, kept alive); undefined when it runs, else docker's result (its complaint is in the log). */
  private async startKept(args: string[], logFd: number): Promise<Result | undefined> {
    const log = logFd as unknown as 3;
    // stdout is only the container's id; docker's complaints go to the log, where outcome() reads them.
    const started = await execa(this.docker, args, { ...this.clientEnv(), stdin: 'ignore', stdout: 'ignore', stderr: log, reject: false });
    return started.exitCode === 0 ? undefined : started;
  }

  /** The exit code of a build that ended by itself, why docker could not start it, or the engine's fault. */
  private async outcome(result: Result, options: ExecuteOptions, logStart: number): Promise<Pick<ExecuteResult, 'exitCode' | 'startError' | 'fault'>> {
    if (result.exitCode === undefined && result.signal === undefined) {
      // The client itself could not be started (e.g. docker not installed).
      const why = result.code === 'ENOENT' ? `${this.docker} not found; install Docker or fix PATH` : (result.shortMessage ?? result.code ?? 'it did not say why');
      return { exitCode: null, startError: `docker could not be run: ${why}` };
    }
    // Killed by someone else: no exit code; run() still removes the container.
    if (result.exitCode === undefined) return { exitCode: null };
    const tail = readLogTail(options.logFd, logStart);
    const said = engineFault(result.exitCode, tail);
    if (said) return { exitCode: null, fault: said };
    // Docker's own exit code with a message nightshift does not know: an engine that does not answer now is the cause.
    if (result.exitCode === 125 && !(await this.engineAnswers())) {
      return { exitCode: null, fault: { kind: 'engine_down', detail: 'docker run exited 125 and docker info does not answer' } };
    }
    const startError = dockerStartError(result.exitCode, options.image!, tail);
    return startError ? { exitCode: null, startError } : { exitCode: result.exitCode };
  }

  /**
   * `docker rm -f` until the client returns: the container may not exist yet when the timer fires
   * (image still pulling, container being created). A client that still hangs on is killed at last;
   * the `finally` of run() then removes whatever it left.
   */
  private async stopContainer(name: string, client: ResultPromise): Promise<void> {
    const finished = client.then(
      () => 'finished' as const,
      () => 'finished' as const,
    );
    for (let attempt = 0; ; attempt++) {
      await removeContainer(this.docker, name, this.env);
      if ((await Promise.race([finished, delay(attempt < 5 ? 200 : 1000)])) === 'finished') return;
      if (attempt === 30) client.kill('SIGKILL');
    }
  }
}

/** Force-removes one container; a container that is already gone is fine. */
async function removeContainer(docker: string, name: string, env?: Readonly<Record<string, string>>): Promise<void> {
  await execa(docker, ['rm', '-f', name], { ...(env && { env: { ...env } }), reject: false, stdin: 'ignore', stdout: 'ignore', stderr: 'ignore' });
}

// The docker client's own complaints (not the build's output): "docker: ..." lines, and logrus lines
// like `time="..." level=error msg="error waiting for container: unexpected EOF"`.
const CLIENT_LINE = /^(docker: .*|time="[^"]*" level=(error|fatal) msg=.*)$/;
const ENGINE_DOWN = /Cannot connect to the Docker daemon|error during connect|Is the docker daemon running/i;
// Checked first: "error during connect: Post ...: EOF" is an engine that answered, then went away.
const ENGINE_LOST = /unexpected EOF|\bEOF\b|connection reset by peer|broken pipe|use of closed network connection/i;
// The daemon's own trouble, never the build's or its image's (those name the image, the command or a file).
const ENGINE_ERROR = /Error response from daemon: .*(containerd|context deadline exceeded|i\/o timeout|no space left on device|Internal Server Error)/i;
const BUILD_OR_IMAGE = /executable file not found|no such file or directory|permission denied|pull access denied|manifest unknown|not found/i;

/**
 * Whether the docker client says the engine failed the build — it did not answer (down), the connection
 * broke while the build ran (lost), or the daemon failed on its own (error) — rather than the build or its
 * image. Only on exit 125, docker's own. Pure.
 */
export function engineFault(exitCode: number, logTail: string | undefined): MachineFault | undefined {
  if (exitCode !== 125 || logTail === undefined) return undefined;
  const lines = logTail.split('\n').filter((line) => CLIENT_LINE.test(line.trim()));
  const lost = lines.filter((line) => ENGINE_LOST.test(line)).at(-1);
  if (lost) return { kind: 'engine_lost', detail: clientMessage(lost) };
  const down = lines.filter((line) => ENGINE_DOWN.test(line)).at(-1);
  if (down) return { kind: 'engine_down', detail: clientMessage(down) };
  const error = lines.filter((line) => ENGINE_ERROR.test(line) && !BUILD_OR_IMAGE.test(line)).at(-1);
  if (error) return { kind: 'engine_error', detail: clientMessage(error) };
  return undefined;
}

function clientMessage(line: string): string {
  const logrus = /msg="((?:[^"\\]|\\.)*)"/.exec(line);
  const text = logrus ? logrus[1]! : line.trim().replace(/^docker: /, '');
  // The request's URL (socket path, container id) says nothing to a person.
  return text
    .replace(/\b(Get|Head|Post|Put|Delete) \\?"[^"]*\\?"/g, '$1')
    .replace(/\s+/g, ' ')
    .trim();
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
export async function removeContainers(labels: Readonly<Record<string, string>>, docker = 'docker', env?: Readonly<Record<string, string>>): Promise<string[]> {
  const client = env ? { env: { ...env } } : {};
  const entries = Object.entries(labels);
  if (!entries.some(([key]) => key.startsWith('nightshift.'))) {
    throw new Error(`removeContainers needs a nightshift.* label (got ${JSON.stringify(labels)}): it never touches containers that are not nightshift's`);
  }
  const filters = entries.flatMap(([key, value]) => ['--filter', `label=${key}=${value}`]);
  const listed = await execa(docker, ['ps', '-a', '-q', ...filters], { ...client, reject: false, stdin: 'ignore' });
  if (listed.failed) throw new Error(`docker ps failed: ${listed.stderr.trim() || (listed.shortMessage ?? 'it did not say why')}`);
  const ids = listed.stdout
    .split('\n')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (ids.length === 0) return [];
  const removed = await execa(docker, ['rm', '-f', ...ids], { ...client, reject: false, stdin: 'ignore' });
  // --rm containers may vanish by themselves meanwhile; anything else is an error.
  const problems = removed.stderr.split('\n').filter((line) => line.trim() !== '' && !/no such container/i.test(line));
  if (removed.failed && problems.length > 0) throw new Error(`docker rm -f failed: ${problems.join('; ')}`);
  return ids;
}
