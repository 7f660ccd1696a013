/**
 * What a person sees while builds run: one timed line per start and finish, and on a terminal below
 * them a few lines redrawn in place (the counts, then each running build with its slot and time so far);
 * elsewhere (cron, journald, CI, a pipe) only the plain timed lines. Messages printed while builds run
 * (the command's own, warnings, a signal's) go through `say`/`warn`, so that they start on their own
 * line above the live lines instead of in the middle of one.
 */
import { colours, fitWidth } from '../output/colour.js';
import { formatDuration } from '../units.js';
import type { RunnerEvent } from './run-builds.js';

/** Where progress is drawn: the part of a command's output it uses (a command's `Io` is one). */
export interface ProgressOutput {
  /** A line (or lines) on stdout. */
  out(text: string): void;
  /** A line (or lines) on stderr. */
  err(text: string): void;
  /** Raw text on stdout (the live lines, redrawn in place). */
  write(chunk: string): Promise<void>;
  /** True when stdout is a terminal: live lines below the finished ones instead of plain lines only. */
  isTTY: boolean;
  /** True when stdout takes colour. */
  colour?: boolean;
  /** The terminal's width; live lines are cut to it so that each takes one row. */
  columns?: number;
}

export interface Progress {
  onEvent(event: RunnerEvent): void;
  /** A line on stdout above the live lines. */
  say(text: string): void;
  /** A line on stderr (a warning, a signal's message), starting on its own line above the live lines. */
  warn(text: string): void;
  stop(): void;
}

/** Running builds listed below the counts; more than this are summed up as "+N more". */
export const MAX_RUNNING_LINES = 6;

export function progress(io: ProgressOutput, total: number, now: () => number = Date.now): Progress {
  const started = now();
  const paint = colours(io);
  // Canceled builds (a signal, `nightshift cancel`) are not failures: counted apart.
  const counts = { running: 0, succeeded: 0, failed: 0, canceled: 0, notRun: 0 };
  const running = new Map<string, { slot: number; since: number }>();
  const clock = () => new Date(now()).toISOString().slice(11, 19);
  const count = (n: number, word: string, status: string) => (n ? paint.status(`${n} ${word}`, status) : `${n} ${word}`);
  const statusLine = () => {
    const pending = total - counts.running - counts.succeeded - counts.failed - counts.canceled - counts.notRun;
    return [
      count(counts.running, 'running', 'running'),
      count(counts.succeeded, 'succeeded', 'succeeded'),
      count(counts.failed, 'failed', 'failed'),
      ...(counts.canceled ? [count(counts.canceled, 'canceled', 'canceled')] : []),
      ...(counts.notRun ? [count(counts.notRun, 'not run', 'not_run')] : []),
      `${pending} pending`,
      `${formatDuration((now() - started) / 1000)} elapsed`,
    ].join(' · ');
  };
  const liveLines = () => {
    const builds = [...running].map(([id, b]) => `  ${paint.status('▸', 'running')} ${id} ${paint.dim(`slot ${b.slot} · ${formatDuration((now() - b.since) / 1000)}`)}`);
    const shown = builds.length > MAX_RUNNING_LINES ? [...builds.slice(0, MAX_RUNNING_LINES), `  +${builds.length - MAX_RUNNING_LINES} more`] : builds;
    // One row each: a line the terminal wraps would leave its first part behind when erased.
    const width = Math.max(20, (io.columns || 80) - 1);
    return [statusLine(), ...shown].map((line) => fitWidth(line, width));
  };

  // Output is only a view of the night: a terminal or pipe that fails (EPIPE) never stops it.
  const write = (text: string) => {
    try {
      io.write(text).catch(() => {});
    } catch {
      // dropped, like the rest of the output
    }
  };
  const guarded = (print: (text: string) => void, text: string) => {
    try {
      print(text);
    } catch {
      // dropped
    }
  };

  /** Rows of live lines on screen now; the cursor is at the end of the last one. */
  let drawn = 0;
  let stopped = false;
  /** Back to the first live row's start, and everything from there down cleared. */
  const erase = () => {
    if (drawn === 0) return '';
    const up = drawn > 1 ? `\x1b[${drawn - 1}F` : '\r';
    drawn = 0;
    return `${up}\x1b[J`;
  };
  const draw = () => {
    const lines = liveLines();
    drawn = lines.length;
    return lines.join('\n');
  };
  const live = io.isTTY;
  const redraw = () => {
    if (!stopped) write(erase() + draw());
  };
  const timer = live ? setInterval(redraw, 1000) : undefined;
  timer?.unref();

  /** A timed line (a start, a finish), kept above the live lines. */
  const timed = (text: string) => {
    const line = `${paint.dim(clock())} ${text}`;
    if (live && !stopped) write(`${erase()}${line}\n${draw()}`);
    else guarded((t) => io.out(t), line);
  };

  return {
    onEvent(event) {
      if (event.type === 'start') {
        counts.running++;
        running.set(event.id, { slot: event.slot, since: now() });
        timed(`${paint.status('start')} ${event.id} (slot ${event.slot})`);
        return;
      }
      // Slot 0: a build refused without running (larger than the machine's budget) never started.
      if (event.slot !== 0) counts.running--;
      running.delete(event.id);
      const record = event.record;
      if (record.status === 'succeeded') counts.succeeded++;
      else if (record.status === 'not_run') counts.notRun++;
      else if (record.status === 'canceled') counts.canceled++;
      else counts.failed++;
      const took = record.duration_s === undefined ? '' : ` after ${formatDuration(record.duration_s)}`;
      timed(`${paint.status(record.status)} ${record.id}${took}${record.reason ? ` (${record.reason})` : ''}`);
    },
    say(text) {
      if (live && !stopped && drawn > 0) write(`${erase()}${text}\n${draw()}`);
      else guarded((t) => io.out(t), text);
    },
    warn(text) {
      if (live && !stopped) {
        // Cleared on stdout first (a terminal takes both streams in order), then the message, then redrawn.
        // With nothing drawn yet the row may still hold the terminal's echo of ^C: cleared too.
        write(erase() || '\r\x1b[K');
        guarded((t) => io.err(t), text);
        redraw();
        return;
      }
      guarded((t) => io.err(t), text);
    },
    stop() {
      if (timer) clearInterval(timer);
      if (live && !stopped) write(erase());
      stopped = true;
    },
  };
}
