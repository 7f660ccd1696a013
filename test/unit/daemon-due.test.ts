/**
 * The daemon's time arithmetic (src/daemon/due.ts), pure: scheduled times across daylight-saving
 * changes, and the start-up, catch-up and report decisions built on them.
 */
import { describe, expect, it } from 'vitest';
import { instantOf, missedSlot, nextRun, nightProgress, previousRun, reportNightDate, startupAction, type ScheduledTime } from '../../src/daemon/due.js';
import type { NightState, BuildRecord } from '../../src/night/state.js';

const LA = 'America/Los_Angeles';
const BERLIN = 'Europe/Berlin';
const at = (iso: string) => new Date(iso);
const wall = (iso: string) => Date.parse(`${iso}Z`);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

describe('instantOf: when a wall time happens', () => {
  it.each([
    ['an ordinary time', LA, '2026-07-01T12:00:00', '2026-07-01T19:00:00.000Z'],
    ['LA spring-forward gap 02:30 → the end of the gap, 03:00 PDT', LA, '2026-03-08T02:30:00', '2026-03-08T10:00:00.000Z'],
    ['LA spring-forward gap 02:00:00 exactly → 03:00 PDT', LA, '2026-03-08T02:00:00', '2026-03-08T10:00:00.000Z'],
    ['LA just before the gap', LA, '2026-03-08T01:59:59', '2026-03-08T09:59:59.000Z'],
    ['LA fall-back repeated 01:30 → the first, PDT', LA, '2026-11-01T01:30:00', '2026-11-01T08:30:00.000Z'],
    ['LA 02:00 after the fall-back exists once, PST', LA, '2026-11-01T02:00:00', '2026-11-01T10:00:00.000Z'],
    ['Berlin spring-forward gap 02:30 → 03:00 CEST', BERLIN, '2026-03-29T02:30:00', '2026-03-29T01:00:00.000Z'],
    ['Berlin fall-back repeated 02:30 → the first, CEST', BERLIN, '2026-10-25T02:30:00', '2026-10-25T00:30:00.000Z'],
    ['UTC', 'UTC', '2026-03-08T02:30:00', '2026-03-08T02:30:00.000Z'],
  ])('%s', (_what, zone, local, expected) => {
    expect(new Date(instantOf(wall(local), zone)).toISOString()).toBe(expected);
  });

  it.each([
    [LA, '2026-03-08'],
    [LA, '2026-11-01'],
    [BERLIN, '2026-03-29'],
    [BERLIN, '2026-10-25'],
  ])('%s %s: never decreases as the wall time increases, minute by minute through the change', (zone, day) => {
    let last = -Infinity;
    for (let w = wall(`${day}T00:00:00`) - DAY; w < wall(`${day}T00:00:00`) + 2 * DAY; w += 60_000) {
      const instant = instantOf(w, zone);
      expect(instant).toBeGreaterThanOrEqual(last);
      last = instant;
    }
  });
});

