/** When the next night and report come, for the daemon's start-up lines and `nightshift status`. */
import type { Schedule } from '../config/model.js';
import { nextRun, type ScheduledTime } from './due.js';

export interface NextRuns {
  timezone: string;
  night?: ScheduledTime;
  /** Only when the schedule has a report. */
  report?: ScheduledTime;
  /** The one machine that sends it. */
  reportMachine?: string;
}

export function nextRuns(schedule: Schedule, now: Date): NextRuns {
  return {
    timezone: schedule.timezone,
    night: nextRun(schedule.cron, schedule.timezone, now),
    report: schedule.report && nextRun(schedule.report.cron, schedule.timezone, now),
    reportMachine: schedule.report?.machine,
  };
}

/** `2026-11-23 00:05 PST` (seconds only when the time has some). */
export function formatInZone(at: Date, timeZone: string): string {
  const parts: Record<string, string> = {};
  const format = new Intl.DateTimeFormat('en-US', {
    timeZone,
    hourCycle: 'h23',
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    timeZoneName: 'short',
  });
  for (const part of format.formatToParts(at)) parts[part.type] = part.value;
  const seconds = parts.second === '00' ? '' : `:${parts.second!}`;
  return `${parts.year!}-${parts.month!}-${parts.day!} ${parts.hour!}:${parts.minute!}${seconds} ${parts.timeZoneName!}`;
}

/** `next night 2026-11-23 00:05 PST · next report 2026-11-23 07:00 PST, sent by linux-0` */
export function describeNextRuns(next: NextRuns): string {
  const when = (time: ScheduledTime | undefined) => (time ? formatInZone(time.at, next.timezone) : 'never (the cron expression matches no date in 5 years)');
  const report = next.reportMachine ? `next report ${when(next.report)}, sent by ${next.reportMachine}` : 'no report (the schedule has no report:)';
  return `next night ${when(next.night)} · ${report}`;
}
