/**
 * The first line of a build's log that says what went wrong, for the morning report: the tail of a
 * failed build's log shows how it ended (often a traceback's last frame or `+ exit 1`), the first
 * error line shows why. The scanner is pure; the reader streams a log once, bounded in bytes and lines.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';

/** A minified or generated line is cut here: the report shows one line, not a page. */
export const FIRST_ERROR_MAX_CHARS = 300;
/** How much of a log the reader looks at: an error that late is after the build's real failure anyway. */
export const FIRST_ERROR_MAX_BYTES = 16 * 1024 * 1024;

// What compilers, linkers, make, ninja, CMake, pip, conda and Python say when they fail. A strong line
// names the error itself; a weak one only says that something failed (ninja's `FAILED: target` comes
// before the compiler's message, `make: *** Error 2` after it), so it is shown only when no strong one is.
const STRONG: readonly RegExp[] = [
  /\berror\s*:/i,
  /\bfatal\b/i,
  /^\s*[\w.]*(?:Error|Exception)\b:/,
  /No such file or directory/,
  /\bundefined reference to\b/,
  /\bSegmentation fault\b/,
  /\bcommand not found\b/,
];
const WEAK: readonly RegExp[] = [/\bFAILED\b/, /\bError\b/, /\b[A-Z]\w*Error\b/, /^Traceback \(most recent call last\)/];

/** nightshift's own lines in a build's log (the header before the build and the footer after it). */
const isNightshiftLine = (line: string) => line.startsWith('nightshift: ');

/** Terminal colours and progress redraws: the last frame of a `\r`-redrawn line, without escapes. */
function plainLine(line: string): string {
  const frames = line.split('\r').filter((frame) => frame.trim() !== '');
  // Control characters are what this removes: no-control-regex is for patterns that match them by mistake.
  // eslint-disable-next-line no-control-regex
  return (frames.at(-1) ?? '').replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
}

/** `line` cut to `FIRST_ERROR_MAX_CHARS` characters (not UTF-16 halves), trimmed. */
function capped(line: string): string {
  const chars = Array.from(line.trim());
  return chars.length > FIRST_ERROR_MAX_CHARS ? `${chars.slice(0, FIRST_ERROR_MAX_CHARS - 1).join('')}…` : chars.join('');
}

/** How strongly a log line says what went wrong: 2 names the error, 1 only says something failed, 0 neither. */
export function errorStrength(line: string): 0 | 1 | 2 {
  if (isNightshiftLine(line) || line.trim() === '') return 0;
  if (STRONG.some((pattern) => pattern.test(line))) return 2;
  return WEAK.some((pattern) => pattern.test(line)) ? 1 : 0;
}

/** Keeps the first strong error line, else the first weak one, of the lines it is given in order. */
export class FirstErrorScanner {
  private weak: string | null = null;
  private strong: string | null = null;

  /** Looks at the next line; true once a strong line is found (nothing later can change the answer). */
  push(raw: string): boolean {
    if (this.strong !== null) return true;
    // Matching on a bounded prefix keeps one multi-megabyte line from costing a regex pass over all of it.
    const line = plainLine(raw.length > 4 * FIRST_ERROR_MAX_CHARS ? raw.slice(0, 4 * FIRST_ERROR_MAX_CHARS) : raw);
    const strength = errorStrength(line);
    if (strength === 2) this.strong = capped(line);
    else if (strength === 1 && this.weak === null) this.weak = capped(line);
    return this.strong !== null;
  }

  get result(): string | null {
    return this.strong ?? this.weak;
  }
}

/** The first error line among `lines` (nightshift's own lines skipped), or null. */
export function firstErrorLine(lines: Iterable<string>): string | null {
  const scanner = new FirstErrorScanner();
  for (const line of lines) if (scanner.push(line)) break;
  return scanner.result;
}

/**
 * Reads a log file once, streaming, and returns its first error line (null when it has none or cannot
 * be read). At most `maxBytes` are read, and reading stops at the first strong error line.
 */
export async function scanLogForFirstError(file: string, maxBytes = FIRST_ERROR_MAX_BYTES): Promise<string | null> {
  const scanner = new FirstErrorScanner();
  const stream = createReadStream(file, { start: 0, end: Math.max(0, maxBytes - 1), encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  try {
    for await (const line of lines) if (scanner.push(line)) break;
  } catch {
    // A log that cannot be read has no first error line to show; what was read so far still counts.
  } finally {
    lines.close();
    stream.destroy();
  }
  return scanner.result;
}
