/**
 * When is a night due? Pure time arithmetic over a cron expression in the schedule's time zone, and
 * the daemon's decisions built on it. No timers, no files: every boundary is tested without waiting.
 *
 * The model. A cron expression names wall-clock times (`30 2 * * *`: 02:30 every day); each matching
 * time on a calendar day is one **scheduled time**, and it happens at one instant:
 * - a wall time that exists once happens then;
 * - a wall time that exists twice (the hour repeated when the clocks go back) happens the first time;
 * - a wall time that does not exist (the hour skipped when the clocks go forward) happens at the end of
 *   the gap, the first instant after the jump (as Vixie cron and cronie do).
 * So every day that matches has its night exactly once: daylight saving neither skips nor doubles one.
 * The instants never decrease as the wall time increases, which is what makes the searches below
 * simple: walk wall times in order and stop at the first whose instant fits.
 *
 * node-cron (4.6), which triggers the daemon, does not always agree: at a wall time inside a gap it does
 * not fire at all, and in zones east of UTC it fires a repeated wall time at its second occurrence. The
 * daemon compensates with `missedSlot` (a check every minute for a scheduled time that passed with no
 * trigger), which starts such a night one minute after its time here; node-cron's own later trigger for
 * the same date then finds the night finished (or running) and is dropped.
 *
 * Days follow crontab(5): when day of month and day of week are both restricted, a day matches when
 * EITHER does (node-cron itself requires both, so the daemon triggers node-cron every day at the
 * times and lets `scheduledOn` pick the days).
 *
 * A night's identity is its date (YYYY_MM_DD): the calendar date of its scheduled wall time.
 */
import cron from 'node-cron';
import { eitherDayVariants, everyDayExpression } from './cron-fields.js';
import { FINISHED_STATUSES } from '../night/layout.js';
import type { NightState } from '../night/state.js';

const SECOND = 1000;
const HOUR = 3_600_000;
const DAY = 86_400_000;
/** Offsets change by less than this (1 h in practice, 2 h at most anywhere): a safe search margin. */
const MAX_SHIFT = 3 * HOUR;

/** One scheduled time of a cron expression. */
export interface ScheduledTime {
  /** The instant it happens (see the model above). */
  at: Date;
  /** The night's date: the calendar date of the wall time, YYYY_MM_DD. */
  date: string;
  /** The wall time as written by the cron expression, `2026-03-08 02:30:00`, which may not exist. */
  wall: string;
}

// ---------------------------------------------------------------------------------------------------
// Wall clock <-> instants. A "wall" value is the local date and time written as if it were UTC
// (Date.UTC(year, month, day, hour, minute, second)), in milliseconds, always whole seconds.

const formatters = new Map<string, Intl.DateTimeFormat>();
function formatter(timeZone: string): Intl.DateTimeFormat {
  let format = formatters.get(timeZone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    });
    formatters.set(timeZone, format);
  }
  return format;
}

/** The wall clock in `timeZone` at `instant` (ms; truncated to the second). */
export function wallAt(instant: number, timeZone: string): number {
  const parts: Record<string, number> = {};
  for (const part of formatter(timeZone).formatToParts(new Date(instant))) parts[part.type] = Number(part.value);
  return Date.UTC(parts.year!, parts.month! - 1, parts.day, parts.hour! % 24, parts.minute, parts.second);
}

/** The zone's offset from UTC at `instant`, in ms (-8 h for PST). */
export function offsetAt(instant: number, timeZone: string): number {
  const second = Math.floor(instant / SECOND) * SECOND;
  return wallAt(second, timeZone) - second;
}

/**
 * The instant a wall time happens: once → then; twice → the first; never (in a gap) → the end of the
 * gap. Assumes at most one offset change within a day of it, which holds for every real zone.
 */
export function instantOf(wall: number, timeZone: string): number {
  const before = offsetAt(wall - DAY, timeZone);
  const after = offsetAt(wall + DAY, timeZone);
  const fits = [wall - before, wall - after].filter((instant) => wallAt(instant, timeZone) === wall);
  if (fits.length) return Math.min(...fits);
  // In a gap: at `wall - after` the clock still showed the old offset, at `wall - before` already the
  // new one. The jump is between them; the gap ends at the first second with the new offset.
  let old = wall - after;
  let jumped = wall - before;
  while (jumped - old > SECOND) {
    const mid = old + Math.floor((jumped - old) / 2 / SECOND) * SECOND;
    if (offsetAt(mid, timeZone) === before) old = mid;
    else jumped = mid;
  }
  return jumped;
}

