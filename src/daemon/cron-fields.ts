/**
 * Cron expressions as crontab(5) reads them — when day of month and day of week are both restricted
 * (neither starts with `*`), a day matches when EITHER does — their value sets, and the same schedule
 * as systemd OnCalendar= values — pure. Used by `nightshift install` to write timers and cron lines,
 * and by the daemon (due.ts) to match days; what cannot be expressed is refused with a reason.
 */
import { ExitCode, NightshiftError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Cron expressions
// ---------------------------------------------------------------------------------------------

/** The five fields of a cron expression as the sets of values they match (sorted, no repeats). */
export interface CronSchedule {
  minute: number[];
  hour: number[];
  dayOfMonth: number[];
  month: number[];
  /** 0 = Sunday (7 is read as 0). */
  dayOfWeek: number[];
  /** Both day fields restricted: a day matches when either does (crontab(5)); otherwise when both do. */
  eitherDay: boolean;
}

type FieldName = Exclude<keyof CronSchedule, 'eitherDay'>;

export interface Field {
  key: FieldName;
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];
const DAYS = ['sunday', 'monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday'];
const SYSTEMD_DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];

const FIELDS: readonly Field[] = [
  { key: 'minute', label: 'minute', min: 0, max: 59 },
  { key: 'hour', label: 'hour', min: 0, max: 23 },
  { key: 'dayOfMonth', label: 'day of month', min: 1, max: 31 },
  { key: 'month', label: 'month', min: 1, max: 12, names: MONTHS },
  { key: 'dayOfWeek', label: 'day of week', min: 0, max: 6, names: DAYS },
];

const NICKNAMES: Record<string, string> = {
  '@yearly': '0 0 1 1 *',
  '@annually': '0 0 1 1 *',
  '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0',
  '@daily': '0 0 * * *',
  '@midnight': '0 0 * * *',
  '@hourly': '0 * * * *',
};

const DAEMON_HINT =
  'systemd timers and cron lines take the five standard fields (minute hour day-of-month month day-of-week, with *, lists, ranges, steps and names); ' +
  'write it that way, or use the daemon, which runs any expression nightshift accepts: nightshift install systemd --mode daemon';

function refuse(expr: string, what: string, why: string): never {
  throw new NightshiftError(`cannot install ${what} "${expr}": ${why}. ${DAEMON_HINT}`, ExitCode.usage);
}

/**
 * Reads a 5-field cron expression (or @daily and the like). Refuses, with a message that says why and
 * what to do, what systemd timers and cron cannot express: a seconds field, `L`, `W`, `#`.
 * `what` names the expression in messages (e.g. `schedules/nightly.yaml cron`).
 */
export function parseCron(expr: string, what = 'the cron expression'): CronSchedule {
  const text = NICKNAMES[expr.trim().toLowerCase()] ?? expr.trim();
  if (text.startsWith('@')) refuse(expr, what, `${text} is not a schedule systemd or cron can run at a fixed time`);
  const parts = text.split(/\s+/);
  if (parts.length === 6) refuse(expr, what, 'it has a seconds field (6 fields); timers and cron start jobs on whole minutes');
  if (parts.length !== 5) refuse(expr, what, `expected 5 fields, got ${parts.length}`);
  const schedule = { eitherDay: eitherDayVariants(text) !== undefined } as CronSchedule;
  FIELDS.forEach((field, index) => {
    schedule[field.key] = parseField(parts[index]!, field, expr, what);
  });
  return schedule;
}

/** A day field that starts with `*` (or node-cron's `?`) leaves the days to the other one. */
const unrestricted = (text: string) => text.startsWith('*') || text.startsWith('?');

/**
 * crontab(5): "If both fields are restricted (i.e., do not start with *), the command will be run when
 * either field matches". For such an expression (5 fields, or 6 with seconds), the two expressions
 * whose days come from one field alone — day of month with any weekday, and weekday with any day of
 * month — which together match exactly its days. Undefined when a day field is unrestricted: then
 * the expression means the same read either way.
 */
export function eitherDayVariants(expression: string): [byDayOfMonth: string, byDayOfWeek: string] | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) return undefined;
  const [dom, dow] = [parts.length - 3, parts.length - 1];
  if (unrestricted(parts[dom]!) || unrestricted(parts[dow]!)) return undefined;
  const withStar = (index: number) => parts.map((part, i) => (i === index ? '*' : part)).join(' ');
  return [withStar(dow), withStar(dom)];
}

