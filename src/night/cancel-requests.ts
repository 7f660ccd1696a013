/**
 * Requests to cancel builds of a running night: one file per build, `<night>/cancel/<id>`, holding
 * `{requested_at, pid, host}` of whoever asked. `nightshift cancel ID...` writes them; the night's runner
 * watches the folder (watchCancelRequests), stops or drops each build named and removes its request once
 * handled; a run removes them all when it starts and ends, so a request never outlives the run it was for.
 * The one reader and writer of the format.
 */
import { mkdir, readdir, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { ExitCode, NightshiftError } from '../errors.js';
import { writeJsonAtomic } from '../files.js';
import type { NightLayout } from './layout.js';

/** The reason recorded for a build canceled by a request (never retried, never given back to the shared queue). */
export const CANCELED_BY_REQUEST = 'canceled by nightshift cancel';

/** How often a runner looks for new requests: cheap (one readdir), and quick enough for a person waiting. */
export const CANCEL_POLL_MS = 500;

export interface CancelRequest {
  requested_at: string;
  pid: number;
  host: string;
}

export function cancelRequestDir(layout: NightLayout): string {
  return path.join(layout.dir, 'cancel');
}

export function cancelRequestPath(layout: NightLayout, id: string): string {
  return path.join(cancelRequestDir(layout), checkedId(id));
}

/** Asks the night's runner to cancel build `id`. */
export async function writeCancelRequest(layout: NightLayout, id: string, now: Date = new Date()): Promise<void> {
  await mkdir(cancelRequestDir(layout), { recursive: true });
  const request: CancelRequest = { requested_at: now.toISOString(), pid: process.pid, host: os.hostname() };
  await writeJsonAtomic(cancelRequestPath(layout, id), request);
}

/** The ids with a request, sorted; none when the folder does not exist. Temporary files (dot names) are not requests. */
export async function listCancelRequests(layout: NightLayout): Promise<string[]> {
  try {
    const names = await readdir(cancelRequestDir(layout));
    return names.filter((name) => !name.startsWith('.')).sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

export async function removeCancelRequest(layout: NightLayout, id: string): Promise<void> {
  await rm(cancelRequestPath(layout, id), { force: true });
}

/** Removes every request (and the folder): a run starting or ending leaves none behind. */
export async function clearCancelRequests(layout: NightLayout): Promise<void> {
  await rm(cancelRequestDir(layout), { recursive: true, force: true });
}

/** What a runner sees of the requests while its builds run. */
export interface CancelWatch {
  /** Aborted once a request names build `id` (already aborted when one did before). */
  signalFor(id: string): AbortSignal;
  /** True once a request named build `id` in this run. */
  requested(id: string): boolean;
  /** Calls `listener` with the id of each request as it is found (and at once with those found before); returns the remover. */
  onRequest(listener: (id: string) => void): () => void;
  /** The build named ended: the request's file is removed. */
  handled(id: string): Promise<void>;
  /** The request names a build this run does not run (or no longer starts): it is removed and forgotten. */
  dismiss(id: string): Promise<void>;
  /** Stops looking (the run is over). */
  stop(): void;
}

/** Looks for requests every `pollMs` until stopped: one readdir a poll, whatever the night's size. */
export function watchCancelRequests(layout: NightLayout, options: { pollMs?: number } = {}): CancelWatch {
  const controllers = new Map<string, AbortController>();
  // Requests found and not yet handled: a request written again after it was handled is news again.
  const pending = new Set<string>();
  const listeners = new Set<(id: string) => void>();
  const controllerOf = (id: string) => {
    let controller = controllers.get(id);
    if (!controller) controllers.set(id, (controller = new AbortController()));
    return controller;
  };
  let polling = false;
  const poll = async () => {
    if (polling) return;
    polling = true;
    try {
      for (const id of await listCancelRequests(layout)) {
        if (pending.has(id)) continue;
        pending.add(id);
        controllerOf(id).abort(new Error(CANCELED_BY_REQUEST));
        for (const listener of listeners) listener(id);
      }
    } catch {
      // The folder could not be read this time (being removed, a passing file system error): the next poll tries again.
    } finally {
      polling = false;
    }
  };
  const timer = setInterval(() => void poll(), options.pollMs ?? CANCEL_POLL_MS);
  timer.unref();
  return {
    signalFor: (id) => controllerOf(id).signal,
    requested: (id) => controllers.get(id)?.signal.aborted ?? false,
    onRequest(listener) {
      listeners.add(listener);
      for (const id of [...pending]) listener(id);
      return () => void listeners.delete(listener);
    },
    async handled(id) {
      await removeCancelRequest(layout, id);
      pending.delete(id);
    },
    async dismiss(id) {
      controllers.delete(id);
      await removeCancelRequest(layout, id);
      pending.delete(id);
    },
    stop: () => clearInterval(timer),
  };
}

/** Build ids are safe file names (README: letters, digits, `.`, `+`, `-`, `_`); anything else is refused before it becomes a path. */
function checkedId(id: string): string {
  if (/^[A-Za-z0-9+_-][A-Za-z0-9.+_-]*$/.test(id)) return id;
  throw new NightshiftError(`${JSON.stringify(id)} is not a build id: ids hold letters, digits, ".", "+", "-" and "_" only`, ExitCode.usage);
}
