/** Which caches prune trims: least recently used first down to the cap, never one a running night may use. */
import { describe, expect, it } from 'vitest';
import { inUseSince, selectCachesToTrim, type CacheEntry } from '../../src/night/cache-select.js';

const GB = 1024 ** 3;
const DAY = 86_400_000;
const T0 = Date.parse('2026-11-22T00:00:00Z');

/** A cache of `gb` GiB last used `daysAgo` days before T0. */
const cache = (key: string, gb: number, daysAgo: number): CacheEntry => ({ key, bytes: gb * GB, lastUsedMs: T0 - daysAgo * DAY });
const keys = (entries: readonly CacheEntry[]) => entries.map((c) => c.key);

describe('selectCachesToTrim', () => {
  const caches = [cache('recent', 4, 0), cache('old', 3, 5), cache('middle', 2, 2), cache('oldest', 1, 9)];

  it('removes nothing when the total is within the cap (the cap itself included)', () => {
    const selection = selectCachesToTrim({ caches, capBytes: 10 * GB });
    expect(selection.remove).toEqual([]);
    expect(keys(selection.keep)).toEqual(['oldest', 'old', 'middle', 'recent']);
    expect(selection).toMatchObject({ totalBytes: 10 * GB, bytesAfter: 10 * GB, withinCap: true });
    expect([...selection.reasons.values()]).toEqual(['within-cap', 'within-cap', 'within-cap', 'within-cap']);
  });

  it('removes the least recently used caches until the total is within the cap, not by size', () => {
    // 10 GiB over a 7 GiB cap: the oldest (1) is not enough, the next oldest (3) is.
    const selection = selectCachesToTrim({ caches, capBytes: 7 * GB });
    expect(keys(selection.remove)).toEqual(['oldest', 'old']);
    expect(keys(selection.keep)).toEqual(['middle', 'recent']);
    expect(selection).toMatchObject({ totalBytes: 10 * GB, bytesAfter: 6 * GB, withinCap: true });
  });

  it('removes every cache with a cap of 0, the most recent last', () => {
    expect(keys(selectCachesToTrim({ caches, capBytes: 0 }).remove)).toEqual(['oldest', 'old', 'middle', 'recent']);
  });

  it('never removes a cache used since a running night started, even when the total stays over the cap', () => {
    const selection = selectCachesToTrim({ caches, capBytes: 0, inUseSinceMs: T0 - 2 * DAY });
    expect(keys(selection.remove)).toEqual(['oldest', 'old']);
    expect(selection.reasons.get('middle')).toBe('in-use'); // used exactly at the night's start: in use
    expect(selection.reasons.get('recent')).toBe('in-use');
    expect(selection).toMatchObject({ bytesAfter: 6 * GB, withinCap: false });
  });

  it("keeps every cache when a running night's start is unknown", () => {
    const selection = selectCachesToTrim({ caches, capBytes: 0, inUseSinceMs: -Infinity });
    expect(selection.remove).toEqual([]);
    expect(new Set(selection.reasons.values())).toEqual(new Set(['in-use']));
  });

  it('breaks ties of the same last use by key, so every run picks the same caches', () => {
    const tied = [cache('b', 1, 3), cache('c', 1, 3), cache('a', 1, 3)];
    expect(keys(selectCachesToTrim({ caches: tied, capBytes: 1 * GB }).remove)).toEqual(['a', 'b']);
  });

  it('handles no caches and empty caches', () => {
    expect(selectCachesToTrim({ caches: [], capBytes: 0 })).toMatchObject({ remove: [], keep: [], totalBytes: 0, withinCap: true });
    const empty = selectCachesToTrim({ caches: [cache('empty', 0, 4), cache('full', 2, 1)], capBytes: 1 * GB });
    expect(keys(empty.remove)).toEqual(['empty', 'full']);
  });

  it('refuses a negative or missing cap', () => {
    expect(() => selectCachesToTrim({ caches, capBytes: -1 })).toThrow(/capBytes/);
    expect(() => selectCachesToTrim({ caches, capBytes: NaN })).toThrow(/capBytes/);
  });
});

describe('inUseSince', () => {
  it('is undefined when no night runs', () => expect(inUseSince([])).toBeUndefined());

  it("is the earliest running night's start less the margin", () => {
    expect(inUseSince(['2026-11-22T01:00:00.000Z', '2026-11-21T23:00:00.000Z'], 2000)).toBe(Date.parse('2026-11-21T23:00:00.000Z') - 2000);
  });

  it("is -Infinity when a running night's start cannot be read", () => {
    expect(inUseSince(['2026-11-22T01:00:00.000Z', undefined])).toBe(-Infinity);
    expect(inUseSince(['yesterday'])).toBe(-Infinity);
  });
});
