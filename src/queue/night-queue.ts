/**
 * The night's shared queue: every machine of a schedule pulls the night's builds from one BullMQ queue
 * on Redis (one queue per schedule and date); src/runner/queued-builds.ts runs what this machine takes.
 *
 * - `addNight` adds every cell, idempotently: the job id is the build id, so the first machine's add
 *   wins and the others' are no-ops. Longest expected first, through BullMQ priorities 1..N.
 * - `take` fetches jobs manually (`Worker.getNextJob`), highest priority first. When the first is not for
 *   this machine, it looks at the waiting job ids (one command) and stops at once when none of the
 *   first LOOK_AHEAD is. A job this machine may not run (its selector binds it elsewhere, or its needs do not fit now) is set
 *   aside while the scan goes on, and every set-aside job is moved back to the queue (`moveToWait`, which keeps its priority)
 *   before `take` returns. So a machine holds a job it cannot run only during one `take` call, never
 *   longer. The price: a scan costs one round trip per job it passes over, and while a scan holds jobs
 *   another machine's `take` does not see them; `undefined` from `take` means "nothing for you now",
 *   never "the night is over" (that is `progress().allEnded`).
 * - Takeover: a taken job is locked for `leaseMs`; its machine renews the lock while the build runs. A
 *   machine that stops renewing loses the lock, and BullMQ's stalled-job check (stall-check.ts) moves
 *   the job back to the queue, where another machine takes it, between one lease and one and a half
 *   leases after its last renewal.
 * - Redis away: commands wait for it (ioredis retries the connection for ever). A lock that ran out
 *   meanwhile is taken back by its machine (`renew`, `finish`) unless another machine took the job over.
 */
import { randomUUID } from 'node:crypto';
import { Queue, Worker, type Job } from 'bullmq';
import { Redis } from 'ioredis';
import type { Resources } from '../config/model.js';
import { redactedRedisUrl } from '../config/queue-url.js';
import { ExitCode, messageOf, NightshiftError } from '../errors.js';
import { withoutPassword } from './redis-text.js';
import { withTimeout } from '../timeout.js';
import { StallCheck } from './stall-check.js';

/** A cell of the night as the queue carries it. */
export interface NightCell {
  id: string;
  /** Expected duration in seconds: the queue hands out the longest first. */
  estimateS: number;
  needs: Resources;
}

/** How a build ended, as its machine reports it: a completed job's return value, a failed job's reason (as JSON). */
export interface EndRecord {
  status: string;
  machine: string;
  finished_at: string;
}

export type NightJob = Job<NightCell, EndRecord>;

export interface NightProgress {
  waiting: number;
  active: number;
  completed: number;
  failed: number;
  /** Every cell added to the night has completed or failed (false while the queue is empty). */
  allEnded: boolean;
}

export interface NightQueueOptions {
  /** `redis://[:password@]host:port/db`; its password never appears in a message. */
  url: string;
  schedule: string;
  /** The night's date as nightshift writes it, YYYY_MM_DD. */
  date: string;
  /** This machine's name, recorded on every job it takes. */
  machine: string;
  /** How long a taken job stays this machine's without a renewal. */
  leaseMs: number;
  /** Told when the connection to Redis is lost (false) and back (true); commands wait meanwhile. */
  onConnection?: (up: boolean) => void;
}

export interface NightQueue {
  addNight(cells: readonly NightCell[]): Promise<void>;
  /** The next job this machine may run now (highest priority first), claimed for it; undefined: none for now. */
  take(fits: (cellId: string) => boolean): Promise<NightJob | undefined>;
  /**
   * Extends the job's lock by `leaseMs`, taking it back when its lock ran out while Redis was away and
   * nobody took it over; false when it is no longer this machine's (another machine runs it).
   */
  renew(job: NightJob): Promise<boolean>;
  /** Ends the job with the build's record; 'taken-over' when another machine had taken it over meanwhile. */
  finish(job: NightJob, record: EndRecord): Promise<'finished' | 'taken-over'>;
  fail(job: NightJob, record: EndRecord): Promise<void>;
  /** Gives the job back to the queue with its priority (canceled, or it cannot run here), for any machine to take. */
  release(job: NightJob): Promise<void>;
  /** The cell ids of the night not ended on any machine: waiting, or running somewhere. */
  pending(): Promise<string[]>;
  progress(): Promise<NightProgress>;
  close(): Promise<void>;
}

/** BullMQ's highest priority number (its PRIORITY_LIMIT, 2^21 - 1): a night's order maps to 1..N within it. */
export const MAX_PRIORITY = 2 ** 21 - 1;

/**
 * How many waiting builds, from the head of the queue, a machine looks at for one it may run: enough for
 * any backfill, few enough that looking stays cheap in a night of thousands of builds.
 */
export const LOOK_AHEAD = 200;

