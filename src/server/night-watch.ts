/**
 * One poller per watched night, shared by every client of that night: it reads the night about once a
 * second (night.json with its journal applied, the fleet's last snapshot) and tells the listeners when
 * anything they would see changed. It stops when the night's last listener leaves.
 */
import { messageOf } from '../errors.js';
import type { FleetReader, FleetView } from './fleet.js';
import type { NightReader, NightView } from './night-view.js';

export interface NightSnapshot extends NightView {
  fleet: FleetView | null;
}

/** What a listener hears: the night (also its text, ready to send), or why it cannot be read now. */
export type NightUpdate = { night: NightSnapshot; text: string } | { problem: string };

export type NightListener = (update: NightUpdate) => void;

export interface NightWatchOptions {
  nights: NightReader;
  fleet?: FleetReader;
  intervalMs?: number;
}

interface Watched {
  listeners: Set<NightListener>;
  timer: NodeJS.Timeout;
  last?: NightUpdate;
  lastText?: string;
  polling?: Promise<void>;
}

export class NightWatch {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly options: NightWatchOptions) {}

  /** The night as of now, not waiting for a poll: for a page's first render and the JSON API. */
  async snapshot(date: string): Promise<NightSnapshot | undefined> {
    const view = await this.options.nights.read(date);
    return view && { ...view, fleet: this.options.fleet?.view(date) ?? null };
  }

  /** Calls `listener` with the night's state now and at every change; returns the unsubscriber. */
  subscribe(date: string, listener: NightListener): () => void {
    let entry = this.watched.get(date);
    if (!entry) {
      const created: Watched = { listeners: new Set(), timer: setInterval(() => this.poll(date, created), this.options.intervalMs ?? 1000) };
      this.watched.set(date, created);
      entry = created;
      this.poll(date, created);
    } else if (entry.last) {
      const last = entry.last;
      queueMicrotask(() => listener(last));
    }
    entry.listeners.add(listener);
    const watched = entry;
    return () => {
      watched.listeners.delete(listener);
      if (watched.listeners.size === 0 && this.watched.get(date) === watched) {
        clearInterval(watched.timer);
        this.watched.delete(date);
      }
    };
  }

  /** Stops every poller (the server is closing). */
  close(): void {
    for (const entry of this.watched.values()) clearInterval(entry.timer);
    this.watched.clear();
  }

  private poll(date: string, entry: Watched): void {
    // A slow disk must not stack reads up: a poll still running makes this one wait for the next tick.
    if (entry.polling) return;
    entry.polling = (async () => {
      let update: NightUpdate;
      try {
        const night = await this.snapshot(date);
        update = night ? { night, text: JSON.stringify(night) } : { problem: `night ${date} has no night.json (any more)` };
      } catch (error) {
        update = { problem: messageOf(error) };
      }
      const text = 'text' in update ? update.text : `problem:${update.problem}`;
      if (text === entry.lastText) return;
      entry.last = update;
      entry.lastText = text;
      for (const listener of entry.listeners) listener(update);
    })().finally(() => (entry.polling = undefined));
  }
}