/** The expression with both day fields `*`: every day (of its months) at its times. */
export function everyDayExpression(expression: string): string {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) return expression;
  return parts.map((part, i) => (i === parts.length - 3 || i === parts.length - 1 ? '*' : part)).join(' ');
}

function parseField(text: string, field: Field, expr: string, what: string): number[] {
  const values = new Set<number>();
  for (const item of text.split(',')) {
    const match = /^(\*|\?|[a-z0-9]+)(?:-([a-z0-9]+))?(?:\/(\d+))?$/i.exec(item);
    if (!match) unreadable(item, field, expr, what);
    const [, from, to, stepText] = match;
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!(step >= 1)) refuse(expr, what, `the step of "${item}" in the ${field.label} field must be at least 1`);
    if (from === '*' || from === '?') {
      if (to !== undefined || (from === '?' && (stepText !== undefined || (field.key !== 'dayOfMonth' && field.key !== 'dayOfWeek')))) {
        refuse(expr, what, `cannot read "${item}" in the ${field.label} field`);
      }
      for (let v = field.min; v <= field.max; v += step) values.add(v);
      continue;
    }
    if (to === undefined && stepText !== undefined) {
      refuse(expr, what, `"${item}" in the ${field.label} field: a step needs * or a range before it (e.g. */${step} or ${from!}-${field.max}/${step})`);
    }
    const start = fieldValue(from!, field, item, expr, what);
    const end = to === undefined ? start : fieldValue(to, field, item, expr, what);
    for (const v of expandRange(start, end, step, field)) values.add(v);
  }
  if (field.key === 'dayOfWeek' && values.has(7)) {
    values.delete(7);
    values.add(0);
  }
  return [...values].sort((a, b) => a - b);
}

