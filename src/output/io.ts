/**
 * Where command output goes: the `Io` every command (and live progress) writes to, and `processIo`, the
 * process's own stdout and stderr. Tests pass their own `Io`.
 */
import { colourWanted } from './colour.js';

export interface Io {
  /** A line (or lines) on stdout. */
  out(text: string): void;
  /** A line (or lines) on stderr. */
  err(text: string): void;
  /** Raw bytes on stdout, resolving when the stream can take more (so huge logs stream in bounded memory). */
  write(chunk: string | Uint8Array): Promise<void>;
  /** True when stdout is a terminal: live progress instead of plain lines. */
  isTTY: boolean;
  /** True when stdout takes colour (`colourWanted` decides); absent means plain text. */
  colour?: boolean;
  /** The terminal's width, when stdout is one: live lines are cut to it so that redrawing stays in place. */
  columns?: number;
}

const line = (text: string) => (text.endsWith('\n') ? text : `${text}\n`);

/**
 * Whether stdout/stderr failed for good: a reader that went away (`nightshift run | head -1`) gives
 * EPIPE, a vanished terminal EIO. Output is only a view of the night, so from then on it is dropped and
 * the night goes on (its log and night.json are the record).
 */
const broken = { stdout: false, stderr: false };

/** Installs the 'error' handlers that keep an output error from killing the process; cli.ts calls it once. */
export function guardProcessOutput(): void {
  for (const name of ['stdout', 'stderr'] as const) {
    process[name].on('error', () => {
      broken[name] = true;
    });
  }
}

function put(name: 'stdout' | 'stderr', chunk: string | Uint8Array): Promise<void> {
  const stream = process[name];
  if (broken[name] || stream.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    const done = () => {
      stream.off('drain', done);
      stream.off('error', done);
      stream.off('close', done);
      resolve();
    };
    try {
      if (stream.write(chunk)) {
        resolve();
        return;
      }
    } catch {
      // Written after the stream was destroyed: dropped like any other output error.
      broken[name] = true;
      resolve();
      return;
    }
    stream.once('drain', done).once('error', done).once('close', done);
  });
}

export const processIo: Io = {
  out: (text) => void put('stdout', line(text)),
  err: (text) => void put('stderr', line(text)),
  write: (chunk) => put('stdout', chunk),
  // @types/node says boolean; on a pipe or a file stdout has no isTTY at all (undefined).
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion
  isTTY: Boolean(process.stdout.isTTY),
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-conversion
  colour: colourWanted({ isTTY: Boolean(process.stdout.isTTY), env: process.env }),
  get columns() {
    // Undefined on a pipe; a resized terminal reports its new width here.
    return process.stdout.columns as number | undefined;
  },
};
