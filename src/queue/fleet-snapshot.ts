/**
 * What the fleet is doing, read from the night's shared queue (src/queue/night-queue.ts defines the data):
 * which build runs on which machine since when, what waits, what ended. Read-only: a plain BullMQ
 * `Queue` that writes nothing (no meta update) and never a `Worker`, whose stalled-job check would move
 * other machines' jobs. One snapshot costs a few pipelined commands, not a round trip per job.
 */
import { Queue, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import { redactedRedisUrl } from '../config/queue-url.js';
import { ExitCode, messageOf, NightshiftError } from '../errors.js';
import { withoutPassword } from './redis-text.js';
import { withTimeout } from '../timeout.js';
import { nightQueueName, QUEUE_PREFIX, type EndRecord, type NightCell } from './night-queue.js';

export interface RunningBuild {
  id: string;
  machine: string;
  /** ISO time the machine took it. */
  since: string;
}

export interface WaitingBuild {
  id: string;
  estimateS: number;
}

export interface EndedBuild {
  id: string;
  /** The machine's status (succeeded, failed, timed_out, canceled...), or `failed` when BullMQ failed the job itself. */
  status: string;
  machine?: string;
  finished_at?: string;
  /** BullMQ's own reason when it failed the job (e.g. its machines stopped renewing it too often). */
  reason?: string;
}

export interface FleetSnapshot {
  /** False when the night has no queue (a past night, a queue removed, or no machine has added the night yet). */
  exists: boolean;
  /** By start time. */
  running: RunningBuild[];
  /** In the order the queue hands them out. */
  waiting: WaitingBuild[];
  /** By end time. */
  ended: EndedBuild[];
}

export interface FleetSnapshotOptions {
  /** The URL to connect with (resolveRedisUrl); it may hold a password, which no message shows. */
  url: string;
  schedule: string;
  /** The night's date, as the machines name their queue. */
  date: string;
  /** How long to wait for Redis before giving up (default 3 s): status must not hang while Redis is down. */
  timeoutMs?: number;
}

const DEFAULT_TIMEOUT_MS = 3000;

/** Reads the night's queue once; throws a NightshiftError (exit 4, the URL redacted) when Redis cannot be reached or stops answering. */
export async function readFleetSnapshot(options: FleetSnapshotOptions): Promise<FleetSnapshot> {
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const shown = redactedRedisUrl(options.url);
  const unusable = (what: string, error: unknown) =>
    new NightshiftError(
      `${what} the shared queue's Redis at ${shown}: ${withoutPassword(messageOf(error), options.url).replace(/\.+$/, '')}. Check queue.url (or NIGHTSHIFT_REDIS_URL) and that Redis runs there.`,
      ExitCode.serviceUnavailable,
    );
  // No reconnects and no offline queue: a reader that loses Redis fails at once instead of waiting for it.
  const connection = new Redis(options.url, {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    commandTimeout: timeoutMs,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false,
    // Closing waits this long for the server's side: a reader has nothing left to send, and a server that never answers never closes.
    disconnectTimeout: 100,
    // The per-job reads of getJobs go out together.
    enableAutoPipelining: true,
  });
  let lastError: unknown;
  connection.on('error', (error: unknown) => (lastError = error));
  try {
    await withTimeout(connection.connect(), timeoutMs);
  } catch (error) {
    // Not on a connection that already ended: ioredis would wait its disconnectTimeout for a close that came before.
    if (connection.status !== 'end') connection.disconnect();
    throw unusable('cannot reach', lastError ?? error);
  }
  const queue = new Queue<NightCell, EndRecord>(nightQueueName(options.schedule, options.date), {
    connection,
    prefix: QUEUE_PREFIX,
    skipMetasUpdate: true,
    skipVersionCheck: true,
  });
  queue.on('error', () => undefined);
  try {
    return await withTimeout(snapshot(queue), timeoutMs * 2);
  } catch (error) {
    throw unusable('cannot read the night from', lastError ?? error);
  } finally {
    await queue.close().catch(() => undefined);
    if (connection.status !== 'end') connection.disconnect();
  }
}

async function snapshot(queue: Queue<NightCell, EndRecord>): Promise<FleetSnapshot> {
  const counts = await queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed', 'completed', 'failed');
  if (Object.values(counts).every((n) => n === 0)) return { exists: false, running: [], waiting: [], ended: [] };
  const [active, waiting, completed, failed] = await Promise.all([
    queue.getJobs(['active']),
    queue.getJobs(['prioritized', 'waiting', 'delayed'], 0, -1, true),
    queue.getJobs(['completed']),
    queue.getJobs(['failed']),
  ]);
  // A job that moved between two of the reads is counted once, in its later state.
  const seen = new Set<string>();
  const firstSight = (job: Job<NightCell, EndRecord>) => !seen.has(job.id!) && seen.add(job.id!);
  const ended = [...completed.filter(firstSight).map(endOfCompleted), ...failed.filter(firstSight).map(endOfFailed)];
  const running: RunningBuild[] = [];
  const unclaimed: Job<NightCell, EndRecord>[] = [];
  for (const job of active.filter(firstSight)) {
    // BullMQ records which worker (named after its machine) took the job, and when.
    if (job.processedBy && job.processedOn) running.push({ id: job.data.id, machine: job.processedBy, since: new Date(job.processedOn).toISOString() });
    else unclaimed.push(job);
  }
  const queued = [...waiting.filter(firstSight), ...unclaimed].sort((a, b) => a.priority - b.priority || b.data.estimateS - a.data.estimateS);
  return {
    exists: true,
    running: running.sort((a, b) => a.since.localeCompare(b.since)),
    waiting: queued.map((job) => ({ id: job.data.id, estimateS: job.data.estimateS })),
    ended: ended.sort((a, b) => (a.finished_at ?? '').localeCompare(b.finished_at ?? '')),
  };
}

function endRecordOf(value: unknown): EndRecord | undefined {
  const record = value as Partial<EndRecord> | null;
  if (typeof record?.status !== 'string' || typeof record.machine !== 'string' || typeof record.finished_at !== 'string') return undefined;
  return { status: record.status, machine: record.machine, finished_at: record.finished_at };
}

function endOfCompleted(job: Job<NightCell, EndRecord>): EndedBuild {
  const record = endRecordOf(job.returnvalue);
  return record ? { id: job.data.id, ...record } : { id: job.data.id, status: 'succeeded', finished_at: finishedOn(job) };
}

/** A machine's failure carries its EndRecord as JSON; BullMQ's own (a job taken over too often) is plain text. */
function endOfFailed(job: Job<NightCell, EndRecord>): EndedBuild {
  let parsed: unknown;
  try {
    parsed = JSON.parse(job.failedReason);
  } catch {
    parsed = undefined;
  }
  const record = endRecordOf(parsed);
  return record ? { id: job.data.id, ...record } : { id: job.data.id, status: 'failed', finished_at: finishedOn(job), reason: job.failedReason || undefined };
}

function finishedOn(job: Job): string | undefined {
  return job.finishedOn ? new Date(job.finishedOn).toISOString() : undefined;
}
