/**
 * The slot runner fed by the schedule's shared queue (`queue:`): whenever a slot is free, this machine
 * takes the next build of the night it may run and that fits what it has free (src/queue/night-queue.ts),
 * renews its lease while the build runs, and ends it in the queue with its record. The builds themselves
 * run exactly as in the static runner (run-builds.ts `runOne`): same logs, night.json, retries.
 *
 * The night is over for this machine when nothing it may build is waiting or running anywhere: it
 * stays while another machine's build that it could take over still runs. A canceled build (stop
 * signal) and one this machine could not run (`not_run`) go back to the queue for the others. While
 * Redis is away, running builds go on and are recorded here; their ends reach the queue when it is back.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Cell } from '../config/model.js';
import type { BuildRecord } from '../night/state.js';
import { keepEarlierLogs } from '../night/attempt-logs.js';
import { pendingRecord } from '../night/resume.js';
import type { EndRecord, NightJob, NightQueue } from '../queue/night-queue.js';
import { Admission, type Budget } from './admission.js';
import { needsOf, runOne, SlotNumbers, type BuildOptions } from './run-builds.js';
import { CANCELED_BY_REQUEST } from '../night/cancel-requests.js';

export interface QueuedBuildsOptions extends BuildOptions {
  queue: NightQueue;
  /** The cells this machine may build (its selectors, --only/--skip), by id. */
  cells: ReadonlyMap<string, Cell>;
  /** Cells that already ended on this machine this night: never built again; ended in the queue with this record if it hands them out. */
  ended: ReadonlyMap<string, BuildRecord>;
  /** Expected seconds of a cell on this machine (for night.json). */
  estimate: (cell: Cell) => number;
  slots: number;
  budget?: Omit<Budget, 'slots'>;
  leaseMs: number;
  /** How often an idle machine looks for work and whether the night is over (default 1 s). */
  pollMs?: number;
  /** Lines for the master log and the person watching (a takeover, a queue error). */
  say: (line: string) => void;
}

const QUEUE_SETTLE_MS = 10_000;

