import { describe, expect, it } from 'vitest';
import { addDays } from '../../src/night/night-date.js';
import { MAX_KEEP_DAYS, pruneToday, selectForSpace, selectNightsToPrune, spaceCandidates } from '../../src/night/prune-select.js';

/** The real clock's today, later than every night below unless a test says otherwise. */
const CLOCK = '2999_12_31';

/** `count` consecutive nights ending at `last`, oldest first. */
function nightsUpTo(last: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => addDays(last, i - count + 1));
}

describe('addDays', () => {
  it.each([
    ['2026_11_22', -5, '2026_11_17'],
    ['2026_03_01', -1, '2026_02_28'],
    ['2024_03_01', -1, '2024_02_29'],
    ['2027_01_01', -1, '2026_12_31'],
    ['2026_12_31', 1, '2027_01_01'],
    // 2026_03_08 and 2026_11_01 are DST switches in the US: calendar days stay whole.
    ['2026_03_09', -1, '2026_03_08'],
    ['2026_11_02', -1, '2026_11_01'],
    ['2026_10_26', -1, '2026_10_25'],
  ])('%s %i day(s) = %s', (date, days, expected) => expect(addDays(date, days)).toBe(expected));
});

describe('selectNightsToPrune', () => {
  it.each([
    {
      name: 'keep 5 keeps exactly 5 consecutive nights (like the old cron: on the 12th it removed the 7th)',
      nights: nightsUpTo('2026_11_22', 10),
      today: '2026_11_22',
      keepDays: 5,
      remove: ['2026_11_13', '2026_11_14', '2026_11_15', '2026_11_16', '2026_11_17'],
      keep: ['2026_11_18', '2026_11_19', '2026_11_20', '2026_11_21', '2026_11_22'],
    },
    {
      name: 'the 2018 example: on 2018_09_12 with 5, 2018_09_07 goes and 2018_09_08 stays',
      nights: ['2018_09_07', '2018_09_08', '2018_09_12'],
      today: '2018_09_12',
      keepDays: 5,
      remove: ['2018_09_07'],
      keep: ['2018_09_08', '2018_09_12'],
    },
    {
      name: 'keep 1 keeps only today',
      nights: nightsUpTo('2026_11_22', 3),
      today: '2026_11_22',
      keepDays: 1,
      remove: ['2026_11_20', '2026_11_21'],
      keep: ['2026_11_22'],
    },
    {
      name: 'gaps: the window is in calendar days, not in folders',
      nights: ['2026_11_01', '2026_11_10', '2026_11_17', '2026_11_18', '2026_11_22'],
      today: '2026_11_22',
      keepDays: 5,
      remove: ['2026_11_01', '2026_11_10', '2026_11_17'],
      keep: ['2026_11_18', '2026_11_22'],
    },
    {
      name: 'leap year: 2024_03_01 keep 2 removes 2024_02_28, keeps 2024_02_29',
      nights: ['2024_02_27', '2024_02_28', '2024_02_29', '2024_03_01'],
      today: '2024_03_01',
      keepDays: 2,
      remove: ['2024_02_27', '2024_02_28'],
      keep: ['2024_02_29', '2024_03_01'],
    },
    {
      name: 'not a leap year: 2026_03_01 keep 2 removes 2026_02_27, keeps 2026_02_28',
      nights: ['2026_02_27', '2026_02_28', '2026_03_01'],
      today: '2026_03_01',
      keepDays: 2,
      remove: ['2026_02_27'],
      keep: ['2026_02_28', '2026_03_01'],
    },
    {
      name: 'year boundary',
      nights: ['2026_12_28', '2026_12_29', '2026_12_30', '2026_12_31', '2027_01_01', '2027_01_02'],
      today: '2027_01_02',
      keepDays: 4,
      remove: ['2026_12_28', '2026_12_29'],
      keep: ['2026_12_30', '2026_12_31', '2027_01_01', '2027_01_02'],
    },
    {
      name: 'month boundary (30-day November)',
      nights: ['2026_11_29', '2026_11_30', '2026_12_01', '2026_12_02'],
      today: '2026_12_02',
      keepDays: 3,
      remove: ['2026_11_29'],
      keep: ['2026_11_30', '2026_12_01', '2026_12_02'],
    },
    {
      name: 'junk names are in neither list, whatever they look like',
      nights: ['2026_02_30', '2026-11-01', 'nightlies', '2026_11_01.old', '2026_13_01', 'tmp', ' 2026_11_01', '2026_11_1', '20261101', '2026_11_01'],
      today: '2026_11_22',
      keepDays: 5,
      remove: [],
      keep: ['2026_11_01'],
    },
    {
      name: 'future nights are never touched',
      nights: ['2026_11_10', '2026_11_22', '2026_11_23', '2031_01_01'],
      today: '2026_11_22',
      keepDays: 1,
      remove: ['2026_11_10'],
      keep: ['2026_11_22', '2026_11_23', '2031_01_01'],
    },
    {
      name: 'the last remaining night stays when every night qualifies: the newest',
      nights: ['2026_10_01', '2026_10_05', '2026_10_09'],
      today: '2026_11_22',
      keepDays: 5,
      remove: ['2026_10_01', '2026_10_05'],
      keep: ['2026_10_09'],
    },
    {
      name: 'a single old night is the last remaining one',
      nights: ['2026_10_01', 'nightlies'],
      today: '2026_11_22',
      keepDays: 1,
      remove: [],
      keep: ['2026_10_01'],
    },
    {
      name: 'old nights all go when a future night remains',
      nights: ['2026_10_01', '2026_10_02', '2026_12_01'],
      today: '2026_11_22',
      keepDays: 5,
      remove: ['2026_10_01', '2026_10_02'],
      keep: ['2026_12_01'],
    },
    {
      name: 'unsorted input and duplicates',
      nights: ['2026_11_22', '2026_11_01', '2026_11_20', '2026_11_01'],
      today: '2026_11_22',
      keepDays: 2,
      remove: ['2026_11_01', '2026_11_20'],
      keep: ['2026_11_22'],
    },
    { name: 'no nights at all', nights: [], today: '2026_11_22', keepDays: 5, remove: [], keep: [] },
  ])('$name', ({ nights, today, keepDays, remove, keep }) => {
    const selection = selectNightsToPrune({ clockToday: CLOCK, nights, today, keepDays });
    expect(selection.remove).toEqual(remove);
    expect(selection.keep).toEqual(keep);
  });

  it('keeps a locked night however old, and says why each night stays', () => {
    const selection = selectNightsToPrune({
      clockToday: CLOCK,
      nights: ['2026_10_01', '2026_10_02', '2026_11_21', '2026_11_22', '2026_11_30'],
      today: '2026_11_22',
      keepDays: 2,
      locked: new Set(['2026_10_02']),
    });
    expect(selection.remove).toEqual(['2026_10_01']);
    expect(Object.fromEntries(selection.reasons)).toEqual({
      '2026_10_02': 'locked',
      '2026_11_21': 'recent',
      '2026_11_22': 'today',
      '2026_11_30': 'future',
    });
  });

  it('a locked old night counts as remaining: the other old nights all go', () => {
    const selection = selectNightsToPrune({ clockToday: CLOCK, nights: ['2026_10_01', '2026_10_02'], today: '2026_11_22', keepDays: 5, locked: new Set(['2026_10_01']) });
    expect(selection).toMatchObject({ remove: ['2026_10_02'], keep: ['2026_10_01'] });
  });

  it('keeps the newest when all qualify, with that reason', () => {
    const selection = selectNightsToPrune({ clockToday: CLOCK, nights: ['2026_10_01', '2026_10_02'], today: '2026_11_22', keepDays: 5 });
    expect(selection.reasons.get('2026_10_02')).toBe('newest');
  });

  it.each([0, -1, 1.5, NaN])('refuses keepDays %s', (keepDays) => {
    expect(() => selectNightsToPrune({ clockToday: CLOCK, nights: [], today: '2026_11_22', keepDays })).toThrow(/keepDays/);
  });

  it.each(['2026-11-22', '2026_02_30', ''])('refuses today %j', (today) => {
    expect(() => selectNightsToPrune({ clockToday: CLOCK, nights: [], today, keepDays: 5 })).toThrow(/YYYY_MM_DD/);
  });
});

