/**
 * The shared queue's figures for /metrics: how many builds of the night wait, run and have ended on the
 * fleet, read-only through the fleet snapshot with a short timeout. Redis being down, slow, or named by a
 * bad NIGHTSHIFT_REDIS_URL is a figure (down), never a failed scrape; the URL itself is never returned.
 */
import type { Schedule } from '../config/model.js';
import { resolveRedisUrl } from '../config/queue-url.js';
import { readFleetSnapshot } from '../queue/fleet-snapshot.js';

export type QueueFigures = { up: false } | { up: true; waiting: number; running: number; ended: number };

/**
 * How long a scrape waits for Redis. The snapshot may take up to three times this (connect, then the
 * reads), which stays within Prometheus' default scrape timeout of 10 s.
 */
export const QUEUE_TIMEOUT_MS = 1500;

export async function readQueueFigures(schedule: Schedule, date: string, env: NodeJS.ProcessEnv = process.env): Promise<QueueFigures> {
  try {
    const resolved = resolveRedisUrl(schedule, env);
    if (resolved === undefined) return { up: false };
    const snapshot = await readFleetSnapshot({ url: resolved.url, schedule: schedule.name, date, timeoutMs: QUEUE_TIMEOUT_MS });
    return { up: true, waiting: snapshot.waiting.length, running: snapshot.running.length, ended: snapshot.ended.length };
  } catch {
    return { up: false };
  }
}