describe('previousRun and nextRun', () => {
  it('finds the latest scheduled time within the window, or none', () => {
    expect(previousRun('5 0 * * *', LA, at('2026-11-22T08:05:00Z'), 6 * HOUR)).toEqual({ at: at('2026-11-22T08:05:00Z'), date: '2026_11_22', wall: '2026-11-22 00:05:00' });
    expect(previousRun('5 0 * * *', LA, at('2026-11-22T14:05:00Z'), 6 * HOUR)?.date).toBe('2026_11_22');
    expect(previousRun('5 0 * * *', LA, at('2026-11-22T14:05:01Z'), 6 * HOUR)).toBeUndefined();
    expect(previousRun('5 0 * * *', LA, at('2026-11-22T08:04:59Z'), 6 * HOUR)).toBeUndefined();
    expect(previousRun('5 0 * * *', LA, at('2026-11-22T08:04:59Z'), 2 * DAY)?.date).toBe('2026_11_21');
  });

  it('a night in the spring-forward gap is due at the end of the gap, on its own date', () => {
    expect(previousRun('30 2 * * *', LA, at('2026-03-08T10:00:30Z'), 6 * HOUR)).toEqual({ at: at('2026-03-08T10:00:00Z'), date: '2026_03_08', wall: '2026-03-08 02:30:00' });
    expect(previousRun('30 2 * * *', LA, at('2026-03-08T09:59:59Z'), 2 * DAY)?.date).toBe('2026_03_07');
    expect(nextRun('30 2 * * *', LA, at('2026-03-07T11:00:00Z'))).toEqual({ at: at('2026-03-08T10:00:00Z'), date: '2026_03_08', wall: '2026-03-08 02:30:00' });
    expect(nextRun('30 2 * * *', LA, at('2026-03-08T10:00:00Z'))?.at).toEqual(at('2026-03-09T09:30:00Z'));
    expect(nextRun('30 2 * * *', BERLIN, at('2026-03-28T12:00:00Z'))?.at).toEqual(at('2026-03-29T01:00:00Z'));
  });

  it('a night in the repeated hour happens once, the first time, also seen from the second pass', () => {
    // 09:20Z is 01:20 PST, the second pass: 01:30 PDT (08:30Z) already happened although the wall clock is earlier.
    expect(previousRun('30 1 * * *', LA, at('2026-11-01T09:20:00Z'), 6 * HOUR)?.at).toEqual(at('2026-11-01T08:30:00Z'));
    expect(previousRun('30 1 * * *', LA, at('2026-11-01T09:45:00Z'), 6 * HOUR)?.at).toEqual(at('2026-11-01T08:30:00Z'));
    expect(nextRun('30 1 * * *', LA, at('2026-11-01T07:00:00Z'))?.at).toEqual(at('2026-11-01T08:30:00Z'));
    expect(nextRun('30 1 * * *', LA, at('2026-11-01T08:30:00Z'))?.at).toEqual(at('2026-11-02T09:30:00Z'));
    expect(nextRun('30 2 * * *', BERLIN, at('2026-10-25T00:30:00Z'))?.at).toEqual(at('2026-10-26T01:30:00Z'));
  });

  // The property the daemon relies on: walking from one scheduled time to the next gives every day exactly once.
  it.each([
    [LA, '30 2 * * *'],
    [LA, '30 1 * * *'],
    [LA, '5 0 * * *'],
    [LA, '59 1 * * *'],
    [BERLIN, '30 2 * * *'],
    [BERLIN, '0 3 * * *'],
    ['UTC', '5 0 * * *'],
  ])('%s %s: every date of 2026 has exactly one night, in order, at its own date', (zone, expression) => {
    const dates: string[] = [];
    let from = at('2025-12-31T12:00:00Z');
    for (;;) {
      const next = nextRun(expression, zone, from)!;
      if (!next.date.startsWith('2026')) break;
      expect(next.at.getTime()).toBeGreaterThan(from.getTime());
      expect(previousRun(expression, zone, next.at, 0)).toEqual(next);
      dates.push(next.date);
      from = next.at;
    }
    expect(dates).toHaveLength(365);
    expect(new Set(dates).size).toBe(365);
  });

  it('reads 6-field expressions with seconds, and node-cron extensions like L', () => {
    expect(previousRun('*/4 * * * * *', 'UTC', at('2026-05-05T12:00:05.500Z'), 60_000)?.at).toEqual(at('2026-05-05T12:00:04Z'));
    expect(nextRun('*/4 * * * * *', 'UTC', at('2026-05-05T12:00:04Z'))?.at).toEqual(at('2026-05-05T12:00:08Z'));
    expect(nextRun('2-58/4 * * * * *', 'UTC', at('2026-05-05T12:00:04Z'))?.at).toEqual(at('2026-05-05T12:00:06Z'));
    expect(nextRun('0 3 L * *', 'UTC', at('2026-02-10T00:00:00Z'))?.date).toBe('2026_02_28');
    expect(nextRun('0 3 * * mon', 'UTC', at('2026-11-22T00:00:00Z'))?.date).toBe('2026_11_23');
  });

  it('says undefined for a time that never comes within the window', () => {
    expect(nextRun('0 0 29 2 *', 'UTC', at('2026-01-01T00:00:00Z'), 400 * DAY)).toBeUndefined();
    expect(nextRun('0 0 29 2 *', 'UTC', at('2026-01-01T00:00:00Z'))?.date).toBe('2028_02_29');
  });
});

