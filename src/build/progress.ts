/**
 * What a person sees while builds run: on a terminal, one status line redrawn in place with finished
 * builds printed above it; elsewhere (cron, journald, CI) one plain line per event.
 */
import type { Io } from '../output/io.js';
import { formatDuration } from '../units.js';
import type { RunnerEvent } from './runner.js';

export interface Progress {
  onEvent(event: RunnerEvent): void;
  stop(): void;
}

export function progress(io: Io, total: number, now: () => number = Date.now): Progress {
  const started = now();
  const counts = { running: 0, succeeded: 0, failed: 0, notRun: 0 };
  const clock = () => new Date(now()).toISOString().slice(11, 19);
  const statusLine = () => {
    const pending = total - counts.running - counts.succeeded - counts.failed - counts.notRun;
    const notRun = counts.notRun ? ` · ${counts.notRun} not run` : '';
    return `${counts.running} running · ${counts.succeeded} succeeded · ${counts.failed} failed${notRun} · ${pending} pending · ${formatDuration((now() - started) / 1000)} elapsed`;
  };
  // Output is only a view of the night: a terminal or pipe that fails (EPIPE) never stops it.
  const write = (text: string) => {
    try {
      io.write(text).catch(() => {});
    } catch {
      // dropped, like the rest of the output
    }
  };
  const out = (text: string) => {
    try {
      io.out(text);
    } catch {
      // dropped
    }
  };
  const redraw = () => write(`\r\x1b[K${statusLine()}`);
  const timer = io.isTTY ? setInterval(redraw, 1000) : undefined;
  timer?.unref();

  const say = (text: string) => {
    if (io.isTTY) write(`\r\x1b[K${text}\n${statusLine()}`);
    else out(`${clock()} ${text}`);
  };

  return {
    onEvent(event) {
      if (event.type === 'start') {
        counts.running++;
        if (!io.isTTY) say(`start ${event.id} (slot ${event.slot})`);
        else redraw();
        return;
      }
      // Slot 0: a build refused without running (larger than the machine's budget) never started.
      if (event.slot !== 0) counts.running--;
      const record = event.record;
      if (record.status === 'succeeded') counts.succeeded++;
      else if (record.status === 'not_run') counts.notRun++;
      else counts.failed++;
      const took = record.duration_s === undefined ? '' : ` after ${formatDuration(record.duration_s)}`;
      say(`${record.status} ${record.id}${took}${record.reason ? ` (${record.reason})` : ''}`);
    },
    stop() {
      if (timer) clearInterval(timer);
      if (io.isTTY) write(`\r\x1b[K`);
    },
  };
}
