/**
 * The daemon's real node-cron triggers over days and weeks of time: the cron lines `nightshift install`
 * writes start a job exactly when the daemon would (every minute of 40 days), and an either-or day
 * expression starts its nights at their times under vitest's fake clock. Pure code, but minutes of it:
 * kept out of the unit suite (test/unit/units.test.ts and cron-semantics.test.ts hold the rest).
 */
import cron from 'node-cron';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Schedule } from '../../src/config/model.js';
import { cronUnescape } from '../../src/daemon/command-quoting.js';
import { crontabLines } from '../../src/daemon/cron-file.js';
import { scheduledOn, triggerExpression } from '../../src/daemon/due.js';
import { nightDate } from '../../src/night/night-date.js';
import { makeHarness, type Harness } from '../helpers/daemon.js';
import { scheduleModel } from '../helpers/model.js';

const DAY = 86_400_000;

describe('crontabLines', () => {
  const tab = (o: { schedule: Schedule }) =>
    crontabLines({
      configDir: '/etc/nightshift/config',
      nightshiftBin: '/usr/local/lib/node_modules/nightshift/dist/cli.js',
      nodeBin: '/usr/bin/node',
      machine: 'linux-0',
      user: 'root',
      ...o,
    });

  /** The job lines of a system crontab, split the way cron reads them: 5 time fields, user, command. */
  function jobs(text: string) {
    return text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#') && !/^[A-Z_]+=/.test(l))
      .map((l) => ({ command: l.replace(/^(\S+ +){6}/, '') }));
  }

  it("the time check matches exactly when the daemon would start the job (crontab's days)", () => {
    const timeZone = 'America/Los_Angeles';
    const parts = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', minute: '2-digit', hour: '2-digit', day: '2-digit', month: '2-digit', weekday: 'short' });
    const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
    const dateText = (at: Date) => {
      const p = Object.fromEntries(parts.formatToParts(at).map((x) => [x.type, x.value]));
      return `${p.minute!.padStart(2, '0')}:${p.hour!}:${p.day!}:${p.month!}:${days.indexOf(p.weekday!)}`;
    };
    // '0 0 1 * sun' and '30 6 1-7 * sun': the 1st OR a Sunday, as crontab(5) reads them; '0 1 */2 * 1': AND (a field starts with *).
    for (const expr of ['5 0 * * *', '*/20 22-2 * * mon-fri', '0 0 1 * sun', '30 6 1-7 * sun', '0 12 * jan,feb,nov 0', '15 1 * * *', '0 1 */2 * 1']) {
      const command = cronUnescape(jobs(tab({ schedule: scheduleModel({ cron: expr, timezone: timeZone }) }))[0]!.command).command;
      const pattern = new RegExp(`^${/grep -qxE '([^']+)'/.exec(command)![1]!}$`);
      // The daemon: node-cron's trigger for the times, due.ts for the days.
      const trigger = cron.createTask(triggerExpression(expr), () => {}, { timezone: timeZone });
      const task = { match: (at: Date) => trigger.match(at) && scheduledOn(expr, nightDate(at, timeZone)), destroy: () => trigger.destroy() };
      // Every minute of 40 days from 2026-10-25 (across the end of daylight saving time on 2026-11-01).
      const start = Date.UTC(2026, 9, 25);
      let matches = 0;
      for (let m = 0; m < 40 * 24 * 60; m++) {
        const at = new Date(start + m * 60_000);
        const ours = pattern.test(dateText(at));
        if (ours !== task.match(at)) throw new Error(`${expr} at ${at.toISOString()} (${dateText(at)}): cron line ${String(ours)}, daemon ${String(task.match(at))}`);
        if (ours) matches++;
      }
      expect(matches, expr).toBeGreaterThan(0);
      void task.destroy();
    }
  });
});

describe('the daemon with real node-cron triggers', () => {
  let running: Harness | undefined;
  afterEach(async () => {
    await running?.daemon.stop('SIGTERM');
    running = undefined;
    vi.useRealTimers();
    expect(cron.getTasks().size).toBe(0);
  });

  it('"0 1 1 * 1" starts the night on the 1st and on Monday, each at its time (not by the catch-up)', async () => {
    vi.useFakeTimers({ now: new Date('2026-11-30T12:00:00Z') });
    const h = makeHarness({ cron: '0 1 1 * 1', missedGraceS: 60 });
    running = h;
    await h.daemon.start();
    await vi.advanceTimersByTimeAsync(8 * DAY);
    expect(h.nights.map((n) => [n.date, n.at.toISOString()])).toEqual([
      ['2026_12_01', '2026-12-01T01:00:00.000Z'],
      ['2026_12_07', '2026-12-07T01:00:00.000Z'],
    ]);
    expect(h.of('night.catch-up')).toEqual([]);
  });
});
