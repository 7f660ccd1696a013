/**
 * `--json` output: the one JSON document a command prints on stdout for scripts, and the `Io` that
 * keeps everything else (messages, live logs, progress) off stdout so that the document parses.
 */
import type { Io } from './io.js';

/** The command's answer as JSON on stdout: two-space indented, one document, nothing else. */
export function printJson(io: Io, value: unknown): void {
  io.out(JSON.stringify(value, null, 2));
}

/** An `Io` whose output may hold a partial line that `flush` writes out. */
export interface FlushingIo extends Io {
  /** Writes what `write` left without its newline; call it once the output is done. */
  flush(): void;
}

/** A partial line longer than this goes out as it is: a log without newlines must not fill memory. */
const MAX_PARTIAL_LINE = 64 * 1024;

/**
 * Where a command's human output goes: `io` itself, or with `json` stderr for all of it (lines, and raw
 * chunks such as a live log, passed on whole lines at a time), so stdout holds only the JSON.
 */
export function humanOutput(io: Io, json: boolean | undefined): FlushingIo {
  if (!json)
    return {
      out: (text) => io.out(text),
      err: (text) => io.err(text),
      write: (chunk) => io.write(chunk),
      isTTY: io.isTTY,
      colour: io.colour,
      columns: io.columns,
      flush: () => {},
    };
  let partial = '';
  const decoder = new TextDecoder();
  return {
    out: (text) => io.err(text),
    err: (text) => io.err(text),
    write: (chunk) => {
      partial += typeof chunk === 'string' ? chunk : decoder.decode(chunk, { stream: true });
      const end = partial.lastIndexOf('\n');
      if (end >= 0) {
        io.err(partial.slice(0, end + 1));
        partial = partial.slice(end + 1);
      }
      if (partial.length > MAX_PARTIAL_LINE) {
        io.err(partial);
        partial = '';
      }
      return Promise.resolve();
    },
    // Not a terminal: stderr gets plain lines, never a status line redrawn in place.
    isTTY: false,
    flush: () => {
      partial += decoder.decode();
      if (partial) io.err(partial);
      partial = '';
    },
  };
}
