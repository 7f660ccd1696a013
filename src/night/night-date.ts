/** The night's date: the schedule's calendar date in its time zone, written YYYY_MM_DD. */
import { ExitCode, NightshiftError } from '../errors.js';

const NIGHT_DATE = /^(\d{4})_(\d{2})_(\d{2})$/;

export function nightDate(now: Date, timeZone: string): string {
  const parts = new Intl.DateTimeFormat('en-CA', { timeZone, year: 'numeric', month: '2-digit', day: '2-digit' }).formatToParts(now);
  const part = (type: string) => parts.find((p) => p.type === type)!.value;
  return `${part('year')}_${part('month')}_${part('day')}`;
}

/** True for a real calendar date in the YYYY_MM_DD form (2026_02_30 is not). */
export function isNightDate(text: string): boolean {
  const match = NIGHT_DATE.exec(text);
  if (!match) return false;
  const [year, month, day] = match.slice(1).map(Number) as [number, number, number];
  const date = new Date(Date.UTC(year, month - 1, day));
  return date.getUTCFullYear() === year && date.getUTCMonth() === month - 1 && date.getUTCDate() === day;
}

const DAY_MS = 86_400_000;

/** `date` moved by `days` calendar days (UTC arithmetic: no time zone or DST can shift a day). */
export function addDays(date: string, days: number): string {
  const [year, month, day] = date.split('_').map(Number) as [number, number, number];
  const moved = new Date(Date.UTC(year, month - 1, day) + days * DAY_MS);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${moved.getUTCFullYear()}_${two(moved.getUTCMonth() + 1)}_${two(moved.getUTCDate())}`;
}

/** `--date` as given (YYYY_MM_DD, or YYYY-MM-DD as people write dates), checked; or today's night in the schedule's time zone. */
export function resolveNightDate(given: string | undefined, timeZone: string, now: Date = new Date()): string {
  if (given === undefined) return nightDate(now, timeZone);
  const asNight = /^\d{4}-\d{2}-\d{2}$/.test(given) ? given.replaceAll('-', '_') : given;
  if (isNightDate(asNight)) return asNight;
  if (NIGHT_DATE.test(asNight)) {
    throw new NightshiftError(`--date ${JSON.stringify(given)} is not a real date (no such day in that month), e.g. ${nightDate(now, timeZone)}`, ExitCode.usage);
  }
  throw new NightshiftError(`--date ${JSON.stringify(given)} is not a date in the form YYYY_MM_DD or YYYY-MM-DD, e.g. ${nightDate(now, timeZone)}`, ExitCode.usage);
}
