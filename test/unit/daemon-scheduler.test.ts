/**
 * The daemon's behaviour with node-cron's real triggers on vitest's fake clock, and stand-in nights and
 * reports: no stacking, start-up resume and missed nights, the report machine, reload, stop, failures.
 */
import cron from 'node-cron';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { makeHarness, testContext, type Harness } from '../helpers/daemon.js';
import { describeNextRuns, formatInZone, nextRuns } from '../../src/daemon/next-runs.js';
import { runCli } from '../helpers/run-cli.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

let running: Harness | undefined;
afterEach(async () => {
  await running?.daemon.stop('SIGTERM');
  running = undefined;
  vi.useRealTimers();
  expect(cron.getTasks().size).toBe(0);
});

async function started(h: Harness): Promise<Harness> {
  running = h;
  await h.daemon.start();
  return h;
}

const messages = (h: Harness, event: string) => h.of(event).map((e) => e.message);

describe('triggers during a night', () => {
  it('are logged and dropped, never stacked; later ones find the night finished', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T12:00:05Z') });
    const h = await started(makeHarness({ cron: '*/10 * * * * *' }, { nightMs: 22_000 }));
    // 12:00:00 passed 5 s ago and never ran: the night starts at once.
    expect(messages(h, 'night.due')).toEqual(['night 2026_05_05 was due at 2026-05-05T12:00:00.000Z and never ran (within missed_grace): starting it now']);
    await vi.advanceTimersByTimeAsync(30_000);
    expect(h.nights).toHaveLength(1);
    expect(messages(h, 'night.started')).toEqual(['night 2026_05_05 started (1 builds)']);
    expect(h.of('night.skipped').map((e) => [e.time.toISOString(), e.message])).toEqual([
      ['2026-05-05T12:00:10.000Z', 'night 2026_05_05 trigger skipped: night 2026_05_05 still running'],
      ['2026-05-05T12:00:20.000Z', 'night 2026_05_05 trigger skipped: night 2026_05_05 still running'],
      ['2026-05-05T12:00:30.000Z', 'night 2026_05_05 trigger skipped: it already finished on this machine'],
    ]);
    expect(messages(h, 'night.finished')).toEqual(['night 2026_05_05 finished in 22s: 1 succeeded']);
  });
});

describe('start-up', () => {
  it('resumes an unfinished night of today (a restart after SIGTERM), whatever the grace', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T20:00:00Z') });
    const h = makeHarness({ cron: '5 0 * * *', missedGraceS: 3600 });
    h.progress.set('2026_05_05', 'unfinished');
    await started(h);
    expect(messages(h, 'night.due')).toEqual(['night 2026_05_05 was stopped before it finished: resuming it now']);
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(messages(h, 'night.resumed')).toEqual(['night 2026_05_05 resumed (1 builds)']);
  });

  it('starts a night missed while the machine was down only within missed_grace', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T02:00:00Z') });
    const late = await started(makeHarness({ cron: '5 0 * * *', missedGraceS: 3600 }));
    expect(messages(late, 'night.none-due')).toEqual(['no night to start now: no night was scheduled within missed_grace']);
    await late.daemon.stop('SIGTERM');
    const within = await started(makeHarness({ cron: '5 0 * * *', missedGraceS: 2 * 3600 }));
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(within.nights.map((n) => n.date)).toEqual(['2026_05_05']);
  });

  it('prints the next night and report, and who sends the report', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-22T20:00:00Z') });
    const h = await started(makeHarness({ cron: '5 0 * * *', timezone: 'America/Los_Angeles', report: { cron: '0 7 * * *', machine: 'm1' } }, { machine: 'm2' }));
    expect(messages(h, 'schedule.next')).toEqual(['next night 2026-11-23 00:05 PST · next report 2026-11-23 07:00 PST, sent by m1']);
    expect(h.of('schedule.next')[0]!.fields).toMatchObject({ night: '2026-11-23T08:05:00.000Z', report: '2026-11-23T15:00:00.000Z' });
    expect(messages(h, 'report.elsewhere')).toEqual(['report: sent by m1, not this one']);
  });
});

