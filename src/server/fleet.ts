/**
 * The fleet's part of the live page, when the schedule shares its nights through a queue: what runs
 * where, what waits, what ended, read from Redis (read-only, src/queue/fleet-snapshot.ts) at most every
 * few seconds per night however many pages watch it. Redis down is a notice on the page, never an error.
 */
import type { Schedule } from '../config/model.js';
import { redactedRedisUrl, resolveRedisUrl } from '../config/queue-url.js';
import { messageOf } from '../errors.js';
import { readFleetSnapshot, type FleetSnapshot } from '../queue/fleet-snapshot.js';

/** How old a fleet snapshot may get before a page's next poll reads the queue again. */
const REFRESH_MS = 5000;

export type FleetView =
  | { state: 'reading'; url: string }
  | { state: 'live'; url: string; running: FleetSnapshot['running']; waiting: FleetSnapshot['waiting']; ended: FleetSnapshot['ended'] }
  | { state: 'absent'; url: string }
  | { state: 'unreachable'; url: string; problem: string };

export interface FleetReaderOptions {
  schedule: Pick<Schedule, 'name' | 'file' | 'queue'>;
  env?: NodeJS.ProcessEnv;
  /** How long one read waits for Redis (default the snapshot's own, 3 s). */
  timeoutMs?: number;
}

/** Remembers each night's last snapshot; a read in flight is never started twice. */
export class FleetReader {
  private readonly url: { url: string; shown: string } | undefined;
  private readonly nights = new Map<string, { at: number; view: FleetView; reading: Promise<void> | undefined }>();

  constructor(private readonly options: FleetReaderOptions) {
    const resolved = resolveRedisUrl(options.schedule, options.env);
    this.url = resolved && { url: resolved.url, shown: redactedRedisUrl(resolved.url) };
  }

  /** The night's last known fleet (null without a queue), starting a new read in the background when it is old. */
  view(date: string): FleetView | null {
    if (!this.url) return null;
    const known = this.nights.get(date) ?? { at: 0, view: { state: 'reading', url: this.url.shown }, reading: undefined };
    this.nights.set(date, known);
    if (!known.reading && Date.now() - known.at >= REFRESH_MS) {
      known.reading = this.readOnce(date).then((view) => {
        Object.assign(known, { at: Date.now(), view, reading: undefined });
      });
    }
    return known.view;
  }

  /** Waits for the reads in flight (a closing server lets them finish, so no Redis connection outlives it). */
  async settle(): Promise<void> {
    await Promise.all([...this.nights.values()].map((night) => night.reading ?? Promise.resolve()));
  }

  private async readOnce(date: string): Promise<FleetView> {
    const { url, shown } = this.url!;
    try {
      const snapshot = await readFleetSnapshot({ url, schedule: this.options.schedule.name, date, timeoutMs: this.options.timeoutMs });
      if (!snapshot.exists) return { state: 'absent', url: shown };
      return { state: 'live', url: shown, running: snapshot.running, waiting: snapshot.waiting, ended: snapshot.ended };
    } catch (error) {
      // readFleetSnapshot's messages show the URL redacted.
      return { state: 'unreachable', url: shown, problem: messageOf(error) };
    }
  }
}