/** How many times a job may be taken over before BullMQ fails it (a build that kills every machine). */
export const MAX_TAKEOVERS = 3;

const CONNECT_TIMEOUT_MS = 10_000;

/** A BullMQ job id or queue name for `text`: BullMQ ids may not hold ':' (percent-encoded, so distinct texts stay distinct). */
export function safeJobId(text: string): string {
  return text.replaceAll('%', '%25').replaceAll(':', '%3A');
}

/** BullMQ's prefix for every key nightshift writes to Redis. */
export const QUEUE_PREFIX = 'nightshift';

/** The BullMQ queue (under QUEUE_PREFIX) of one schedule's night. */
export function nightQueueName(schedule: string, date: string): string {
  return safeJobId(`${schedule}.${date}`);
}

/** Opens the night's queue on Redis; throws a NightshiftError (exit 4) when Redis cannot be reached. */
export async function openNightQueue(options: NightQueueOptions): Promise<NightQueue> {
  const parsed = URL.canParse(options.url) ? new URL(options.url) : undefined;
  // Text that is not a URL is never shown: where its password would be is anyone's guess.
  if (parsed === undefined) throw new NightshiftError('the queue URL is not a URL: write it as redis://[:password@]host:port/db', ExitCode.usage);
  const shown = redactedRedisUrl(options.url);
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') {
    throw new NightshiftError(`the queue URL must start with redis:// or rediss://, got ${shown}`, ExitCode.usage);
  }
  // maxRetriesPerRequest: null is what BullMQ requires of its connections.
  const connection = new Redis(options.url, { maxRetriesPerRequest: null, lazyConnect: true, connectTimeout: CONNECT_TIMEOUT_MS });
  // ioredis reports connection trouble as events; the last one says why a connect failed.
  let lastError: unknown;
  connection.on('error', (error: unknown) => (lastError = error));
  try {
    await withTimeout(connection.connect(), CONNECT_TIMEOUT_MS);
  } catch (error) {
    connection.disconnect();
    const why = withoutPassword(messageOf(lastError ?? error), options.url).replace(/\.+$/, '');
    throw new NightshiftError(
      `cannot reach the queue's Redis at ${shown}: ${why}. Check queue.url (or NIGHTSHIFT_REDIS_URL) and that Redis runs there.`,
      ExitCode.serviceUnavailable,
    );
  }
  return new RedisNightQueue(connection, options);
}

class RedisNightQueue implements NightQueue {
  private readonly queue: Queue<NightCell, EndRecord>;
  private readonly worker: Worker<NightCell, EndRecord>;
  private readonly stallCheck: StallCheck;
  /** The lock token of every job this machine takes. */
  private readonly token = randomUUID();
  private closing = false;

  constructor(
    private readonly connection: Redis,
    private readonly options: NightQueueOptions,
  ) {
    const name = nightQueueName(options.schedule, options.date);
    this.queue = new Queue<NightCell, EndRecord>(name, { connection, prefix: QUEUE_PREFIX });
    // No processor and no autorun: jobs are fetched by hand (take); this worker only takes and locks them.
    // Named after the machine: BullMQ records the taker of a job (processedBy) and when (processedOn), which the fleet view shows.
    this.worker = new Worker<NightCell, EndRecord>(name, null, {
      connection,
      prefix: QUEUE_PREFIX,
      name: options.machine,
      autorun: false,
      lockDuration: options.leaseMs,
      skipStalledCheck: true,
    });
    this.queue.on('error', () => undefined);
    this.worker.on('error', () => undefined);
    connection.on('close', () => this.closing || options.onConnection?.(false));
    connection.on('ready', () => options.onConnection?.(true));
    this.stallCheck = new StallCheck({ url: options.url, queueName: name, prefix: QUEUE_PREFIX, leaseMs: options.leaseMs, maxTakeovers: MAX_TAKEOVERS, connection });
    this.stallCheck.start();
  }

