/**
 * night.json: the machine-readable state of one night, and its storage. While a run goes on, each update
 * is appended to night.json's journal (state-journal.ts) and night.json is rewritten whole now and then
 * (compaction); a night no run drives is written whole at every change. Every whole write is atomic (temp
 * file in the same folder, fsync, rename), and readNightState applies the journal, so readers and a
 * crashed runner only ever see a complete state: one that was written.
 */
import * as z from 'zod';
import { ExitCode, NightshiftError } from '../errors.js';
import { parseJson } from '../json-format.js';
import { writeFileAtomic } from '../files.js';
import { BUILD_STATUSES, type BuildStatus } from './layout.js';
import { draftOf, type DraftResult } from './state-draft.js';
import { appendJournal, applyUpdates, inodeOf, journalLine, journalStart, readJournaled, removeJournal, type JournalUpdate } from './state-journal.js';
import { existsSync } from 'node:fs';
import { journalOf } from './layout.js';

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
  /** A build that did not succeed: the first line of its log that says what went wrong (first-error.ts). */
  first_error?: string;
  artifacts?: ArtifactRecord[];
  /** Built by hand (`nightshift build`) outside this machine's share of the matrix: never in the nightly's upload, latest pointers or report. */
  manual?: boolean;
  /** Attributes given by hand (`build --set cuda.version=13.0`) to axis values matrix.yaml does not list, by axis. */
  attributes?: Record<string, Record<string, string>>;
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
  /** Bytes of every object this upload wrote (artifacts, logs, manifest, pointers, pip pages, history); absent in uploads recorded before it was. */
  bytes?: number;
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
  first_error: optionalString,
  attributes: z.record(z.string(), z.record(z.string(), z.string())).optional(),
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
      bytes: z.number().optional(),
      failed: z.array(z.looseObject({ key: z.string(), error: z.string() })),
      manifest: optionalString,
    })
    .optional(),
  queue: z.looseObject({ url: z.string(), unreachable_since: optionalString, outages: z.array(z.looseObject({ from: z.string(), to: optionalString })).optional() }).optional(),
});

/** The state in `file` with its journal applied, or undefined when there is none yet (a journal alone is not a night). */
export async function readNightState(file: string): Promise<NightState | undefined> {
  const read = await readJournaled(file);
  if (read === undefined) return undefined;
  const parsed = parseJson(read.updates.length ? journaledText(read.text, read.updates) : read.text, nightStateSchema, NIGHT_STATE_VERSION);
  if (!parsed.ok) {
    throw new NightshiftError(
      `${file} is unreadable (${parsed.problem}); it only records this night's progress: remove it to start the night over (every build runs again)`,
      ExitCode.usage,
    );
  }
  return parsed.value;
}

/** night.json's text with the journal's updates applied, for the one parse and check of the result. */
function journaledText(text: string, updates: readonly JournalUpdate[]): string {
  let base: unknown;
  try {
    base = JSON.parse(text);
  } catch {
    return text; // the parse names the problem
  }
  if (typeof base !== 'object' || base === null || Array.isArray(base)) return text;
  return JSON.stringify(applyUpdates(base as Record<string, unknown>, updates));
}

/** Writes `state` whole as `file`, its journal folded in (removed). */
export async function writeNightState(file: string, state: NightState): Promise<void> {
  await writeFileAtomic(file, stateText(state));
  await removeJournal(file);
}

function stateText(state: NightState): string {
  return `${JSON.stringify(state, null, 2)}\n`;
}

/** Edits the state it is given in place (and returns nothing), or returns the new state. */
export type StateMutator = ((state: NightState) => NightState | Promise<NightState>) | ((state: NightState) => void | Promise<void>);

/** How long a change may wait in the journal before night.json is rewritten with it, while a run goes on. */
const COMPACT_AFTER_MS = 1000;
/** A journal this large (or as large as night.json) is folded in at once. */
const COMPACT_AT_BYTES = 64 * 1024;

/**
 * One night.json for its single writer (the process holding the night lock). Updates run one at a
 * time, in call order, so parallel builds never lose each other's changes; each is written before
 * the next starts, and `get()` only ever returns what is on disk.
 *
 * An update costs what it changes, not the night's size: it works on a draft that copies only the
 * records it touches (state-draft.ts) and appends them to the journal. night.json itself is rewritten
 * when the journal is a second old or as large as night.json, when an update replaces the list of builds,
 * and at every change of a night no run drives (no `runner_pid`: a run's end, an upload), so a night that
 * is not running has all of its state in night.json.
 */
