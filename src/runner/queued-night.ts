/**
 * A night's builds from the schedule's shared queue, as runNight runs them: open the queue, add the
 * night (the first machine's add wins), run what this machine takes, and keep night.json and the master
 * log told when Redis goes away and comes back.
 */
import { setTimeout as delay } from 'node:timers/promises';
import type { Cell } from '../config/model.js';
import { redactedRedisUrl } from '../config/queue-url.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { openNightQueue, type NightCell, type NightQueue, type NightQueueOptions } from '../queue/night-queue.js';
import { formatDuration } from '../units.js';
import type { BuildRecord } from '../night/state.js';
import { runQueuedBuilds, type QueuedBuildsOptions } from './queued-builds.js';

export interface QueuedNightOptions extends Omit<QueuedBuildsOptions, 'queue' | 'cells' | 'ended' | 'leaseMs' | 'say'> {
  queue: { url: string; leaseMs: number; startWaitMs: number; night: readonly NightCell[] };
  schedule: string;
  date: string;
  /** The cells this machine may build. */
  cells: readonly Cell[];
  ended: readonly BuildRecord[];
  say: (line: string) => void;
  /** A line in the night's master log. */
  master: (line: string) => Promise<void>;
}

export async function runFromQueue(options: QueuedNightOptions): Promise<BuildRecord[]> {
  const { store, say, master } = options;
  const shown = redactedRedisUrl(options.queue.url);
  const tell = (line: string) => {
    say(line);
    void master(line).catch(() => undefined);
  };
  let bookkeeping = Promise.resolve();
  let reachable = true;
  const onConnection = (up: boolean, line?: string) => {
    // ioredis reports every failed reconnect: only a change is news.
    if (up === reachable) return;
    reachable = up;
    const at = new Date().toISOString();
    tell(
      line ??
        (up ? `the shared queue at ${shown} is reachable again` : `the shared queue at ${shown} cannot be reached; running builds go on, nothing new starts until it is back`),
    );
    bookkeeping = bookkeeping
      .then(() =>
        store.update((state) => {
          const outages = [...(state.queue?.outages ?? [])];
          if (up && outages.length && outages.at(-1)!.to === undefined) outages[outages.length - 1] = { ...outages.at(-1)!, to: at };
          if (!up) outages.push({ from: at });
          state.queue = { url: shown, ...(up ? {} : { unreachable_since: state.queue?.unreachable_since ?? at }), outages };
        }),
      )
      .then(
        () => undefined,
        () => undefined,
      );
  };
  const queue = await openWhenReachable(
    { url: options.queue.url, schedule: options.schedule, date: options.date, machine: options.machine, leaseMs: options.queue.leaseMs, onConnection },
    {
      waitMs: options.queue.startWaitMs,
      signal: options.signal,
      // Recorded as an outage of the night, as one during the night is.
      down: (up) =>
        onConnection(
          up,
          up
            ? undefined
            : `the shared queue at ${shown} cannot be reached; waiting up to ${formatDuration(options.queue.startWaitMs / 1000)} for it before the night's builds start`,
        ),
    },
  );
  if (queue === undefined) return []; // stopped while waiting: every build stays pending
  try {
    await queue.addNight(options.queue.night);
    await master(`builds come from the shared queue at ${shown} (${options.queue.night.length} cell(s) in the night, ${options.cells.length} this machine may build)`);
    return await runQueuedBuilds({
      ...options,
      queue,
      cells: new Map(options.cells.map((cell) => [cell.id, cell])),
      ended: new Map(options.ended.map((record) => [record.id, record])),
      leaseMs: options.queue.leaseMs,
      say: tell,
    });
  } finally {
    await queue.close();
    await bookkeeping;
  }
}

/** How long between tries to reach Redis at a night's start, at most. */
const RETRY_MS = 30_000;

/**
 * Opens the night's queue, waiting up to `waitMs` for a Redis that cannot be reached yet (restarting,
 * a network blip at midnight): the night starts late rather than not at all. `down` is told when it
 * waits and when Redis answers, as during the night. Undefined when stopped while waiting.
 */
async function openWhenReachable(queueOptions: NightQueueOptions, wait: { waitMs: number; signal: AbortSignal; down: (up: boolean) => void }): Promise<NightQueue | undefined> {
  const deadline = Date.now() + wait.waitMs;
  let pause = 1000;
  for (let waited = false; ; waited = true) {
    try {
      const queue = await openNightQueue(queueOptions);
      if (waited) wait.down(true);
      return queue;
    } catch (error) {
      if (!(error instanceof NightshiftError) || error.exitCode !== ExitCode.serviceUnavailable) throw error;
      if (Date.now() >= deadline) {
        if (!waited) throw error;
        throw new NightshiftError(error.message.replace(/\. Check /, ` (waited ${formatDuration(wait.waitMs / 1000)}, queue.wait_at_start). Check `), error.exitCode, {
          cause: error,
        });
      }
      if (!waited) wait.down(false);
    }
    await delay(Math.min(pause, deadline - Date.now()), undefined, { signal: wait.signal }).catch(() => undefined);
    if (wait.signal.aborted) return undefined;
    pause = Math.min(pause * 2, RETRY_MS);
  }
}