// ---------------------------------------------------------------------------------------------------
// The cron expression as wall-clock times: node-cron's own parser and day matching (L, W, #, names,
// ranges ...), with crontab's either-day rule on top: a day matches when one of the expressions whose
// days come from one field alone matches it.

interface WallCron {
  /** Matching seconds of the day, ascending. */
  times: number[];
  dayMatches(dayStart: number): boolean;
}

function withWallCron<T>(expression: string, use: (wallCron: WallCron) => T): T {
  const fields = cron.parse(expression);
  const sorted = (values: number[]) => [...new Set(values)].sort((a, b) => a - b);
  const times: number[] = [];
  for (const hour of sorted(fields.hour)) for (const minute of sorted(fields.minute)) for (const second of sorted(fields.second)) times.push(hour * 3600 + minute * 60 + second);
  // Tasks read in UTC match wall times directly. They are never started (no timer) and are removed from
  // node-cron's registry when done.
  const probes = (eitherDayVariants(expression) ?? [expression]).map((variant) => cron.createTask(variant, () => undefined, { timezone: 'UTC' }));
  try {
    // Any matching time of day: the match then says whether the day (day of month, month, weekday) does.
    return use({ times, dayMatches: (dayStart) => probes.some((probe) => probe.match(new Date(dayStart + times[0]! * SECOND))) });
  } finally {
    for (const probe of probes) void probe.destroy();
  }
}

/** True when the expression's days include `date` (YYYY_MM_DD), by crontab's rule. */
export function scheduledOn(expression: string, date: string): boolean {
  const [year, month, day] = date.split('_').map(Number) as [number, number, number];
  return withWallCron(expression, (wallCron) => wallCron.dayMatches(Date.UTC(year, month - 1, day)));
}

/**
 * What node-cron is given to trigger `expression`: the expression itself, or — when crontab reads its
 * days as either-or, which node-cron cannot — every day at its times, the trigger then checking
 * `scheduledOn`.
 */
export function triggerExpression(expression: string): string {
  return eitherDayVariants(expression) ? everyDayExpression(expression) : expression;
}

/** Matching wall times from `start` on (direction 1) or back (direction -1), up to `limit` inclusive. */
function* wallTimes(wallCron: WallCron, start: number, direction: 1 | -1, limit: number): Generator<number> {
  const { times } = wallCron;
  let dayStart = Math.floor(start / DAY) * DAY;
  const firstSecond = Math.floor((start - dayStart) / SECOND);
  for (let first = true; direction === 1 ? dayStart <= limit : dayStart + DAY > limit; dayStart += direction * DAY, first = false) {
    if (!wallCron.dayMatches(dayStart)) continue;
    const ordered = direction === 1 ? times : [...times].reverse();
    for (const second of ordered) {
      if (first && (direction === 1 ? second < firstSecond : second > firstSecond)) continue;
      const wall = dayStart + second * SECOND;
      if (direction === 1 ? wall > limit : wall < limit) return;
      yield wall;
    }
  }
}

function scheduled(wall: number, at: number): ScheduledTime {
  const iso = new Date(wall).toISOString();
  return { at: new Date(at), date: `${iso.slice(0, 4)}_${iso.slice(5, 7)}_${iso.slice(8, 10)}`, wall: `${iso.slice(0, 10)} ${iso.slice(11, 19)}` };
}

/**
 * The latest scheduled time at or before `now`, if it is no older than `within` ms; undefined otherwise.
 * Wall times later than now's wall clock can still have happened (in the repeated hour after the clocks
 * went back), so the walk starts up to the size of that shift later.
 */
export function previousRun(expression: string, timeZone: string, now: Date, within: number): ScheduledTime | undefined {
  const nowMs = now.getTime();
  const second = Math.floor(nowMs / SECOND) * SECOND;
  const offsets = [offsetAt(second, timeZone), offsetAt(second - MAX_SHIFT, timeZone)];
  const start = second + Math.max(...offsets);
  const limit = nowMs - within + Math.min(...offsets) - MAX_SHIFT;
  return withWallCron(expression, (wallCron) => {
    for (const wall of wallTimes(wallCron, start, -1, limit)) {
      const at = instantOf(wall, timeZone);
      if (at > nowMs) continue;
      return at >= nowMs - within ? scheduled(wall, at) : undefined;
    }
    return undefined;
  });
}