describe('the report', () => {
  it('runs only on report.machine; the others never make or send it', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T08:00:00Z') });
    const other = await started(makeHarness({ cron: '5 0 * * *', report: { cron: '0 7 * * *', machine: 'm1', to: ['builds@example.com'] } }, { machine: 'm2' }));
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(other.nights.map((n) => n.date)).toEqual(['2026_05_06', '2026_05_07']);
    expect(other.reports).toEqual([]);
    expect(other.of('report.elsewhere')).toHaveLength(1);
  });

  it('on report.machine: the night it is about, mailed when there are recipients, written only when not', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T08:00:00Z') });
    // A 23:30 night: the 07:00 report is about the night dated the day before.
    const mailing = await started(makeHarness({ cron: '30 23 * * *', report: { cron: '0 7 * * *', to: ['builds@example.com'] } }));
    await vi.advanceTimersByTimeAsync(DAY);
    expect(mailing.reports.map((r) => [r.date, r.send, r.at.toISOString()])).toEqual([['2026_05_05', true, '2026-05-06T07:00:00.000Z']]);
    expect(messages(mailing, 'report.progress')).toEqual(['report 2026_05_05: written to /nonexistent/report.html']);
    expect(messages(mailing, 'report.finished')).toEqual(['report 2026_05_05 done: mailed']);
    await mailing.daemon.stop('SIGTERM');

    const silent = await started(makeHarness({ cron: '5 0 * * *', report: { cron: '0 7 * * *' } }));
    await vi.advanceTimersByTimeAsync(DAY);
    expect(silent.reports.map((r) => [r.date, r.send])).toEqual([['2026_05_07', false]]);
    expect(messages(silent, 'report.finished')).toEqual(['report 2026_05_07 written, not sent: report.to and report.webhooks name no one']);
    await silent.daemon.stop('SIGTERM');

    // Webhooks without recipients: sent all the same (deliverReport posts to the webhooks and mails no one).
    const posting = await started(makeHarness({ cron: '5 0 * * *', report: { cron: '0 7 * * *', webhooks: ['NIGHTSHIFT_SLACK_WEBHOOK'] } }));
    await vi.advanceTimersByTimeAsync(DAY);
    expect(posting.reports.map((r) => [r.date, r.send])).toEqual([['2026_05_08', true]]);
    expect(messages(posting, 'report.finished')).toEqual(['report 2026_05_08 done: posted to 1 webhook(s)']);
  });

  it('a report that fails is logged and the daemon goes on', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T08:00:00Z') });
    const h = await started(
      makeHarness(
        { cron: '5 0 * * *', report: { cron: '0 7 * * *', to: ['builds@example.com'] } },
        { reportError: new Error('no SMTP server: set NIGHTSHIFT_SMTP_URL; the report stays on disk') },
      ),
    );
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(messages(h, 'report.failed')).toEqual([
      'report 2026_05_06 not mailed: no SMTP server: set NIGHTSHIFT_SMTP_URL; the report stays on disk',
      'report 2026_05_07 not mailed: no SMTP server: set NIGHTSHIFT_SMTP_URL; the report stays on disk',
    ]);
  });
});

describe('failures and missed triggers', () => {
  it('a night that fails is logged; the next night still comes', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T08:00:00Z') });
    const h = await started(makeHarness({ cron: '5 0 * * *' }, { nightError: new Error('night 2026_05_06 is being run by pid 4242 (run)') }));
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(h.nights.map((n) => n.date)).toEqual(['2026_05_06', '2026_05_07']);
    expect(h.of('night.failed')).toHaveLength(2);
    expect(messages(h, 'night.failed')[0]).toBe('night 2026_05_06 failed: night 2026_05_06 is being run by pid 4242 (run)');
  });

  it('a trigger missed because the clock jumped (suspend) is caught up within a minute', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T23:00:00Z') });
    const h = await started(makeHarness({ cron: '5 0 * * *' }));
    // The machine sleeps from 23:00 to 00:30: the wall clock jumps and every timer fires 90 minutes late
    // (fake timers keep timers relative, like a suspended machine's monotonic clock).
    vi.setSystemTime(new Date('2026-05-06T00:30:00Z'));
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(h.nights.map((n) => [n.date, n.at.toISOString()])).toEqual([['2026_05_06', '2026-05-06T00:31:00.000Z']]);
    expect(messages(h, 'night.catch-up')).toEqual(['night 2026_05_06: its time 2026-05-06 00:05:00 UTC passed without a trigger; triggering it now']);
    // node-cron's own trigger comes at 01:35, far too late: it reports it missed and does not fire.
    await vi.advanceTimersByTimeAsync(HOUR + 5 * MINUTE);
    expect(h.of('cron.missed')).toHaveLength(1);
    expect(h.nights).toHaveLength(1);
  });
});

