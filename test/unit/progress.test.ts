import { describe, expect, it } from 'vitest';
import { progress } from '../../src/runner/progress.js';
import type { BuildRecord } from '../../src/night/state.js';

function fakeIo(isTTY: boolean) {
  const written: string[] = [];
  return {
    io: { out: (t: string) => void written.push(`${t}\n`), err: () => {}, write: (c: string | Uint8Array) => (written.push(String(c)), Promise.resolve()), isTTY },
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

  it('redraws a status line in place on a terminal, finished builds printed above it', () => {
    let now = 0;
    const { io, written } = fakeIo(true);
    const p = progress(io, 3, () => now);
    p.onEvent({ type: 'start', id: 'a_1', slot: 1 });
    p.onEvent({ type: 'start', id: 'a_2', slot: 2 });
    now = 90_000;
    p.onEvent({ type: 'finish', id: 'a_1', slot: 1, record: record('a_1', 'succeeded', { duration_s: 90 }) });
    p.stop();
    expect(written[1]).toBe('\r\x1b[K2 running · 0 succeeded · 0 failed · 1 pending · 0s elapsed');
    expect(written[2]).toBe('\r\x1b[Ksucceeded a_1 after 1m30s\n1 running · 1 succeeded · 0 failed · 1 pending · 1m30s elapsed');
    expect(written.at(-1)).toBe('\r\x1b[K');
  });

  it('counts builds not run (the machine failed them) apart from failures', () => {
    const { io, written } = fakeIo(true);
    const p = progress(io, 2, () => 0);
    p.onEvent({ type: 'start', id: 'a_1', slot: 1 });
    p.onEvent({ type: 'finish', id: 'a_1', slot: 1, record: record('a_1', 'not_run', { reason: 'not run: the Docker engine on m1 was down' }) });
    p.stop();
    expect(written[1]).toBe('\r\x1b[Knot_run a_1 (not run: the Docker engine on m1 was down)\n0 running · 0 succeeded · 0 failed · 1 not run · 1 pending · 0s elapsed');
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