/** Refuses an item that is not a number, name, range, step or star: L, W and # get their own reason. */
function unreadable(item: string, field: Field, expr: string, what: string): never {
  if (/[LW#]/i.test(item)) {
    refuse(expr, what, `"${item}" in the ${field.label} field uses L, W or # (last day, nearest weekday, nth weekday of the month), which systemd timers and cron do not have`);
  }
  refuse(expr, what, `cannot read "${item}" in the ${field.label} field`);
}

function nameIndex(word: string, field: Field): number | undefined {
  const lower = word.toLowerCase();
  const index = field.names?.findIndex((name) => name === lower || (lower.length === 3 && name.startsWith(lower)));
  if (index === undefined || index < 0) return undefined;
  return field.key === 'month' ? index + 1 : index;
}

function fieldValue(word: string, field: Field, item: string, expr: string, what: string): number {
  let value: number | undefined;
  if (/^\d+$/.test(word)) value = Number(word);
  else value = nameIndex(word, field);
  if (value === undefined) {
    if (/[LW]/i.test(word)) unreadable(item, field, expr, what);
    refuse(expr, what, `"${word}" in "${item}" is not a ${field.label}`);
  }
  const max = field.key === 'dayOfWeek' ? 7 : field.max;
  if (value < field.min || value > max) refuse(expr, what, `${word} is out of range for the ${field.label} field (${field.min}-${max})`);
  return value;
}

/** start..end by step; a range that ends below its start wraps around the field (fri-mon), as node-cron reads it. */
function expandRange(start: number, end: number, step: number, field: Field): number[] {
  const out: number[] = [];
  if (start <= end) {
    for (let v = start; v <= end; v += step) out.push(v);
    return out;
  }
  const size = field.max - field.min + 1;
  const span = (((end - start) % size) + size) % size;
  for (let offset = 0; offset <= span; offset += step) {
    let v = start + offset;
    if (v > field.max) v -= size;
    out.push(v);
  }
  return out;
}

function isFull(values: readonly number[], field: Field): boolean {
  return values.length === field.max - field.min + 1;
}

/** Consecutive runs [from, to] of a sorted list. */
function runs(values: readonly number[]): [number, number][] {
  const out: [number, number][] = [];
  for (const v of values) {
    const last = out.at(-1);
    if (last && v === last[1] + 1) last[1] = v;
    else out.push([v, v]);
  }
  return out;
}

/** start, end and step when the values (at least 3) are evenly spaced more than 1 apart. */
function progression(values: readonly number[]): { start: number; end: number; step: number } | undefined {
  if (values.length < 3) return undefined;
  const step = values[1]! - values[0]!;
  if (step < 2) return undefined;
  for (let i = 2; i < values.length; i++) if (values[i]! - values[i - 1]! !== step) return undefined;
  return { start: values[0]!, end: values.at(-1)!, step };
}

// ---------------------------------------------------------------------------------------------
// systemd OnCalendar=
// ---------------------------------------------------------------------------------------------

function calendarComponent(values: readonly number[], field: Field): string {
  if (isFull(values, field)) return '*';
  const two = (v: number) => String(v).padStart(2, '0');
  const p = progression(values);
  if (p) return p.end + p.step > field.max ? `${two(p.start)}/${p.step}` : `${two(p.start)}..${two(p.end)}/${p.step}`;
  return runs(values)
    .map(([a, b]) => (a === b ? two(a) : b === a + 1 ? `${two(a)},${two(b)}` : `${two(a)}..${two(b)}`))
    .join(',');
}

function calendarWeekdays(values: readonly number[]): string {
  // Lists and forward ranges only: systemd refuses a range that wraps (Fri..Mon).
  return runs(values)
    .map(([a, b]) => (a === b ? SYSTEMD_DAYS[a]! : b === a + 1 ? `${SYSTEMD_DAYS[a]!},${SYSTEMD_DAYS[b]!}` : `${SYSTEMD_DAYS[a]!}..${SYSTEMD_DAYS[b]!}`))
    .join(',');
}

export const field = (key: FieldName) => FIELDS.find((f) => f.key === key)!;

/**
 * The systemd OnCalendar= values for a 5-field cron expression in `timezone`:
 * `5 0 * * *` → `*-*-* 00:05:00 America/Los_Angeles`, `*\/15 9-17 * * mon-fri` →
 * `Mon..Fri *-*-* 09..17:00/15:00 UTC`. One value, except when both day fields are restricted:
 * systemd requires the weekday AND the day of month of one value, crontab either, so then one value
 * per day field (a timer elapses at the earliest of its OnCalendar= values). Throws a usage error for
 * what it cannot express.
 */
export function cronToOnCalendars(expr: string, timezone: string, what?: string): string[] {
  const c = parseCron(expr, what);
  const value = (dayOfMonth: readonly number[], dayOfWeek: readonly number[]) => {
    const weekdays = isFull(dayOfWeek, field('dayOfWeek')) ? '' : `${calendarWeekdays(dayOfWeek)} `;
    const date = `*-${calendarComponent(c.month, field('month'))}-${calendarComponent(dayOfMonth, field('dayOfMonth'))}`;
    const time = `${calendarComponent(c.hour, field('hour'))}:${calendarComponent(c.minute, field('minute'))}:00`;
    return `${weekdays}${date} ${time} ${timezone}`;
  };
  if (!c.eitherDay) return [value(c.dayOfMonth, c.dayOfWeek)];
  return [value(c.dayOfMonth, allOf(field('dayOfWeek'))), value(allOf(field('dayOfMonth')), c.dayOfWeek)];
}

function allOf(f: Field): number[] {
  return Array.from({ length: f.max - f.min + 1 }, (_, i) => f.min + i);
}

/** The shortest cron field for these values: a star, a step, a stepped range, or a list of runs. */
export function cronField(values: readonly number[], f: Field): string {
  if (isFull(values, f)) return '*';
  const p = progression(values);
  if (p) return p.start === f.min && p.end + p.step > f.max ? `*/${p.step}` : `${p.start}-${p.end}/${p.step}`;
  return runs(values)
    .map(([a, b]) => (a === b ? `${a}` : b === a + 1 ? `${a},${b}` : `${a}-${b}`))
    .join(',');
}

/**
 * An `grep -xE` pattern for `date +%M:%H:%d:%m:%w` that matches exactly the expression's times (with
 * both day fields restricted: the day of month OR the weekday, as crontab(5) reads it).
 */
export function datePattern(c: CronSchedule): string {
  const part = (values: readonly number[], f: Field, width: number) => {
    if (isFull(values, f)) return '.'.repeat(width);
    const words = values.map((v) => String(v).padStart(width, '0'));
    return words.length === 1 ? words[0]! : `(${words.join('|')})`;
  };
  const time = `${part(c.minute, field('minute'), 2)}:${part(c.hour, field('hour'), 2)}`;
  const month = part(c.month, field('month'), 2);
  const dayOfMonth = part(c.dayOfMonth, field('dayOfMonth'), 2);
  const dayOfWeek = part(c.dayOfWeek, field('dayOfWeek'), 1);
  if (c.eitherDay) return `${time}:(${dayOfMonth}:${month}:.|..:${month}:${dayOfWeek})`;
  return `${time}:${dayOfMonth}:${month}:${dayOfWeek}`;
}