  async addNight(cells: readonly NightCell[]): Promise<void> {
    if (cells.length > MAX_PRIORITY) throw new NightshiftError(`a night of ${cells.length} cells does not fit BullMQ's ${MAX_PRIORITY} priorities`, ExitCode.usage);
    // Once one machine has added the night, the others' adds are no-ops: a marker spares them the work.
    const added = `${this.queue.toKey('')}added`;
    if ((await this.connection.exists(added)) === 1) return;
    const ordered = [...cells].sort((a, b) => b.estimateS - a.estimateS || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
    await this.queue.addBulk(
      ordered.map((cell, index) => ({
        name: cell.id,
        data: cell,
        // The same id on every machine: a second add of the night is a no-op. Kept after they end, for progress.
        opts: { jobId: safeJobId(cell.id), priority: index + 1, attempts: 1, removeOnComplete: false, removeOnFail: false },
      })),
    );
    await this.connection.set(added, new Date().toISOString());
  }

  async take(fits: (cellId: string) => boolean): Promise<NightJob | undefined> {
    const passed: NightJob[] = [];
    try {
      for (let looked = false; ;) {
        const job = (await this.worker.getNextJob(this.token, { block: false })) as NightJob | undefined;
        if (job === undefined) return undefined;
        if (job.deferredFailure) {
          // Taken over too often: every machine that ran it stopped renewing (a build that kills its machine).
          await job.moveToFailed(new Error(`${job.deferredFailure}: taken over ${MAX_TAKEOVERS} times, so not handed out again`), this.token, false);
          continue;
        }
        // Counted as passed until it fits: a `fits` that throws leaves no job held.
        passed.push(job);
        if (fits(job.data.id)) {
          passed.pop();
          return job;
        }
        // The head is not for this machine: a look at what waits (one command, nothing moved) before going
        // on, so that a machine with nothing to take does not hide jobs from the machines that may run them.
        if (!looked) {
          looked = true;
          const waiting = await this.queue.getRanges(['prioritized', 'waiting'], 0, LOOK_AHEAD - 1, true);
          if (!waiting.some((jobId) => fits(cellIdOf(jobId)))) return undefined;
        }
      }
    } finally {
      // Back to the queue with their priorities. One that cannot be moved (Redis gone) is freed by the
      // stalled check after the lease like any job of a machine that stopped renewing.
      for (const job of passed) await job.moveToWait(this.token).catch(() => undefined);
    }
  }

  async renew(job: NightJob): Promise<boolean> {
    if ((await job.extendLock(this.token, this.options.leaseMs)) === 1) return true;
    return this.reclaim(job);
  }

  async finish(job: NightJob, record: EndRecord): Promise<'finished' | 'taken-over'> {
    try {
      await job.moveToCompleted(record, this.token, false);
      return 'finished';
    } catch (error) {
      // Its lock ran out while Redis was away: take it back if nobody else has, then end it.
      if (!(await this.reclaim(job))) return 'taken-over';
      await job.moveToCompleted(record, this.token, false).catch(() => {
        throw error;
      });
      return 'finished';
    }
  }

  async fail(job: NightJob, record: EndRecord): Promise<void> {
    // BullMQ keeps a failure's message (failedReason): the record, as JSON.
    await job.moveToFailed(new Error(JSON.stringify(record)), this.token, false);
  }

  async release(job: NightJob): Promise<void> {
    if ((await job.extendLock(this.token, this.options.leaseMs)) !== 1 && !(await this.reclaim(job))) return;
    await job.moveToWait(this.token);
  }

  /** Locks a job of this machine again when its lock is gone but the job is still active (nobody took it over). */
  private async reclaim(job: NightJob): Promise<boolean> {
    const keys = [`${this.queue.toKey(job.id!)}:lock`, this.queue.toKey('stalled'), this.queue.toKey('active')];
    return (await this.connection.eval(RECLAIM, keys.length, ...keys, this.token, this.options.leaseMs, job.id!)) === 1;
  }

  async pending(): Promise<string[]> {
    const ids = await this.queue.getRanges(['active', 'waiting', 'prioritized', 'delayed'], 0, -1);
    return [...new Set(ids)].map(cellIdOf);
  }

  async progress(): Promise<NightProgress> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active', 'completed', 'failed');
    const count = (state: string): number => counts[state] ?? 0;
    const waiting = count('waiting') + count('prioritized') + count('delayed');
    const active = count('active');
    const completed = count('completed');
    const failed = count('failed');
    return { waiting, active, completed, failed, allEnded: waiting + active === 0 && completed + failed > 0 };
  }

  async close(): Promise<void> {
    this.closing = true;
    await this.stallCheck.close();
    // force: do not wait for jobs (there are none the worker processes itself); held locks simply expire.
    await this.worker.close(true);
    await this.queue.close();
    // While Redis is away, QUIT would wait for it; held locks expire by themselves.
    if (this.connection.status === 'ready') await withTimeout(this.connection.quit(), CONNECT_TIMEOUT_MS).catch(() => this.connection.disconnect());
    else this.connection.disconnect();
  }
}

/**
 * Sets this machine's lock on a job again when its lock has expired but the job is still active, i.e.
 * nobody took it over (BullMQ's stalled check moves a job only once its lock is gone). Removes it from
 * the stalled check's candidates, as a renewal does.
 */
const RECLAIM = `
if redis.call("EXISTS", KEYS[1]) == 0 and redis.call("LPOS", KEYS[3], ARGV[3]) then
  redis.call("SET", KEYS[1], ARGV[1], "PX", ARGV[2])
  redis.call("SREM", KEYS[2], ARGV[3])
  return 1
end
return 0`;

/** The cell id of a job id (safeJobId, undone). */
export function cellIdOf(jobId: string): string {
  return jobId.replaceAll('%3A', ':').replaceAll('%25', '%');
}
