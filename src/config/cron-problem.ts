/**
 * Why a cron expression was refused, field by field — pure. node-cron only says yes or no; a person who
 * wrote `30 25 * * *` needs to hear that hour 25 is out of 0–23, not that the whole line is wrong.
 */

interface CronField {
  label: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MINUTE: CronField = { label: 'minute', min: 0, max: 59 };
const FIVE_FIELDS: readonly CronField[] = [
  MINUTE,
  { label: 'hour', min: 0, max: 23 },
  { label: 'day of month', min: 1, max: 31 },
  { label: 'month', min: 1, max: 12, names: ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec'] },
  // 7 is Sunday too, as in crontab(5).
  { label: 'day of week', min: 0, max: 7, names: ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat'] },
];
const SECOND: CronField = { label: 'second', min: 0, max: 59 };

export const CRON_EXAMPLE = '"5 0 * * *" (minute hour day-of-month month day-of-week)';

/**
 * The first field of the expression that is wrong, as a phrase ("hour 25 is out of range 0-23");
 * undefined when it has not five (or six, with seconds) fields, or when no field explains the refusal.
 */
export function cronProblem(expression: string): string | undefined {
  const parts = expression.trim().split(/\s+/).filter(Boolean);
  if (parts.length !== 5 && parts.length !== 6) return undefined;
  const fields = parts.length === 6 ? [SECOND, ...FIVE_FIELDS] : FIVE_FIELDS;
  for (const [index, text] of parts.entries()) {
    const problem = fieldProblem(text, fields[index]!);
    if (problem) return problem;
  }
  return undefined;
}

function fieldProblem(text: string, field: CronField): string | undefined {
  for (const item of text.split(',')) {
    const match = /^(\*|\?|[a-z0-9]+)(?:-([a-z0-9]+))?(?:\/([^/]*))?$/i.exec(item);
    if (!match) return `cannot read "${item}" in the ${field.label} field`;
    const [, from, to, step] = match;
    if (step !== undefined && !/^[1-9]\d*$/.test(step)) return `the step "/${step}" in the ${field.label} field must be a whole number of at least 1`;
    if (from === '*' || from === '?') {
      if (to !== undefined) return `cannot read "${item}" in the ${field.label} field`;
      continue;
    }
    for (const word of to === undefined ? [from!] : [from!, to]) {
      const problem = valueProblem(word, field);
      if (problem) return problem;
    }
  }
  return undefined;
}

function valueProblem(word: string, field: CronField): string | undefined {
  if (/^\d+$/.test(word)) {
    const value = Number(word);
    return value < field.min || value > field.max ? `${field.label} ${word} is out of range ${field.min}-${field.max}` : undefined;
  }
  const lower = word.toLowerCase();
  if (field.names?.some((name) => lower === name || (lower.length > 3 && fullName(name).startsWith(lower)))) return undefined;
  const names = field.names?.[0] ? ` (a number ${field.min}-${field.max} or a name like ${field.names[0]})` : ` (a number ${field.min}-${field.max})`;
  return `"${word}" is not a ${field.label}${names}`;
}

const FULL_NAMES: Record<string, string> = {
  sun: 'sunday',
  mon: 'monday',
  tue: 'tuesday',
  wed: 'wednesday',
  thu: 'thursday',
  fri: 'friday',
  sat: 'saturday',
  jan: 'january',
  feb: 'february',
  mar: 'march',
  apr: 'april',
  jun: 'june',
  jul: 'july',
  aug: 'august',
  sep: 'september',
  oct: 'october',
  nov: 'november',
  dec: 'december',
};
const fullName = (short: string) => FULL_NAMES[short] ?? short;