describe('prune never counts from a day after the real clock', () => {
  const nights = nightsUpTo('2026_11_30', 10);

  it("a --date in the future (a typo'd month) ages nights from the clock's today", () => {
    const selection = selectNightsToPrune({ nights, today: '2027_11_30', clockToday: '2026_11_30', keepDays: 5 });
    expect(selection.today).toBe('2026_11_30');
    expect(selection.remove).toEqual(nightsUpTo('2026_11_25', 5));
    expect(selection.keep).toEqual(nightsUpTo('2026_11_30', 5));
  });

  it('a --date in the past is taken as asked: later nights are left as dated after it', () => {
    const selection = selectNightsToPrune({ nights, today: '2026_11_27', clockToday: '2026_11_30', keepDays: 2 });
    expect(selection.today).toBe('2026_11_27');
    expect(selection.remove).toEqual(nightsUpTo('2026_11_25', 5));
    expect(selection.reasons.get('2026_11_29')).toBe('future');
  });

  it("the disk guard too: a future night to start never makes this week's nights candidates before older ones", () => {
    expect(spaceCandidates({ nights, today: '2027_11_30', clockToday: '2026_11_28' })).toEqual(nightsUpTo('2026_11_26', 6));
  });

  it.each(['2026-11-30', '2026_02_30'])('refuses a clock today %j that is not a date', (clockToday) => {
    expect(() => pruneToday('2026_11_30', clockToday)).toThrow(/YYYY_MM_DD/);
  });
});

