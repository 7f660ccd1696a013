/* eslint-disable no-control-regex -- the terminal's escape sequences are what these tests read */
import { describe, expect, it } from 'vitest';
import { progress } from '../../src/runner/progress.js';
import type { BuildRecord } from '../../src/night/state.js';

function fakeIo(isTTY: boolean, colour = false) {
  const written: string[] = [];
  return {
    io: {
      out: (t: string) => void written.push(`${t}\n`),
      err: (t: string) => void written.push(`[err]${t}\n`),
      write: (c: string | Uint8Array) => (written.push(String(c)), Promise.resolve()),
      isTTY,
      colour,
      columns: 80,
    },
    written,
  };
}

const record = (id: string, status: BuildRecord['status'], extra: Partial<BuildRecord> = {}): BuildRecord => ({
  id,
  package: 'p',
  axes: {},
  executor: 'docker',
  image: null,
  status,
  order: 1,
  estimate_s: 60,
  attempt: 1,
  ...extra,
});

describe('progress', () => {
  it('prints one plain line per event without a terminal', () => {
    let now = Date.parse('2026-11-22T08:00:00Z');
    const { io, written } = fakeIo(false);
    const p = progress(io, 3, () => now);
    p.onEvent({ type: 'start', id: 'a_1', slot: 1 });
    now += 65_000;
    p.onEvent({ type: 'finish', id: 'a_1', slot: 1, record: record('a_1', 'failed', { duration_s: 65, reason: 'exit code 2' }) });
    p.stop();
    expect(written.join('')).toBe('08:00:00 start a_1 (slot 1)\n08:01:05 failed a_1 after 1m5s (exit code 2)\n');
  });

  it('on a terminal keeps the timed start and finish lines, with the counts and running builds redrawn below', () => {
    let now = Date.parse('2026-11-22T08:00:00Z');
    const { io, written } = fakeIo(true);
    const p = progress(io, 3, () => now);
    p.onEvent({ type: 'start', id: 'a_1', slot: 1 });
    p.onEvent({ type: 'start', id: 'a_2', slot: 2 });
    now += 90_000;
    p.onEvent({ type: 'finish', id: 'a_1', slot: 1, record: record('a_1', 'succeeded', { duration_s: 90 }) });
    p.stop();
    expect(written[0]).toBe('08:00:00 start a_1 (slot 1)\n1 running · 0 succeeded · 0 failed · 2 pending · 0s elapsed\n  ▸ a_1 slot 1 · 0s');
    // Two live rows on screen: up one row to the first, cleared down, the new timed line, the live rows again.
    expect(written[1]).toBe('\x1b[1F\x1b[J08:00:00 start a_2 (slot 2)\n2 running · 0 succeeded · 0 failed · 1 pending · 0s elapsed\n  ▸ a_1 slot 1 · 0s\n  ▸ a_2 slot 2 · 0s');
    expect(written[2]).toBe('\x1b[2F\x1b[J08:01:30 succeeded a_1 after 1m30s\n1 running · 1 succeeded · 0 failed · 1 pending · 1m30s elapsed\n  ▸ a_2 slot 2 · 1m30s');
    expect(written.at(-1)).toBe('\x1b[1F\x1b[J');
  });

  it('lists at most six running builds, then how many more', () => {
    const { io, written } = fakeIo(true);
    const p = progress(io, 9, () => 0);
    for (let i = 1; i <= 8; i++) p.onEvent({ type: 'start', id: `b_${i}`, slot: i });
    p.stop();
    const last = written.at(-2)!.split('\n');
    expect(last.slice(1)).toEqual(['8 running · 0 succeeded · 0 failed · 1 pending · 0s elapsed', ...[1, 2, 3, 4, 5, 6].map((i) => `  ▸ b_${i} slot ${i} · 0s`), '  +2 more']);
  });

  it('counts canceled builds apart from failed ones, and timeouts as failures', () => {
    const { io, written } = fakeIo(true);
    const p = progress(io, 3, () => 0);
    for (const id of ['a_1', 'a_2', 'a_3']) p.onEvent({ type: 'start', id, slot: 1 });
    p.onEvent({ type: 'finish', id: 'a_1', slot: 1, record: record('a_1', 'timed_out', { reason: 'timed out after 2s' }) });
    p.onEvent({ type: 'finish', id: 'a_2', slot: 1, record: record('a_2', 'canceled', { reason: 'canceled: SIGINT' }) });
    p.onEvent({ type: 'finish', id: 'a_3', slot: 1, record: record('a_3', 'canceled') });
    p.stop();
    expect(written.at(-2)).toMatch(/canceled a_3\n0 running · 0 succeeded · 1 failed · 2 canceled · 0 pending · 0s elapsed$/);
  });

  it("a warning or a signal's message starts on its own line above the live rows, which are drawn again after it", () => {
    const { io, written } = fakeIo(true);
    const p = progress(io, 2, () => 0);
    p.warn('nightshift: early warning');
    p.onEvent({ type: 'start', id: 'a_1', slot: 1 });
    p.warn('nightshift: SIGINT: stopping; running builds are killed and marked canceled');
    p.say('recipes main at 0123456789ab');
    p.stop();
    // Nothing drawn yet: the row is cleared anyway (it may hold the terminal's ^C).
    expect(written.slice(0, 2)).toEqual(['\r\x1b[K', '[err]nightshift: early warning\n']);
    expect(written[3]).toMatch(/^\r\x1b\[J00:00:00 start a_1/);
    expect(written.slice(4, 7)).toEqual([
      '\x1b[1F\x1b[J',
      '[err]nightshift: SIGINT: stopping; running builds are killed and marked canceled\n',
      expect.stringMatching(/^1 running/),
    ]);
    expect(written[7]).toMatch(/^\x1b\[1F\x1b\[Jrecipes main at 0123456789ab\n1 running/);
  });

  it('colours the status words only when the output takes colour', () => {
    const plain = fakeIo(true, false);
    const coloured = fakeIo(true, true);
    for (const { io } of [plain, coloured]) {
      const p = progress(io, 2, () => 0);
      p.onEvent({ type: 'start', id: 'a_1', slot: 1 });
      p.onEvent({ type: 'finish', id: 'a_1', slot: 1, record: record('a_1', 'failed', { reason: 'exit code 2' }) });
      p.stop();
    }
    expect(plain.written.join('')).not.toContain('\x1b[3');
    expect(coloured.written.join('')).toContain('\x1b[1;31mfailed\x1b[0m a_1');
    expect(coloured.written.join('')).toContain('\x1b[1;31m1 failed\x1b[0m');
  });

  it('cuts live rows to the terminal width so that each takes one row', () => {
    const { io, written } = fakeIo(true);
    const p = progress({ ...io, columns: 30 }, 1, () => 0);
    p.onEvent({ type: 'start', id: 'a_very_long_build_id_that_does_not_fit', slot: 1 });
    p.stop();
    const rows = written[0]!.split('\n').slice(1);
    expect(rows.every((row) => row.length <= 29)).toBe(true);
    expect(rows[1]).toMatch(/…$/);
  });

  it('counts builds not run (the machine failed them) apart from failures', () => {
    const { io, written } = fakeIo(true);
    const p = progress(io, 2, () => 0);
    p.onEvent({ type: 'start', id: 'a_1', slot: 1 });
    p.onEvent({ type: 'finish', id: 'a_1', slot: 1, record: record('a_1', 'not_run', { reason: 'not run: the Docker engine on m1 was down' }) });
    p.stop();
    expect(written[1]).toBe(
      '\x1b[1F\x1b[J00:00:00 not_run a_1 (not run: the Docker engine on m1 was down)\n0 running · 0 succeeded · 0 failed · 1 not run · 1 pending · 0s elapsed',
    );
  });

  it('an output that fails (a closed pipe) never throws into the night', () => {
    const io = {
      out: () => {
        throw new Error('EPIPE');
      },
      err: () => {},
      write: () => Promise.reject(new Error('EPIPE')),
      isTTY: false,
    };
    const p = progress(io, 1, () => 0);
    expect(() => p.onEvent({ type: 'start', id: 'a_1', slot: 1 })).not.toThrow();
    p.stop();
  });
});