/** The first scheduled time strictly after `after`, within `within` ms (default 5 years); undefined if none. */
export function nextRun(expression: string, timeZone: string, after: Date, within = 5 * 366 * DAY): ScheduledTime | undefined {
  const afterMs = after.getTime();
  const second = Math.floor(afterMs / SECOND) * SECOND;
  const offsets = [offsetAt(second, timeZone), offsetAt(second + MAX_SHIFT, timeZone)];
  const start = second + Math.min(...offsets);
  return withWallCron(expression, (wallCron) => {
    for (const wall of wallTimes(wallCron, start, 1, start + within)) {
      const at = instantOf(wall, timeZone);
      if (at > afterMs) return scheduled(wall, at);
    }
    return undefined;
  });
}

// ---------------------------------------------------------------------------------------------------
// The daemon's decisions.

/** Where a night stands on this machine: never run, started but not done, or done. */
export type NightProgress = 'none' | 'unfinished' | 'finished';

/**
 * Done = the runner wrote finished_at and no build is pending, running or canceled. A night stopped by a
 * signal (canceled and pending builds) or left by a runner that died (no finished_at) is unfinished.
 */
export function nightProgress(state: NightState | undefined): NightProgress {
  if (!state) return 'none';
  // Canceled and not run (the Docker engine was down) are final for a report, not for the night: resume them.
  const open = state.builds.some((b) => b.status === 'canceled' || b.status === 'not_run' || !FINISHED_STATUSES.includes(b.status));
  return state.finished_at && !open ? 'finished' : 'unfinished';
}

export type StartupAction = { action: 'resume'; date: string; reason: string } | { action: 'start'; date: string; reason: string } | { action: 'none'; reason: string };

/**
 * What the daemon does when it starts: resume today's night if it was stopped before it finished (a
 * restart after SIGTERM or a crash); else resume or start the latest scheduled night if its time is at
 * most `missed_grace` ago (the machine was down, or the night ran across midnight when it stopped);
 * else wait for the next trigger.
 */
export function startupAction(input: {
  today: string;
  todayProgress: NightProgress;
  /** previousRun(cron, tz, now, grace): the latest scheduled time within the grace window. */
  latest: ScheduledTime | undefined;
  latestProgress: NightProgress;
}): StartupAction {
  const { today, todayProgress, latest, latestProgress } = input;
  if (todayProgress === 'unfinished') return { action: 'resume', date: today, reason: `night ${today} was stopped before it finished` };
  if (!latest) return { action: 'none', reason: 'no night was scheduled within missed_grace' };
  if (latestProgress === 'unfinished') return { action: 'resume', date: latest.date, reason: `night ${latest.date} was stopped before it finished` };
  if (latestProgress === 'none')
    return { action: 'start', date: latest.date, reason: `night ${latest.date} was due at ${latest.at.toISOString()} and never ran (within missed_grace)` };
  return { action: 'none', reason: `night ${latest.date} already finished` };
}

/**
 * A scheduled time that passed without a trigger since `since` (the last trigger, or when the daemon
 * started or reloaded): node-cron skips wall times inside a daylight-saving gap, and misses a time when
 * the event loop or the machine was stalled. `slack` leaves node-cron its own second to fire first, so
 * a trigger is never doubled by this check (a doubled trigger would be harmless anyway: same date).
 */
export function missedSlot(input: { cron: string; timezone: string; now: Date; since: Date; graceMs: number; slackMs: number }): ScheduledTime | undefined {
  const last = previousRun(input.cron, input.timezone, new Date(input.now.getTime() - input.slackMs), input.graceMs);
  return last && last.at.getTime() > input.since.getTime() ? last : undefined;
}

/**
 * The night a report at `at` is about: the latest night scheduled at or before it (the report of a
 * 23:30 night at 07:00 is about yesterday's date), else `at`'s own date.
 */
export function reportNightDate(nightCron: string, timeZone: string, at: Date, fallback: string): string {
  return previousRun(nightCron, timeZone, at, 8 * DAY)?.date ?? fallback;
}
