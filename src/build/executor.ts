/** What an executor (Docker or host) is given and what it returns. */
import type { ExecutorKind, Resources } from '../config/model.js';
import type { CacheMount } from './cache.js';

export interface ExecuteOptions {
  id: string;
  date: string;
  machine: string;
  /** The root of the night folders: a label, so each schedule's cleanup finds only its own containers. */
  root: string;
  /** Rendered argv; never joined into a shell string. */
  command: readonly string[];
  /** The build's environment without NIGHTSHIFT_RECIPES/NIGHTSHIFT_OUT, which each executor sets itself. */
  env: Readonly<Record<string, string>>;
  /** Rendered image (docker only). */
  image?: string;
  resources: Resources;
  /** Docker network for the container (docker only); undefined = Docker's default. */
  network?: string;
  /** The night's recipes clone on the host (mounted read-only at /recipes, or copied for host builds). */
  recipesDir: string;
  /** The build's artifact folder on the host (mounted at /out). */
  outDir: string;
  /** Host builds run here, in their own copy of the recipes. */
  workDir: string;
  /** The package's persistent cache: mounted at its path (docker) or named by NIGHTSHIFT_CACHE (host). */
  cache?: CacheMount;
  /** An open file descriptor the build's stdout and stderr are appended to, untouched by Node. */
  logFd: number;
  timeoutMs: number;
  /** Aborted on SIGINT/SIGTERM: the build is killed and reported canceled. */
  signal: AbortSignal;
}

/**
 * The machine, not the build, failed: the build could not run to its end through no fault of its own.
 * `engine_down`: the Docker engine did not answer; `engine_lost`: it went away while the build ran (EOF);
 * `engine_error`: it answered with a failure of its own (containerd gone, its disk full, a timeout).
 */
export type MachineFault = { kind: 'engine_down' | 'engine_lost' | 'engine_error'; detail: string };

export interface ExecuteResult {
  /** The command's exit code; null when it never ran or was killed. */
  exitCode: number | null;
  timedOut: boolean;
  canceled: boolean;
  /** Why the command could not be started at all (image missing, executable not found, ...). */
  startError?: string;
  /** Set when the machine failed the build (it is then not run, never failed); exitCode is null. */
  fault?: MachineFault;
  durationMs: number;
}

export interface Executor {
  run(options: ExecuteOptions): Promise<ExecuteResult>;
}

/** One executor of each kind, as a night is given them. */
export type Executors = Readonly<Record<ExecutorKind, Executor>>;
