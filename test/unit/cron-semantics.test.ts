/**
 * Cron means what crontab(5) says: with day of month AND day of week restricted (neither starts with
 * `*`), a day matches when EITHER does. The daemon's arithmetic (due.ts), its real node-cron triggers
 * (test/integration/cron-triggers.test.ts), `status`'s next times, the OnCalendar= values and the cron
 * lines' date check all read it that way.
 */
import { describe, expect, it } from 'vitest';
import { cronToOnCalendars, datePattern, eitherDayVariants, everyDayExpression, parseCron } from '../../src/daemon/cron-fields.js';
import { nextRun, previousRun, scheduledOn, triggerExpression } from '../../src/daemon/due.js';
import { nextRuns } from '../../src/daemon/next-runs.js';
import { testContext } from '../helpers/daemon.js';

const DAY = 86_400_000;

/** The next `count` scheduled times of `expr` after `from`, as ISO strings. */
function nextTimes(expr: string, timezone: string, from: string, count: number): string[] {
  const out: string[] = [];
  let after = new Date(from);
  for (let i = 0; i < count; i++) {
    const next = nextRun(expr, timezone, after)!;
    out.push(next.at.toISOString());
    after = next.at;
  }
  return out;
}

describe('which expressions read their days either-or', () => {
  it.each([
    ['0 1 1 * 1', ['0 1 1 * *', '0 1 * * 1']],
    ['0 1 1,15 * mon-fri', ['0 1 1,15 * *', '0 1 * * mon-fri']],
    ['30 0 1 13 1 5', ['30 0 1 13 1 *', '30 0 1 * 1 5']],
    ['0 0 1-31 * 0-7', ['0 0 1-31 * *', '0 0 * * 0-7']],
  ])('%s: either %j', (expr, variants) => expect(eitherDayVariants(expr)).toEqual(variants));

  it.each(['5 0 * * *', '0 1 1 * *', '0 1 * * 1', '0 1 */2 * 1', '0 1 1 * */2', '0 3 ? * 6', '0 0 * * 0'])('%s: both must match (one day field is unrestricted)', (expr) => {
    expect(eitherDayVariants(expr)).toBeUndefined();
    expect(triggerExpression(expr)).toBe(expr);
  });

  it('the daemon triggers an either-or expression every day at its times, in its months', () => {
    expect(triggerExpression('0 1 1 * 1')).toBe('0 1 * * *');
    expect(everyDayExpression('15 30 2 1,15 jan-mar fri')).toBe('15 30 2 * jan-mar *');
  });
});

describe('due.ts: the daemon and status', () => {
  it('"0 1 1 * 1" runs on every 1st and every Monday, not only on Mondays that are the 1st', () => {
    expect(nextTimes('0 1 1 * 1', 'UTC', '2026-11-30T12:00:00Z', 6)).toEqual([
      '2026-12-01T01:00:00.000Z', // Tuesday the 1st
      '2026-12-07T01:00:00.000Z', // Monday
      '2026-12-14T01:00:00.000Z',
      '2026-12-21T01:00:00.000Z',
      '2026-12-28T01:00:00.000Z',
      '2027-01-01T01:00:00.000Z', // Friday the 1st
    ]);
    expect(previousRun('0 1 1 * 1', 'UTC', new Date('2026-11-30T12:00:00Z'), 7 * DAY)?.date).toBe('2026_11_30');
  });

  it('in the schedule zone, with month limits and L/W days node-cron knows', () => {
    expect(nextTimes('30 23 15 jan-mar fri', 'America/Los_Angeles', '2027-01-10T00:00:00Z', 4)).toEqual([
      '2027-01-16T07:30:00.000Z', // Fri 15th 23:30 PST
      '2027-01-23T07:30:00.000Z',
      '2027-01-30T07:30:00.000Z',
      '2027-02-06T07:30:00.000Z',
    ]);
    expect(nextTimes('0 6 L * mon', 'UTC', '2027-01-26T00:00:00Z', 2)).toEqual(['2027-01-31T06:00:00.000Z', '2027-02-01T06:00:00.000Z']);
  });

  it('a field starting with * keeps the AND reading (crontab: "*/2" is unrestricted)', () => {
    expect(nextTimes('0 1 */2 * 1', 'UTC', '2026-11-30T12:00:00Z', 2)).toEqual(['2026-12-07T01:00:00.000Z', '2026-12-21T01:00:00.000Z']);
  });

  it.each([
    ['2026_12_01', true],
    ['2026_12_02', false],
    ['2026_12_07', true],
    ['2027_02_01', true],
  ])('scheduledOn("0 1 1 * 1", %s) is %s', (date, expected) => expect(scheduledOn('0 1 1 * 1', date)).toBe(expected));

  it("status's next night", () => {
    const { schedule } = testContext({ cron: '0 1 1 * 1' });
    expect(nextRuns(schedule, new Date('2026-11-30T12:00:00Z')).night?.date).toBe('2026_12_01');
  });
});

describe('install: OnCalendar= and the cron lines', () => {
  it('one OnCalendar= per day field when both are restricted (systemd ANDs them within one)', () => {
    expect(cronToOnCalendars('0 1 1 * 1', 'UTC')).toEqual(['*-*-01 01:00:00 UTC', 'Mon *-*-* 01:00:00 UTC']);
    expect(cronToOnCalendars('0 1 1,15 jan mon-fri', 'Europe/Berlin')).toEqual(['*-01-01,15 01:00:00 Europe/Berlin', 'Mon..Fri *-01-* 01:00:00 Europe/Berlin']);
    expect(cronToOnCalendars('0 1 */2 * 1', 'UTC')).toEqual(['Mon *-*-01/2 01:00:00 UTC']);
  });

  it("the cron lines' date check takes the day of month or the weekday", () => {
    expect(datePattern(parseCron('0 1 1 * 1'))).toBe('00:01:(01:..:.|..:..:1)');
    expect(datePattern(parseCron('0 1 1,15 jan 1-5'))).toBe('00:01:((01|15):01:.|..:01:(1|2|3|4|5))');
    expect(datePattern(parseCron('0 1 */2 * 1'))).toMatch(/^00:01:\(01\|03\|.*\|31\):..:1$/);
    const check = new RegExp(`^${datePattern(parseCron('0 1 1 * 1'))}$`);
    expect(check.test('00:01:01:12:2')).toBe(true); // Tuesday the 1st
    expect(check.test('00:01:07:12:1')).toBe(true); // Monday the 7th
    expect(check.test('00:01:02:12:3')).toBe(false);
  });
});
