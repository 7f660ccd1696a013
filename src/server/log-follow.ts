/**
 * Following a build's log for the page: like src/night/follow-log.ts's followLog (same files, same
 * copyFrom, same switch to a retried build's new log), but able to start anywhere in the file: at the
 * last TAIL_BYTES of a big log, or where a reconnecting browser left off. Reads from disk in chunks and
 * hands each on before reading the next: never the whole log in memory.
 */
import type { FileHandle } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { copyFrom, openBuildLog } from '../night/follow-log.js';
import type { NightLayout } from '../night/layout.js';

/** A log bigger than this starts at its last TAIL_BYTES; the whole of it is one link away (log.txt). */
export const TAIL_BYTES = 256 * 1024;

/** Where in which file: a browser hands it back when it reconnects (the event id). */
export interface LogPosition {
  file: string;
  offset: number;
}

export interface FollowFromOptions {
  layout: NightLayout;
  id: string;
  /** Where to go on; undefined = from the start, or the tail of a big log. */
  from?: LogPosition;
  /** Bytes from the log, and where the file stands after them. */
  write: (chunk: Uint8Array, position: LogPosition) => Promise<void>;
  /** Called once when a big log is followed from its tail: how many bytes were left out. */
  skipped: (bytes: number, size: number) => Promise<void>;
  /** True once the build has ended (its log then holds everything). */
  ended: () => boolean | Promise<boolean>;
  signal: AbortSignal;
  pollMs?: number;
}

/** Streams the log until the build ends or the signal aborts; resolves either way. */
export async function followFrom(options: FollowFromOptions): Promise<void> {
  const pollMs = options.pollMs ?? 250;
  const idle = () =>
    sleep(pollMs, undefined, { signal: options.signal }).then(
      () => true,
      () => false,
    );
  let handle = await openBuildLog(options.layout, options.id);
  while (!handle) {
    if ((await options.ended()) || !(await idle())) return;
    handle = await openBuildLog(options.layout, options.id);
  }
  try {
    let file = await fileKey(handle);
    let position = await startOf(handle, file, options);
    // Copies what the file holds beyond `position`; stops reading as soon as the client is gone.
    const copy = (from: FileHandle) =>
      copyFrom(from, position, (chunk) => {
        options.signal.throwIfAborted();
        position += chunk.length;
        return options.write(chunk, { file, offset: position });
      });
    for (;;) {
      // Ask "ended?" before reading, so the last read after it surely sees the final line.
      const ended = await options.ended();
      await copy(handle);
      if (ended) return;
      // A retried build's attempt log is renamed aside, complete, and the next attempt writes a new file.
      const current = await openBuildLog(options.layout, options.id);
      if (current && (await fileKey(current)) !== file) {
        await copy(handle);
        await handle.close();
        handle = current;
        file = await fileKey(handle);
        position = 0;
        continue;
      }
      await current?.close();
      if (!(await idle())) return;
    }
  } catch (error) {
    if (!options.signal.aborted) throw error;
  } finally {
    await handle.close();
  }
}

/** Which file this is, across renames (running/ → succeeded/): its device and inode. */
async function fileKey(handle: FileHandle): Promise<string> {
  const { dev, ino } = await handle.stat();
  return `${dev}.${ino}`;
}

/** The offset to start at: where a reconnecting client left this very file, else 0, or the tail of a big log. */
async function startOf(handle: FileHandle, file: string, options: FollowFromOptions): Promise<number> {
  const { size } = await handle.stat();
  if (options.from?.file === file && options.from.offset <= size) return options.from.offset;
  if (size <= TAIL_BYTES) return 0;
  // Start at the first whole line of the tail.
  const probe = Buffer.alloc(4096);
  let start = size - TAIL_BYTES;
  const { bytesRead } = await handle.read(probe, 0, probe.length, start);
  const newline = probe.subarray(0, bytesRead).indexOf(0x0a);
  if (newline >= 0) start += newline + 1;
  await options.skipped(start, size);
  return start;
}
