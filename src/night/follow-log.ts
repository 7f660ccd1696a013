/**
 * Reading a build's log wherever it is, and following it while it runs. The follower only reads: it
 * can start and stop any number of times without touching the build. It keeps its file descriptor when
 * the runner renames the log from running/ to succeeded/ or failed/, so nothing is missed or repeated.
 * `<id>.log` is always the newest attempt's: earlier ones are renamed aside before a build starts again.
 */
import { open, readdir, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { finishedLog, runningLog, type NightLayout } from './layout.js';

const CHUNK = 64 * 1024;

/** The log's current path: running/, then succeeded/ or failed/. */
export async function openBuildLog(layout: NightLayout, id: string): Promise<FileHandle | undefined> {
  for (const file of [runningLog(layout, id), finishedLog(layout, id, 'succeeded'), finishedLog(layout, id, 'failed')]) {
    const handle = await open(file, 'r').catch(() => undefined);
    if (handle) return handle;
  }
  return undefined;
}

/** Logs of the build's earlier attempts (`<status>/<id>.attempt-<N>.log`, see attempt-logs.ts), oldest first. */
export async function earlierAttemptLogs(layout: NightLayout, id: string): Promise<string[]> {
  return (await attemptLogs(layout, id)).map((f) => f.file);
}

/** The build's earlier attempts' logs with their numbers, first attempt first. */
export async function attemptLogs(layout: NightLayout, id: string): Promise<{ file: string; attempt: number }[]> {
  const found: { file: string; attempt: number }[] = [];
  for (const folder of [layout.logs.succeeded, layout.logs.failed]) {
    for (const name of await readdir(folder).catch(() => [] as string[])) {
      const n = name.startsWith(`${id}.attempt-`) ? /^\.attempt-(\d+)\.log$/.exec(name.slice(id.length))?.[1] : undefined;
      if (n !== undefined) found.push({ file: path.join(folder, name), attempt: Number(n) });
    }
  }
  return found.sort((a, b) => a.attempt - b.attempt);
}

/** Copies the file from `position` to its current end; returns the new position. */
export async function copyFrom(handle: FileHandle, position: number, write: (chunk: Uint8Array) => Promise<void>): Promise<number> {
  const buffer = Buffer.alloc(CHUNK);
  for (;;) {
    const { bytesRead } = await handle.read(buffer, 0, CHUNK, position);
    if (bytesRead === 0) return position;
    position += bytesRead;
    await write(buffer.subarray(0, bytesRead));
  }
}

export interface FollowOptions {
  layout: NightLayout;
  id: string;
  write: (chunk: Uint8Array) => Promise<void>;
  /** True once the build has ended (its log then holds everything). */
  ended: () => Promise<boolean>;
  pollMs?: number;
  signal?: AbortSignal;
}

/** Streams the log as it grows until the build ends (or the signal aborts the follower). */
export async function followLog(options: FollowOptions): Promise<void> {
  const pollMs = options.pollMs ?? 250;
  let handle = await openBuildLog(options.layout, options.id);
  while (!handle) {
    if (await options.ended()) return;
    await sleep(pollMs, undefined, { signal: options.signal });
    handle = await openBuildLog(options.layout, options.id);
  }
  try {
    let position = 0;
    for (;;) {
      // Ask "ended?" before reading, so the last read after it surely sees the final line.
      const ended = await options.ended();
      position = await copyFrom(handle, position, options.write);
      if (ended) return;
      // A retried build's attempt log is renamed aside, complete, and the next attempt writes a new one.
      const next = await newerLog(options, handle);
      if (next) {
        await copyFrom(handle, position, options.write);
        await handle.close();
        [handle, position] = [next, 0];
        continue;
      }
      await sleep(pollMs, undefined, { signal: options.signal });
    }
  } finally {
    await handle.close();
  }
}

/** The build's log when it is another file than the one followed (a new attempt's), else undefined. */
async function newerLog(options: FollowOptions, followed: FileHandle): Promise<FileHandle | undefined> {
  const current = await openBuildLog(options.layout, options.id);
  if (!current) return undefined;
  const [a, b] = await Promise.all([current.stat(), followed.stat()]);
  if (a.ino !== b.ino || a.dev !== b.dev) return current;
  await current.close();
  return undefined;
}
