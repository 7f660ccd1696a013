/**
 * night.json: the machine-readable state of one night, and its storage. Every write is atomic
 * (temp file in the same folder, fsync, rename), so readers and a crashed runner only ever see a
 * complete file: the previous one or the new one.
 */
import * as z from 'zod';
import { ExitCode, NightshiftError } from '../errors.js';
import { parseJson } from '../json-format.js';
import { readTextIfExists, writeJsonAtomic } from '../files.js';
import { BUILD_STATUSES, type BuildStatus } from './layout.js';

export interface ArtifactRecord {
  /** File name relative to the build's artifact folder. */
  file: string;
  size: number;
  sha256: string;
}

export interface BuildRecord {
  id: string;
  package: string;
  axes: Record<string, string>;
  executor: 'docker' | 'host';
  image: string | null;
  status: BuildStatus;
  /** Start order on this machine, from 1. */
  order: number;
  estimate_s: number;
  /** How many times the build was started (this night, across runs). */
  attempt: number;
  started_at?: string;
  finished_at?: string;
  duration_s?: number;
  exit_code?: number | null;
  reason?: string;
  /** Path relative to the night folder. */
  log?: string;
  artifacts?: ArtifactRecord[];
  /** Built by hand (`nightshift build`) outside this machine's share of the matrix: never in the nightly's upload, latest pointers or report. */
  manual?: boolean;
  /** Every attempt of a build its package's `retry` ran again, the last one included; absent otherwise. */
  attempts?: AttemptRecord[];
}

export interface AttemptRecord {
  /** The build's count of starts this night when this attempt started (BuildRecord.attempt then). */
  attempt: number;
  started_at: string;
  finished_at: string;
  exit_code: number | null;
  status: string;
  reason?: string;
  /** Path relative to the night folder: logs/failed/<id>.attempt-<n>.log, the last one's is the build's log. */
  log?: string;
}

export interface NightState {
  version: 1;
  date: string;
  machine: string;
  schedule: string;
  recipes?: { repo: string; ref: string; commit: string };
  started_at?: string;
  updated_at: string;
  finished_at?: string;
  runner_pid?: number;
  builds: BuildRecord[];
  /** The last upload of this night's results (run's end, or `nightshift upload`). */
  upload?: UploadRecord;
  /** Set when the night's builds come from the schedule's shared queue (`queue:`). */
  queue?: QueueRecord;
}

/** This machine's view of the shared queue during the night. */
export interface QueueRecord {
  /** The Redis URL, its password replaced by `***`. */
  url: string;
  /** Since when Redis cannot be reached (absent while it can): running builds go on, nothing new starts. */
  unreachable_since?: string;
  /** Every time this night the queue could not be reached, from when to when (no `to`: still). */
  outages?: QueueOutage[];
}

export interface QueueOutage {
  from: string;
  to?: string;
}

export interface UploadRecord {
  /** The destination root. */
  to: string;
  started_at: string;
  finished_at: string;
  uploaded: number;
  skipped: number;
  /** What could not be uploaded and why; `nightshift upload` tries them again. */
  failed: { key: string; error: string }[];
  manifest?: string;
}

export const NIGHT_STATE_VERSION = 1;

/** A night no run has started yet: no builds. */
export function emptyNightState(night: { date: string; machine: string; schedule: string }, now: Date): NightState {
  return { version: NIGHT_STATE_VERSION, date: night.date, machine: night.machine, schedule: night.schedule, updated_at: now.toISOString(), builds: [] };
}

