/**
 * Daylight-saving changes neither skip nor double a night: the real Daemon with node-cron's real
 * triggers, driven by vitest's fake clock across the spring and autumn changes of 2026, counting the
 * nights per date. Nights are stand-ins that take 10 minutes of fake time.
 */
import cron from 'node-cron';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeHarness } from '../helpers/daemon.js';

const DAY = 86_400_000;
const LA = 'America/Los_Angeles';
const BERLIN = 'Europe/Berlin';

afterEach(() => {
  vi.useRealTimers();
});

/** Runs a daemon from `from` for `days` days of fake time; returns the harness after a clean stop. */
async function runDays(cronExpression: string, timezone: string, from: string, days: number) {
  vi.useFakeTimers({ now: new Date(from) });
  const h = makeHarness({ cron: cronExpression, timezone });
  await h.daemon.start();
  await vi.advanceTimersByTimeAsync(days * DAY);
  await h.daemon.stop('SIGTERM');
  expect(cron.getTasks().size).toBe(0);
  return h;
}

const once = (list: string[]) => Object.fromEntries(list.map((date) => [date, 1]));
const dates = (first: string, count: number) =>
  Array.from({ length: count }, (_, i) => new Date(Date.parse(`${first}T12:00:00Z`) + i * DAY).toISOString().slice(0, 10).replaceAll('-', '_'));

describe('spring forward: a night scheduled in the skipped hour still runs that day, once', () => {
  it('America/Los_Angeles 2026-03-08, 30 2 * * * (02:30 does not exist)', async () => {
    // 2026-03-05 12:00Z is 04:00 PST: the night of the 5th (02:30) was 1.5 h ago, within missed_grace: it starts now.
    const h = await runDays('30 2 * * *', LA, '2026-03-05T12:00:00Z', 5);
    expect(h.perDate()).toEqual(once(dates('2026-03-05', 6)));
    const gapNight = h.nights.find((n) => n.date === '2026_03_08')!;
    // The clocks jump 02:00 PST → 03:00 PDT at 10:00Z; the catch-up check starts the night one minute later.
    expect(gapNight.at.toISOString()).toBe('2026-03-08T10:01:00.000Z');
    expect(h.of('night.catch-up').map((e) => e.fields.date)).toEqual(['2026_03_08']);
    // The other nights came from node-cron itself, at 02:30 local time.
    expect(h.nights.find((n) => n.date === '2026_03_07')!.at.toISOString()).toBe('2026-03-07T10:30:00.000Z');
    expect(h.nights.find((n) => n.date === '2026_03_09')!.at.toISOString()).toBe('2026-03-09T09:30:00.000Z');
  });

  it('node-cron alone would skip that night (why the catch-up exists)', () => {
    vi.useFakeTimers({ now: new Date('2026-03-07T11:00:00Z') });
    const task = cron.createTask('30 2 * * *', () => undefined, { timezone: LA });
    try {
      expect(task.getNextRuns(1)[0]!.toISOString()).toBe('2026-03-09T09:30:00.000Z');
    } finally {
      void task.destroy();
    }
  });

  it('Europe/Berlin 2026-03-29, 30 2 * * *', async () => {
    // 2026-03-27 12:00Z is 13:00 CET: that day's 02:30 is beyond missed_grace, so nothing starts at once.
    const h = await runDays('30 2 * * *', BERLIN, '2026-03-27T12:00:00Z', 4);
    expect(h.perDate()).toEqual(once(dates('2026-03-28', 4)));
    expect(h.nights.find((n) => n.date === '2026_03_29')!.at.toISOString()).toBe('2026-03-29T01:01:00.000Z');
  });

  // [zone, cron, start, days run, first night (the start-up one when its time was within missed_grace), nights]
  it.each([
    [LA, '5 0 * * *', '2026-03-06T12:00:00Z', 4, '2026-03-06', 5],
    [BERLIN, '5 0 * * *', '2026-03-27T12:00:00Z', 4, '2026-03-28', 4],
    [LA, '0 3 * * *', '2026-03-06T12:00:00Z', 4, '2026-03-06', 5],
  ])('%s %s: one night per date, none from the catch-up', async (zone, expression, from, days, first, count) => {
    const h = await runDays(expression, zone, from, days);
    expect(h.perDate()).toEqual(once(dates(first, count)));
    expect(h.of('night.catch-up')).toEqual([]);
  });
});

describe('fall back: a night scheduled in the repeated hour runs once', () => {
  it('America/Los_Angeles 2026-11-01, 30 1 * * * (01:30 happens twice)', async () => {
    const h = await runDays('30 1 * * *', LA, '2026-10-30T12:00:00Z', 4);
    expect(h.perDate()).toEqual(once(dates('2026-10-30', 5)));
    // The first 01:30, still PDT.
    expect(h.nights.find((n) => n.date === '2026_11_01')!.at.toISOString()).toBe('2026-11-01T08:30:00.000Z');
    expect(h.of('night.catch-up')).toEqual([]);
  });

  it('Europe/Berlin 2026-10-25, 30 2 * * * (02:30 happens twice)', async () => {
    const h = await runDays('30 2 * * *', BERLIN, '2026-10-23T12:00:00Z', 4);
    expect(h.perDate()).toEqual(once(dates('2026-10-24', 4)));
    // Surprise: east of UTC, node-cron 4.6 fires a repeated wall time at its SECOND occurrence (02:30 CET,
    // 01:30Z), while in America/Los_Angeles it fires the first. The daemon's rule is the first (02:30 CEST,
    // 00:30Z): the catch-up starts the night a minute after it, and node-cron's trigger an hour later is dropped.
    expect(h.nights.find((n) => n.date === '2026_10_25')!.at.toISOString()).toBe('2026-10-25T00:31:00.000Z');
    expect(h.of('night.catch-up').map((e) => e.fields.date)).toEqual(['2026_10_25']);
    const dropped = h.of('night.skipped').filter((e) => e.fields.date === '2026_10_25');
    expect(dropped.map((e) => [e.time.toISOString(), e.message])).toEqual([['2026-10-25T01:30:00.000Z', 'night 2026_10_25 trigger skipped: it already finished on this machine']]);
  });

  it.each([
    [LA, '5 0 * * *', '2026-10-30T12:00:00Z', 4, '2026-10-30', 5],
    [BERLIN, '5 0 * * *', '2026-10-23T12:00:00Z', 4, '2026-10-24', 4],
  ])('%s %s: one night per date', async (zone, expression, from, days, first, count) => {
    const h = await runDays(expression, zone, from, days);
    expect(h.perDate()).toEqual(once(dates(first, count)));
  });

  it('a trigger every 30 minutes through the repeated hour still makes one night per date: the rest are dropped', async () => {
    const h = await runDays('*/30 * * * *', LA, '2026-10-31T12:00:00Z', 2);
    expect(Object.values(h.perDate()).every((n) => n === 1)).toBe(true);
    expect(Object.keys(h.perDate())).toEqual(['2026_10_31', '2026_11_01', '2026_11_02']);
    expect(h.of('night.skipped').length).toBeGreaterThan(80);
  });
});
