import { describe, expect, it } from 'vitest';
import { pointerMoves, type PointerBuild } from '../../src/store/latest.js';

const build = (date: string, machine: string, finished_at?: string | null): PointerBuild => ({ date, machine, ...(finished_at === undefined ? {} : { finished_at }) });

describe('pointerMoves', () => {
  it('moves to a first build, and to a later night whoever built it', () => {
    expect(pointerMoves(undefined, build('2026_11_22', 'm0', null))).toBe(true);
    expect(pointerMoves(build('2026_11_21', 'm1', '2026-11-21T05:00:00Z'), build('2026_11_22', 'm0', null))).toBe(true);
  });

  it('never goes back to an earlier night, however late its build ended', () => {
    expect(pointerMoves(build('2026_11_22', 'm0', '2026-11-22T01:00:00Z'), build('2026_11_21', 'm0', '2026-11-23T09:00:00Z'))).toBe(false);
  });

  it('lets a machine rewrite its own pointer of the night (a rebuild), as before', () => {
    expect(pointerMoves(build('2026_11_22', 'm0'), build('2026_11_22', 'm0', '2026-11-22T01:00:00Z'))).toBe(true);
  });

  it("replaces another machine's pointer of the same night only by a build that ended later", () => {
    const other = build('2026_11_22', 'm1', '2026-11-22T03:00:00.000Z');
    expect(pointerMoves(other, build('2026_11_22', 'm0', '2026-11-22T03:30:00.000Z'))).toBe(true);
    expect(pointerMoves(other, build('2026_11_22', 'm0', '2026-11-22T02:30:00.000Z'))).toBe(false);
    expect(pointerMoves(other, build('2026_11_22', 'm0', '2026-11-22T03:00:00.000Z'))).toBe(false);
    // The same instant written with an offset is not later.
    expect(pointerMoves(other, build('2026_11_22', 'm0', '2026-11-22T04:00:00+01:00'))).toBe(false);
  });

  it("keeps another machine's pointer of the night when either end is unknown", () => {
    expect(pointerMoves(build('2026_11_22', 'm1'), build('2026_11_22', 'm0', '2026-11-22T03:30:00Z'))).toBe(false);
    expect(pointerMoves(build('2026_11_22', 'm1', null), build('2026_11_22', 'm0', '2026-11-22T03:30:00Z'))).toBe(false);
    expect(pointerMoves(build('2026_11_22', 'm1', '2026-11-22T03:00:00Z'), build('2026_11_22', 'm0', null))).toBe(false);
  });
});