describe('SIGHUP reload', () => {
  it('an invalid configuration is refused, every problem logged, and the old schedule kept', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T12:00:00Z') });
    const h = await started(makeHarness({ cron: '0 3 * * *' }));
    h.setLoad(
      new Error('matrix.yaml:3:5 axes.python: expected a list\nschedules/nightly.yaml:1:7 cron: expected a cron expression like "5 0 * * *"\n2 problems in the configuration'),
    );
    await h.daemon.reload();
    expect(messages(h, 'config.problem')).toEqual([
      'matrix.yaml:3:5 axes.python: expected a list',
      'schedules/nightly.yaml:1:7 cron: expected a cron expression like "5 0 * * *"',
      '2 problems in the configuration',
    ]);
    expect(messages(h, 'config.rejected')).toEqual(['the new configuration is invalid: keeping the one loaded at 2026-05-05T12:00:00.000Z']);
    await vi.advanceTimersByTimeAsync(DAY);
    expect(h.nights.map((n) => n.at.toISOString())).toEqual(['2026-05-06T03:00:00.000Z']);
  });

  it('a valid one replaces the triggers; a running night goes on untouched', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T12:00:00Z') });
    const h = await started(makeHarness({ cron: '0 3 * * *' }, { nightMs: 2 * HOUR }));
    h.setLoad(testContext({ cron: '0 13 * * *' }));
    await h.daemon.reload();
    expect(messages(h, 'config.reloaded')).toEqual(['configuration reloaded: nights at "0 13 * * *" in UTC']);
    await vi.advanceTimersByTimeAsync(HOUR + MINUTE);
    expect(h.nights.map((n) => n.at.toISOString())).toEqual(['2026-05-05T13:00:00.000Z']);

    h.setLoad(testContext({ cron: '0 1 * * *' }));
    await h.daemon.reload();
    expect(messages(h, 'config.reloaded')[1]).toBe('configuration reloaded: nights at "0 1 * * *" in UTC; night 2026_05_05 goes on with the configuration it started with');
    await vi.advanceTimersByTimeAsync(DAY);
    expect(h.nights.map((n) => [n.at.toISOString(), n.aborted])).toEqual([
      ['2026-05-05T13:00:00.000Z', false],
      ['2026-05-06T01:00:00.000Z', false],
    ]);
    // 03:00 (the first schedule) never fired again: nothing was even dropped then.
    expect(h.of('night.skipped')).toEqual([]);
  });
});

describe('stop', () => {
  it('cancels the running night, removes every timer, and triggers nothing after', async () => {
    vi.useFakeTimers({ now: new Date('2026-05-05T00:10:00Z') });
    const h = await started(makeHarness({ cron: '5 0 * * *' }, { nightMs: HOUR }));
    await vi.advanceTimersByTimeAsync(MINUTE);
    expect(h.nights).toHaveLength(1);
    await h.daemon.stop('SIGTERM');
    expect(h.nights[0]!.aborted).toBe(true);
    expect(messages(h, 'daemon.stopping')).toEqual(["SIGTERM: stopping; night 2026_05_05's running builds are canceled and it resumes at the next start"]);
    expect(messages(h, 'night.stopped')).toEqual(['night 2026_05_05 stopped after 1m: 1 canceled']);
    expect(messages(h, 'daemon.stopped')).toEqual(['stopped']);
    expect(cron.getTasks().size).toBe(0);
    await vi.advanceTimersByTimeAsync(2 * DAY);
    expect(h.nights).toHaveLength(1);
  });
});

describe('next runs, for the daemon and nightshift status', () => {
  it('formats times in the schedule zone, including the night of a daylight-saving gap', () => {
    expect(formatInZone(new Date('2026-11-23T08:05:00Z'), 'America/Los_Angeles')).toBe('2026-11-23 00:05 PST');
    expect(formatInZone(new Date('2026-11-23T08:05:04Z'), 'UTC')).toBe('2026-11-23 08:05:04 UTC');
    const { schedule } = testContext({ cron: '30 2 * * *', timezone: 'America/Los_Angeles' });
    expect(describeNextRuns(nextRuns(schedule, new Date('2026-03-07T12:00:00Z')))).toBe('next night 2026-03-08 03:00 PDT · no report (the schedule has no report:)');
  });

  it('daemon --help names the log formats; --date is refused', async () => {
    const help = await runCli(['daemon', '--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toMatch(/Usage: nightshift daemon/);
    expect(help.stdout).toMatch(/--log-format <format>.*\(choices: "text", "json", default: "text"\)/s);
    const date = await runCli(['daemon', '--date', '2026_11_22', '--config', '/nonexistent']);
    expect(date.exitCode).toBe(2);
    expect(date.stderr).toMatch(/--date is for run, status and report/);
  });
});