describe('nightProgress', () => {
  const build = (status: BuildRecord['status']): BuildRecord => ({
    id: `x_${status}`,
    package: 'x',
    axes: {},
    executor: 'docker',
    image: null,
    status,
    order: 1,
    estimate_s: 1,
    attempt: 1,
  });
  const state = (statuses: BuildRecord['status'][], finished = true): NightState => ({
    version: 1,
    date: '2026_11_22',
    machine: 'm',
    schedule: 'nightly',
    updated_at: '2026-11-22T08:00:00Z',
    finished_at: finished ? '2026-11-22T09:00:00Z' : undefined,
    builds: statuses.map(build),
  });

  it('none without a state; finished when done with every build ended; unfinished otherwise', () => {
    expect(nightProgress(undefined)).toBe('none');
    expect(nightProgress(state(['succeeded', 'failed', 'timed_out', 'skipped']))).toBe('finished');
    expect(nightProgress(state([]))).toBe('finished');
    expect(nightProgress(state(['succeeded', 'canceled']))).toBe('unfinished');
    // Not run because the Docker engine was down: a restarted daemon runs them.
    expect(nightProgress(state(['succeeded', 'not_run']))).toBe('unfinished');
    expect(nightProgress(state(['succeeded', 'pending']))).toBe('unfinished');
    expect(nightProgress(state(['succeeded', 'running']))).toBe('unfinished');
    expect(nightProgress(state(['succeeded'], false))).toBe('unfinished');
  });
});

describe('startupAction', () => {
  const latest: ScheduledTime = { at: at('2026-11-22T08:05:00Z'), date: '2026_11_22', wall: '2026-11-22 00:05:00' };
  const yesterday: ScheduledTime = { at: at('2026-11-22T07:30:00Z'), date: '2026_11_21', wall: '2026-11-21 23:30:00' };

  it('resumes an unfinished night of today whatever the grace', () => {
    expect(startupAction({ today: '2026_11_22', todayProgress: 'unfinished', latest: undefined, latestProgress: 'none' })).toMatchObject({ action: 'resume', date: '2026_11_22' });
  });
  it('starts a missed night within the grace window, once', () => {
    expect(startupAction({ today: '2026_11_22', todayProgress: 'none', latest, latestProgress: 'none' })).toMatchObject({ action: 'start', date: '2026_11_22' });
    expect(startupAction({ today: '2026_11_22', todayProgress: 'finished', latest, latestProgress: 'finished' })).toMatchObject({
      action: 'none',
      reason: 'night 2026_11_22 already finished',
    });
  });
  it('resumes last night when it ran across midnight and was stopped', () => {
    expect(startupAction({ today: '2026_11_22', todayProgress: 'none', latest: yesterday, latestProgress: 'unfinished' })).toMatchObject({ action: 'resume', date: '2026_11_21' });
  });
  it('waits for the next trigger when no night was due within the grace window', () => {
    expect(startupAction({ today: '2026_11_22', todayProgress: 'none', latest: undefined, latestProgress: 'none' })).toEqual({
      action: 'none',
      reason: 'no night was scheduled within missed_grace',
    });
  });
});

describe('missedSlot: the catch-up for triggers node-cron did not fire', () => {
  const base = { cron: '30 2 * * *', timezone: LA, graceMs: 6 * HOUR, slackMs: 30_000 };
  it('finds the gap night one check after the gap, not before node-cron had its chance', () => {
    const since = at('2026-03-07T10:30:00Z'); // the last trigger: 03-07 02:30 PST
    expect(missedSlot({ ...base, since, now: at('2026-03-08T10:00:10Z') })).toBeUndefined();
    expect(missedSlot({ ...base, since, now: at('2026-03-08T10:01:00Z') })).toMatchObject({ date: '2026_03_08', at: at('2026-03-08T10:00:00Z') });
  });
  it('finds nothing once the slot was triggered, before the daemon started, or beyond the grace window', () => {
    expect(missedSlot({ ...base, since: at('2026-03-08T10:00:00Z'), now: at('2026-03-08T10:01:00Z') })).toBeUndefined();
    expect(missedSlot({ ...base, since: at('2026-03-08T10:00:05Z'), now: at('2026-03-08T10:01:00Z') })).toBeUndefined();
    expect(missedSlot({ ...base, since: at('2026-03-07T10:30:00Z'), now: at('2026-03-08T17:00:00Z') })).toBeUndefined();
  });
});

describe('reportNightDate', () => {
  it('is the latest night scheduled before the report', () => {
    expect(reportNightDate('5 0 * * *', LA, at('2026-11-22T15:00:00Z'), 'x')).toBe('2026_11_22');
    expect(reportNightDate('30 23 * * *', LA, at('2026-11-23T15:00:00Z'), 'x')).toBe('2026_11_22');
    expect(reportNightDate('0 0 1 1 *', 'UTC', at('2026-11-23T15:00:00Z'), '2026_11_23')).toBe('2026_11_23');
  });
});