describe('a cut-off that is not a date', () => {
  it('removes nothing and says why, instead of comparing nights with NaN_NaN_NaN', () => {
    const nights = nightsUpTo('2026_11_30', 4);
    const selection = selectNightsToPrune({ nights, today: '2026_11_30', clockToday: '2026_11_30', keepDays: 99999999999 });
    expect(selection.remove).toEqual([]);
    expect(selection.keep).toEqual(nights);
    expect(selection.refused).toMatch(/is not a date; no night was removed \(keep_days is at most 3650\)/);
  });

  it('also when the window reaches before year 1', () => {
    const selection = selectNightsToPrune({ nights: ['0100_01_01', '0100_01_03'], today: '0100_01_03', clockToday: '2026_11_30', keepDays: 5 });
    expect(selection.remove).toEqual([]);
    expect(selection.refused).toBeDefined();
  });

  it('the largest keep_days allowed still has a real cut-off', () => {
    const selection = selectNightsToPrune({ nights: ['2016_01_01', '2026_11_30'], today: '2026_11_30', clockToday: '2026_11_30', keepDays: MAX_KEEP_DAYS });
    expect(selection.refused).toBeUndefined();
    expect(selection.remove).toEqual(['2016_01_01']);
  });
});

describe('selectForSpace', () => {
  const nights = ['2026_11_10', '2026_11_11', '2026_11_12', '2026_11_13', '2026_11_14', 'nightlies', '2026_11_15', '2026_11_16'];
  const sizes = new Map(nights.map((night, i) => [night, (i + 1) * 100]));
  const today = '2026_11_15';

  it('removes the oldest first, only as many as needed', () => {
    expect(selectForSpace({ clockToday: CLOCK, nights, today, bytesNeeded: 250, sizes })).toEqual({ remove: ['2026_11_10', '2026_11_11'], freed: 300, enough: true });
    expect(selectForSpace({ clockToday: CLOCK, nights, today, bytesNeeded: 300, sizes })).toEqual({ remove: ['2026_11_10', '2026_11_11'], freed: 300, enough: true });
    expect(selectForSpace({ clockToday: CLOCK, nights, today, bytesNeeded: 301, sizes })).toEqual({ remove: ['2026_11_10', '2026_11_11', '2026_11_12'], freed: 600, enough: true });
  });

  it('removes nothing when nothing is needed', () => {
    expect(selectForSpace({ clockToday: CLOCK, nights, today, bytesNeeded: 0, sizes })).toEqual({ remove: [], freed: 0, enough: true });
  });

  it('never today, a future night or the newest earlier night; says when all that may go is not enough', () => {
    // 2026_11_14 is the newest before today; 2026_11_15 today; 2026_11_16 future; nightlies junk.
    expect(selectForSpace({ clockToday: CLOCK, nights, today, bytesNeeded: 1e9, sizes })).toEqual({
      remove: ['2026_11_10', '2026_11_11', '2026_11_12', '2026_11_13'],
      freed: 1000,
      enough: false,
    });
  });

  it('skips locked nights and goes on with younger ones', () => {
    const locked = new Set(['2026_11_10', '2026_11_12']);
    expect(selectForSpace({ clockToday: CLOCK, nights, today, locked, bytesNeeded: 300, sizes })).toEqual({ remove: ['2026_11_11', '2026_11_13'], freed: 600, enough: true });
  });

  it('keeps the newest earlier night even when today has no folder yet, and never the only one', () => {
    expect(spaceCandidates({ clockToday: CLOCK, nights: ['2026_11_01', '2026_11_05'], today: '2026_11_22' })).toEqual(['2026_11_01']);
    expect(spaceCandidates({ clockToday: CLOCK, nights: ['2026_11_01'], today: '2026_11_22' })).toEqual([]);
    expect(selectForSpace({ clockToday: CLOCK, nights: ['2026_11_01'], today: '2026_11_22', bytesNeeded: 1, sizes: new Map([['2026_11_01', 5]]) })).toEqual({
      remove: [],
      freed: 0,
      enough: false,
    });
  });

  it('a locked newest earlier night is still the newest: the one before it may go', () => {
    expect(spaceCandidates({ clockToday: CLOCK, nights: ['2026_11_01', '2026_11_05', '2026_11_06'], today: '2026_11_22', locked: new Set(['2026_11_06']) })).toEqual([
      '2026_11_01',
      '2026_11_05',
    ]);
  });
});
