/**
 * A night's builds from the schedule's shared queue, as runNight runs them: open the queue, add the
 * night (the first machine's add wins), run what this machine takes, and keep night.json and the master
 * log told when Redis goes away and comes back.
 */
import type { Cell } from '../config/model.js';
import { redactedRedisUrl } from '../config/queue-url.js';
import { openNightQueue, type NightCell } from '../queue/night-queue.js';
import type { BuildRecord } from '../night/state.js';
import { runQueuedBuilds, type QueuedBuildsOptions } from './queued-builds.js';

export interface QueuedNightOptions extends Omit<QueuedBuildsOptions, 'queue' | 'cells' | 'ended' | 'leaseMs' | 'say'> {
  queue: { url: string; leaseMs: number; night: readonly NightCell[] };
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
  const onConnection = (up: boolean) => {
    // ioredis reports every failed reconnect: only a change is news.
    if (up === reachable) return;
    reachable = up;
    const at = new Date().toISOString();
    tell(up ? `the shared queue at ${shown} is reachable again` : `the shared queue at ${shown} cannot be reached; running builds go on, nothing new starts until it is back`);
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
  const queue = await openNightQueue({
    url: options.queue.url,
    schedule: options.schedule,
    date: options.date,
    machine: options.machine,
    leaseMs: options.queue.leaseMs,
    onConnection,
  });
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