// What a reader relies on. Loose objects: fields that later versions add (or that other parts of
// nightshift record) still read, and are kept by the next write.
const optionalString = z.string().optional();
const buildRecordSchema = z.looseObject({
  id: z.string(),
  package: z.string(),
  axes: z.record(z.string(), z.string()),
  executor: z.enum(['docker', 'host']),
  image: z.string().nullable(),
  status: z.enum(BUILD_STATUSES),
  order: z.number(),
  estimate_s: z.number(),
  attempt: z.number(),
  started_at: optionalString,
  finished_at: optionalString,
  duration_s: z.number().optional(),
  exit_code: z.number().nullable().optional(),
  reason: optionalString,
  log: optionalString,
  artifacts: z.array(z.looseObject({ file: z.string(), size: z.number(), sha256: z.string() })).optional(),
});
const nightStateSchema = z.looseObject({
  version: z.literal(NIGHT_STATE_VERSION),
  date: z.string(),
  machine: z.string(),
  schedule: z.string(),
  recipes: z.looseObject({ repo: z.string(), ref: z.string(), commit: z.string() }).optional(),
  started_at: optionalString,
  updated_at: z.string(),
  finished_at: optionalString,
  runner_pid: z.number().optional(),
  builds: z.array(buildRecordSchema),
  upload: z
    .looseObject({
      to: z.string(),
      started_at: z.string(),
      finished_at: z.string(),
      uploaded: z.number(),
      skipped: z.number(),
      failed: z.array(z.looseObject({ key: z.string(), error: z.string() })),
      manifest: optionalString,
    })
    .optional(),
  queue: z.looseObject({ url: z.string(), unreachable_since: optionalString, outages: z.array(z.looseObject({ from: z.string(), to: optionalString })).optional() }).optional(),
});

/** The state in `file`, or undefined when there is none yet. */
export async function readNightState(file: string): Promise<NightState | undefined> {
  const text = await readTextIfExists(file);
  if (text === undefined) return undefined;
  const parsed = parseJson(text, nightStateSchema, NIGHT_STATE_VERSION);
  if (!parsed.ok) {
    throw new NightshiftError(
      `${file} is unreadable (${parsed.problem}); it only records this night's progress: remove it to start the night over (every build runs again)`,
      ExitCode.usage,
    );
  }
  return parsed.value;
}

export async function writeNightState(file: string, state: NightState): Promise<void> {
  await writeJsonAtomic(file, state);
}

/** Edits the state it is given in place (and returns nothing), or returns the new state. */
export type StateMutator = ((state: NightState) => NightState | Promise<NightState>) | ((state: NightState) => void | Promise<void>);

/**
 * One night.json for its single writer (the process holding the night lock). Updates run one at a
 * time, in call order, so parallel builds never lose each other's changes; each is written before
 * the next starts, and `get()` only ever returns what is on disk.
 */
export class NightStateStore {
  readonly file: string;
  private readonly now: () => Date;
  private state: NightState | undefined;
  private tail: Promise<unknown> = Promise.resolve();

  constructor(file: string, options: { now?: () => Date } = {}) {
    this.file = file;
    this.now = options.now ?? (() => new Date());
  }

  /** Reads the file (undefined when absent); call before `get` or `update`. */
  load(): Promise<NightState | undefined> {
    return this.enqueue(async () => (this.state = await readNightState(this.file)));
  }

  /** The current state; treat it as read-only (updates work on a copy). */
  get(): NightState {
    if (!this.state) throw new Error(`NightStateStore(${this.file}): no state yet; call load() or replace() first`);
    return this.state;
  }

  /** Writes a whole new state, e.g. the first one of a night. */
  replace(state: NightState): Promise<NightState> {
    return this.enqueue(() => this.commit(structuredClone(state)));
  }

  /**
   * Applies `mutator` to a copy of the current state (it may edit it in place or return a new one),
   * stamps `updated_at` and writes it. A mutator that throws changes nothing.
   */
  update(mutator: StateMutator): Promise<NightState> {
    return this.enqueue(async () => {
      const draft = structuredClone(this.get());
      return this.commit((await mutator(draft)) ?? draft);
    });
  }

  private async commit(next: NightState): Promise<NightState> {
    next.updated_at = this.now().toISOString();
    await writeNightState(this.file, next);
    this.state = next;
    return next;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // A failed task rejects for its caller only; the next one still runs.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
