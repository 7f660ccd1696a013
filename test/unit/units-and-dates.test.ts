import { describe, expect, it } from 'vitest';
import { formatDuration, parseDuration, parseSize } from '../../src/units.js';
import { addDays, isNightDate, nightDate, resolveNightDate } from '../../src/night/night-date.js';
import { NightshiftError } from '../../src/errors.js';

describe('durations and sizes', () => {
  it.each([
    ['90m', 5400],
    ['4h', 14400],
    ['1h30m', 5400],
    ['45s', 45],
    ['1.5h', 5400],
    ['2d', 172800],
  ])('duration %s = %i s', (text, seconds) => expect(parseDuration(text)).toBe(seconds));

  it.each(['soon', '', '90', 'm', '-5m', '0m', '5 m'])('"%s" is not a duration', (text) => expect(parseDuration(text)).toBeUndefined());

  it.each([
    ['32g', 32 * 1024 ** 3],
    ['512m', 512 * 1024 ** 2],
    ['1.5G', 1.5 * 1024 ** 3],
    ['100GiB', 100 * 1024 ** 3],
    ['2048', 2048],
  ])('size %s = %i bytes', (text, bytes) => expect(parseSize(text)).toBe(bytes));

  it.each(['big', '', '-1g', '0'])('"%s" is not a size', (text) => expect(parseSize(text)).toBeUndefined());

  it('formats durations for tables', () => {
    expect([45, 600, 4200, 9000, 7200].map(formatDuration)).toEqual(['45s', '10m', '1h10m', '2h30m', '2h']);
  });
});

describe('night dates', () => {
  it("uses the schedule's calendar date in its time zone", () => {
    const lateEvening = new Date('2026-11-22T07:30:00Z'); // 23:30 on the 21st in Los Angeles
    expect(nightDate(lateEvening, 'America/Los_Angeles')).toBe('2026_11_21');
    expect(nightDate(lateEvening, 'Europe/Berlin')).toBe('2026_11_22');
    expect(nightDate(lateEvening, 'UTC')).toBe('2026_11_22');
  });

  it('accepts only real dates for --date', () => {
    expect(isNightDate('2026_02_28')).toBe(true);
    expect(isNightDate('2024_02_29')).toBe(true);
    expect(isNightDate('2026_02_30')).toBe(false);
    expect(isNightDate('2026-02-03')).toBe(false);
    expect(isNightDate('nightlies')).toBe(false);
    expect(resolveNightDate('2026_01_05', 'UTC')).toBe('2026_01_05');
    expect(() => resolveNightDate('2026_13_01', 'UTC')).toThrow(NightshiftError);
  });

  it('takes YYYY-MM-DD too, and calls a well-formed day that does not exist "not a real date"', () => {
    expect(resolveNightDate('2026-01-05', 'UTC')).toBe('2026_01_05');
    expect(() => resolveNightDate('2032_02_30', 'UTC')).toThrow(/--date "2032_02_30" is not a real date \(no such day in that month\)/);
    expect(() => resolveNightDate('2032-02-30', 'UTC')).toThrow(/is not a real date/);
    expect(() => resolveNightDate('2032/02/03', 'UTC')).toThrow(/is not a date in the form YYYY_MM_DD or YYYY-MM-DD/);
  });
});

describe('addDays', () => {
  it.each([
    ['2026_11_22', -1, '2026_11_21'],
    ['2026_03_01', -1, '2026_02_28'],
    ['2028_03_01', -1, '2028_02_29'],
    ['2026_01_01', -1, '2025_12_31'],
    ['2026_12_31', 1, '2027_01_01'],
    ['2026_03_28', 2, '2026_03_30'],
  ])('%s %i night(s) is %s', (date, days, expected) => {
    expect(addDays(date, days)).toBe(expected);
  });
});
