/** The configuration as the rest of nightshift sees it: checked, defaults applied, units converted. */

/** The most nights keep_days may keep (ten years): beyond it the cut-off stops being a date anyone means. */
export const MAX_KEEP_DAYS = 3650;

export interface AxisValue {
  value: string;
  /** Attributes for templates (`{cuda.image_tag}`), all as text. */
  attrs: Readonly<Record<string, string>>;
}

export interface Axis {
  name: string;
  values: readonly AxisValue[];
}

/** Which executor runs a package's builds (the executor itself is src/build/executor.ts's `Executor`). */
export type ExecutorKind = 'docker' | 'host';

export interface Resources {
  memory?: string;
  memoryBytes?: number;
  cpus?: number;
  gpus?: number | 'all';
}

export interface PackageSpec {
  name: string;
  executor: ExecutorKind;
  /** Image template; null for the host executor. */
  image: string | null;
  command: readonly string[];
  timeoutS: number;
  estimateS: number;
  /** The axes this package's cells have, in build-id order. */
  axes: readonly Axis[];
  resources: Resources;
  artifacts: 'required' | 'optional';
  /** Docker network of the container (docker only); undefined = Docker's default. */
  network?: string;
  env: Readonly<Record<string, string>>;
  /** A persistent cache folder `<root>/cache/<rendered key>`, mounted at `path` (docker only). */
  cache?: CacheSpec;
  /** Transient failures run again; nothing else is retried. */
  retry?: RetrySpec;
}

export interface RetrySpec {
  /** Runs in all, the first included. */
  attempts: number;
  exitCodes: readonly number[];
  /** Regular expressions (source text) matched against a failed attempt's log. */
  patterns: readonly string[];
}

export interface CacheSpec {
  /** Template of the folder name, rendered per cell. */
  key: string;
  /** Absolute path inside the container; undefined for host builds. */
  path?: string;
}

/** One exclude or include entry: `package` and axis names to values. */
export type Selection = Readonly<Record<string, string | AxisValue>>;

export interface Matrix {
  /** The file as shown in messages. */
  file: string;
  recipes: { repo: string; ref: string };
  axes: readonly Axis[];
  packages: readonly PackageSpec[];
  env: Readonly<Record<string, string>>;
  exclude: readonly Readonly<Record<string, string>>[];
  include: readonly Selection[];
}

export interface Machine {
  name: string;
  slots: number;
  /** Budget of running builds' declared resources; undefined = memory: the host's minus a reserve, cpus/gpus: not limited. */
  memory?: string;
  memoryBytes?: number;
  cpus?: number;
  gpus?: number;
  /** Selectors (globs over build ids); undefined = takes a share of the unassigned cells. */
  builds?: readonly string[];
}

export interface Schedule {
  name: string;
  file: string;
  cron: string;
  timezone: string;
  /** Absolute path of the folder holding the night folders. */
  root: string;
  keepDays: number;
  minFreeBytes?: number;
  /** Total cap of `<root>/cache`: prune trims the least recently used caches down to it. */
  cacheSizeBytes: number;
  /** The daemon starts a night it missed (machine down) only this long after its scheduled time. */
  missedGraceS: number;
  machines: readonly Machine[];
  /** Where successes go; without `upload:` in the schedule, a local folder under root. */
  upload: Upload;
  report?: {
    cron: string;
    machine: string;
    to: readonly string[];
    from?: string;
    when: 'always' | 'failures';
    logUrl?: string;
    /** `nightshift serve`'s URL with {machine}: a failure links to <serveUrl>/nights/<date>/builds/<id> when there is no logUrl. */
    serveUrl?: string;
    /** Names of the environment variables (or env file entries) holding webhook URLs; the URLs never live in the file. */
    webhooks?: readonly string[];
  };
  /** The shared queue on Redis; undefined = each machine builds its static share. */
  queue?: Queue;
}

export interface Queue {
  /** The schedule's Redis URL, never with a password: resolveRedisUrl() (queue-url.ts) gives the one to connect with. */
  url: string;
  /** A build whose machine stops renewing it for this long is taken over. */
  leaseMs: number;
  /** How long a night's start waits for a Redis it cannot reach before giving up (exit 4). */
  startWaitMs: number;
}

export interface Upload {
  /** `s3://bucket/prefix` or `file:///path`, may hold `{date}` and `{machine}` (and `{root}` in the default). */
  to: string;
  /** Artifact key template, relative to `to`. */
  key: string;
  region?: string;
  endpoint?: string;
  pathStyle: boolean;
  /** Tries per object on transient errors. */
  attempts: number;
  /** A pip nightly channel: a PEP 503 index per rendered `path` (store/pip-index.ts). */
  index?: PipIndex;
}

export interface PipIndex {
  /** Template over the cell's axes, `{package}` and `{id}`: the channel's folder under the destination root. */
  path: string;
  /** Wheels of the newest this many nights stay in the index. */
  keepDays: number;
}

/** One combination of the matrix: what gets built. */
export interface Cell {
  id: string;
  package: PackageSpec;
  /** Axis name to value, in the package's axis order. */
  values: Readonly<Record<string, AxisValue>>;
}