export class NightStateStore {
  readonly file: string;
  private readonly now: () => Date;
  private state: NightState | undefined;
  private tail: Promise<unknown> = Promise.resolve();
  /** Bytes in the journal (0: none); the inode of the night.json it applies to; night.json's size. */
  private journalBytes = 0;
  private baseInode: number | undefined;
  private stateBytes = 0;
  /** Set while the journal cannot be trusted to take the next line (a failed append or compaction). */
  private mustCompact = false;
  private compactTimer: NodeJS.Timeout | undefined;

  constructor(file: string, options: { now?: () => Date } = {}) {
    this.file = file;
    this.now = options.now ?? (() => new Date());
  }

  /** Reads the file (undefined when absent); call before `get` or `update`. */
  load(): Promise<NightState | undefined> {
    return this.enqueue(async () => {
      this.state = await readNightState(this.file);
      // A journal left by an earlier writer is folded in now: it may end in a line cut short, after which nothing may be appended.
      if (this.state && existsSync(journalOf(this.file))) await this.compact(this.state);
      else if (this.state) this.baseInode = await inodeOf(this.file);
      else await removeJournal(this.file);
      return this.state;
    });
  }

  /** The current state; treat it as read-only (updates work on a copy). */
  get(): NightState {
    if (!this.state) throw new Error(`NightStateStore(${this.file}): no state yet; call load() or replace() first`);
    return this.state;
  }

  /** Writes a whole new state, e.g. the first one of a night. */
  replace(state: NightState): Promise<NightState> {
    return this.enqueue(() => this.commit({ state: structuredClone(state), changed: 'all' }));
  }

  /**
   * Applies `mutator` to a copy of the current state (it may edit it in place or return a new one),
   * stamps `updated_at` and writes it. A mutator that throws changes nothing.
   */
  update(mutator: StateMutator): Promise<NightState> {
    return this.enqueue(async () => {
      const draft = draftOf(this.get());
      return this.commit(draft.finish((await mutator(draft.state)) ?? draft.state));
    });
  }

  private async commit({ state: next, changed }: DraftResult): Promise<NightState> {
    next.updated_at = this.now().toISOString();
    if (changed === 'all' || this.mustCompact || this.baseInode === undefined) {
      await this.compact(next);
      this.state = next;
      return next;
    }
    const { builds: _all, ...fields } = next;
    const line = journalLine({ fields, ...(changed.length && { builds: changed }) });
    const text = this.journalBytes === 0 ? journalStart(this.baseInode) + line : line;
    try {
      await appendJournal(this.file, text, this.journalBytes);
    } catch (error) {
      this.mustCompact = true;
      throw error;
    }
    this.journalBytes += Buffer.byteLength(text);
    this.state = next;
    if (next.runner_pid === undefined || this.journalBytes >= Math.max(COMPACT_AT_BYTES, this.stateBytes)) await this.compact(next);
    else this.compactTimer ??= setTimeout(() => void this.enqueue(() => this.compactLater()).catch(() => {}), COMPACT_AFTER_MS).unref();
    return next;
  }

  /** The timer's compaction: the state as it is then, unless something else compacted meanwhile. */
  private async compactLater(): Promise<void> {
    this.compactTimer = undefined;
    if (this.state && this.journalBytes > 0) await this.compact(this.state);
  }

  /**
   * night.json := state, then the journal goes. A write that fails leaves both as they were (the journal
   * still applies); once night.json is new, nothing may be appended until the old journal is gone.
   */
  private async compact(state: NightState): Promise<void> {
    clearTimeout(this.compactTimer);
    this.compactTimer = undefined;
    const text = stateText(state);
    await writeFileAtomic(this.file, text);
    this.mustCompact = true;
    this.baseInode = await inodeOf(this.file);
    await removeJournal(this.file);
    this.journalBytes = 0;
    this.stateBytes = text.length;
    this.mustCompact = false;
  }

  private enqueue<T>(task: () => Promise<T>): Promise<T> {
    const result = this.tail.then(task);
    // A failed task rejects for its caller only; the next one still runs.
    this.tail = result.catch(() => undefined);
    return result;
  }
}