/** Runs builds from the queue until the night is over for this machine; resolves with the records of what it ran, in the order they ended. */
export async function runQueuedBuilds(options: QueuedBuildsOptions): Promise<BuildRecord[]> {
  const { queue, cells, signal, say } = options;
  // What ended here this night, earlier runs and this one: if the queue hands it out again, it is ended, not rebuilt.
  const ended = new Map(options.ended);
  const admission = new Admission({ slots: Math.max(1, options.slots), ...options.budget });
  const slots = new SlotNumbers();
  const records: BuildRecord[] = [];
  const errors: unknown[] = [];
  const running = new Map<string, Promise<void>>();
  const queueWork = new Set<Promise<unknown>>();
  // Cells this machine could not run tonight (its engine was down): left to the other machines.
  const notHere = new Set<string>();
  let wake: () => void = () => undefined;
  // Set by a build's end or a stop signal: the loop looks again at once instead of waiting for the poll.
  let wakes = 0;
  const wakeUp = () => {
    wakes++;
    wake();
  };
  signal.addEventListener('abort', wakeUp, { once: true });
  // `nightshift cancel` stops a build running here through its own signal (runOne); one waiting in the queue is not this machine's to cancel.
  const stopWatching =
    options.cancels?.onRequest((id) => {
      if (running.has(id)) return;
      if (!ended.has(id)) say(`${id} is not running on this machine, so it is not canceled: a build waiting in the shared queue cannot be canceled`);
      void options.cancels!.dismiss(id).catch(() => undefined);
    }) ?? (() => undefined);

  const mayTake = (id: string): boolean => {
    const cell = cells.get(id);
    return cell !== undefined && !notHere.has(id) && !running.has(id) && admission.exceedsBudget(needsOf(cell)) === undefined;
  };
  const fits = (id: string): boolean => mayTake(id) && (ended.has(id) || admission.fits(needsOf(cells.get(id)!)));
  const inQueue = (what: string, work: Promise<unknown>) => {
    const tracked = work.catch((error: unknown) => say(`the shared queue: ${what}: ${(error as Error).message}`)).finally(() => queueWork.delete(tracked));
    queueWork.add(tracked);
  };

  const start = (job: NightJob): void => {
    const id = job.data.id;
    const cell = cells.get(id)!;
    const needs = needsOf(cell);
    admission.start({ id, estimateS: options.estimate(cell), ...needs });
    const slot = slots.take();
    let lost = false;
    let renewing = false;
    // Renewed three times a lease, so one late renewal never loses it.
    const renewal = setInterval(() => {
      if (renewing || lost) return;
      renewing = true;
      options.queue
        .renew(job)
        .then((held) => {
          if (held) return;
          lost = true;
          say(`${id}: another machine took it over (this machine's lease ran out); it still finishes here`);
        })
        .catch(() => undefined)
        .finally(() => (renewing = false));
    }, options.leaseMs / 3);
    const done = (async () => {
      try {
        const previous = options.store.get().builds.find((b) => b.id === id);
        // An earlier run's logs of this build (canceled, orphaned) are kept, never overwritten.
        if (previous) await keepEarlierLogs(options.layout, id, previous.attempt);
        await options.store.update((state) => {
          if (!state.builds.some((b) => b.id === id)) state.builds.push(pendingRecord(cell, state.builds.length + 1, options.estimate(cell)));
        });
        const record = await runOne(cell, slot, options);
        records.push(record);
        clearInterval(renewal);
        endInQueue(job, record, lost);
      } catch (error) {
        errors.push(error);
      } finally {
        clearInterval(renewal);
        admission.finish({ id });
        slots.give(slot);
        running.delete(id);
        wakeUp();
      }
    })();
    running.set(id, done);
  };

  const endInQueue = (job: NightJob, record: BuildRecord, lost: boolean) => {
    const id = record.id;
    // Canceled by `nightshift cancel`: ended for the whole fleet, not given back for another machine to run.
    const canceledByRequest = record.status === 'canceled' && record.reason === CANCELED_BY_REQUEST;
    if (record.status === 'succeeded' || record.status === 'failed' || record.status === 'timed_out' || canceledByRequest) ended.set(id, record);
    if ((record.status === 'canceled' && !canceledByRequest) || record.status === 'not_run') {
      // Another machine runs it: this one was stopped, or could not run it.
      if (record.status === 'not_run') notHere.add(id);
      if (!lost) inQueue(`giving ${id} back`, queue.release(job));
      return;
    }
    inQueue(
      `ending ${id}`,
      queue.finish(job, endRecord(record, options.machine)).then((how) => {
        if (how === 'taken-over' || lost) say(`${id} ${record.status} here after another machine had taken it over: the report shows the newest good result`);
      }),
    );
  };

  for (;;) {
    // Nothing new starts once the night's records cannot be kept (the error is thrown once the running builds end).
    if (signal.aborted || errors.length) break;
    const wakesBefore = wakes;
    try {
      if (admission.fits({})) {
        const job = await untilAborted(queue.take(fits), signal, (late) => inQueue('giving a build back', queue.release(late)));
        if (job !== undefined) {
          const done = ended.get(job.data.id);
          // Ended here earlier this night (Redis lost it, or it was taken over and given back): not built twice.
          if (done) inQueue(`ending ${done.id}`, queue.finish(job, endRecord(done, options.machine)));
          else start(job);
          continue;
        }
      }
      if (running.size === 0) {
        const pending = await untilAborted(queue.pending(), signal);
        if (pending === undefined || !pending.some(mayTake)) break;
      }
    } catch (error) {
      // Redis answered with an error (a lost connection only makes commands wait): tried again at the next poll.
      say(`the shared queue: ${(error as Error).message}; trying again`);
    }
    if (wakes !== wakesBefore) continue;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(resolve, options.pollMs ?? 1000);
      wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
  await Promise.all(running.values());
  stopWatching();
  // What the queue must know (ends, builds given back) is waited for; after a stop signal only briefly:
  // the locks of what does not get through run out, and other machines take those builds over.
  await (signal.aborted ? Promise.race([Promise.all(queueWork), sleep(QUEUE_SETTLE_MS)]) : Promise.all(queueWork));
  if (errors.length) throw errors[0];
  return records;
}

function endRecord(record: BuildRecord, machine: string): EndRecord {
  return { status: record.status, machine, finished_at: record.finished_at ?? new Date().toISOString() };
}

/** The promise's value, or undefined once `signal` aborts; a value that comes later goes to `late`. */
async function untilAborted<T>(promise: Promise<T>, signal: AbortSignal, late?: (value: NonNullable<T>) => void): Promise<T | undefined> {
  const handOver = () => void promise.then((value) => value != null && late?.(value)).catch(() => undefined);
  if (signal.aborted) {
    handOver();
    return undefined;
  }
  let onAbort: () => void = () => undefined;
  const aborted = new Promise<{ aborted: true }>((resolve) => {
    onAbort = () => resolve({ aborted: true });
    signal.addEventListener('abort', onAbort, { once: true });
  });
  try {
    const first = await Promise.race([promise.then((value) => ({ aborted: false as const, value })), aborted]);
    if (!first.aborted) return first.value;
    handOver();
    return undefined;
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}

// Never keeps the process alive by itself.
const sleep = (ms: number): Promise<void> => delay(ms, undefined, { ref: false });
