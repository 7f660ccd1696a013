/**
 * The cron.d file (or user crontab) `nightshift install cron` writes, as text. Pure: no files, no
 * clock, no processes; src/commands/install.ts resolves the paths and writes.
 *
 * The schedule's cron expressions mean what crontab(5) says: when day of month and day of week are
 * both restricted, EITHER matching is enough. Debian's cron ignores CRON_TZ, so every line checks the
 * date itself, in the schedule's zone, with that rule.
 */
import { ExitCode, NightshiftError } from '../errors.js';
import { DEFAULT_ENV_FILE } from '../report/smtp-url.js';
import { checkText, cronEscape, shellArg } from './command-quoting.js';
import { cronField, datePattern, field, parseCron } from './cron-fields.js';
import { checkPath, checkUser, jobs, type CommandPaths } from './install-jobs.js';

export const DEFAULT_LOCK_DIR = '/run/lock';
export const DEFAULT_FLOCK = '/usr/bin/flock';
/** Vixie/Debian cron refuses a command longer than this ("command too long"). */
export const MAX_CRON_COMMAND = 999;

export interface CrontabOptions extends CommandPaths {
  /** Folder of the flock lock files (default /run/lock). */
  lockDir?: string;
  /** cron.d format: the user field of every line. Undefined: a user crontab (crontab -e), without it. */
  user?: string;
  /**
   * The time zone cron itself counts in (the system's). Only whether its offsets are whole hours
   * matters; default UTC.
   */
  systemTimeZone?: string;
  /** flock(1); default /usr/bin/flock (Debian's util-linux). */
  flockBin?: string;
}

/** True when the zone's offset from UTC is a whole number of hours all year (sampled over two years). */
export function wholeHourZone(timeZone: string): boolean {
  const format = new Intl.DateTimeFormat('en-US', { timeZone, timeZoneName: 'longOffset' });
  const start = Date.UTC(2025, 0, 1);
  for (let day = 0; day < 730; day += 7) {
    const name = format.formatToParts(new Date(start + day * 86_400_000)).find((p) => p.type === 'timeZoneName')?.value ?? '';
    const minutes = /[+-]\d{2}:(\d{2})/.exec(name)?.[1];
    if (minutes !== undefined && minutes !== '00') return false;
  }
  return true;
}

/** The cron.d file name for a schedule: Debian's cron ignores names with anything but letters, digits, '_' and '-'. */
export function cronFileName(schedule: string): string {
  return `nightshift-${schedule.replace(/[^A-Za-z0-9_-]/g, '_')}`;
}

/**
 * A crontab for a schedule: the night and (on the machine that sends it) the report. Each line fires
 * at the job's minutes of every hour in whatever zone cron counts in, and checks the time in the
 * schedule's zone itself (Debian's cron ignores CRON_TZ); takes a flock so a run still going is never
 * started twice; writes its output into the night's own folder, next to nightshift's master log, so
 * it is pruned with the night.
 */
export function crontabLines(o: CrontabOptions): string {
  const envFile = o.envFile ?? DEFAULT_ENV_FILE;
  const lockDir = o.lockDir ?? DEFAULT_LOCK_DIR;
  const flock = o.flockBin ?? DEFAULT_FLOCK;
  const systemZone = o.systemTimeZone ?? 'UTC';
  checkPath('the env file', envFile);
  checkPath('the lock folder', lockDir);
  checkPath('flock', flock);
  checkPath("the schedule's root", o.schedule.root);
  checkText('the time zone', o.schedule.timezone);
  if (o.user !== undefined) checkUser(o.user);
  const tz = o.schedule.timezone;
  // Cron fires on whole minutes of its own zone. Zones a whole number of hours apart share their
  // minutes, so firing at the job's minutes every hour is enough; otherwise (India, Nepal, ...) fire
  // at every quarter hour those minutes can fall on (every zone is a multiple of 15 min off UTC).
  const quarters = !wholeHourZone(tz) || !wholeHourZone(systemZone);
  const name = o.schedule.name;

  const lines = [
    `# nightshift: schedule ${name} (${o.schedule.file})${o.machine ? ` on machine ${o.machine}` : ''}.`,
    '# Made by `nightshift install cron`: change the schedule and install again rather than editing this file.',
    '#',
    `# Times: the schedule counts in ${tz}. cronie reads CRON_TZ below; Debian's cron (3.0pl1) ignores it`,
    `# and counts in the system's zone. So each line fires at the job's minutes of every hour${quarters ? ' (and every quarter' : ''}`,
    `# ${quarters ? 'hour they can fall on) ' : ''}and first checks the time in ${tz} itself (TZ=... date | grep): when the job is`,
    '# not due, the line does nothing. A run still going when the next one is due is not started again',
    `# (flock -n on a lock file in ${lockDir}).`,
    `# Output: nightshift writes its own log of the night (<root>/<date>/logs/master/run.log); what it prints`,
    `# goes next to it, to ${o.schedule.root}/<date>/logs/master/cron-night.log (cron-report.log for the report),`,
    '# so it is pruned with the night. Every % in a command is written \\% (cron reads a bare % as a newline).',
    `# Secrets: ${envFile} (root-only, mode 600: NIGHTSHIFT_SMTP_URL, AWS_*) is read by the shell when the job`,
    '# starts: never written here nor passed on a command line. Single-quote values with $ ` \\ " or spaces.',
    'SHELL=/bin/sh',
    'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    `CRON_TZ=${tz}`,
  ];
  for (const job of jobs(o)) {
    const c = parseCron(job.cron, job.what);
    const minutes = quarters ? [...new Set(c.minute.flatMap((m) => [0, 15, 30, 45].map((q) => (m % 15) + q)))].sort((a, b) => a - b) : c.minute;
    const when = `${cronField(minutes, field('minute'))} * * * *`;
    const lock = `${lockDir}/nightshift-${name}-${job.kind}.lock`;
    const tzSh = shellArg(tz);
    const command = [
      `TZ=${tzSh} date +%M:%H:%d:%m:%w | grep -qxE '${datePattern(c)}' || exit 0`,
      `d=${shellArg(o.schedule.root)}/$(TZ=${tzSh} date +%Y_%m_%d)/logs/master`,
      `mkdir -p "$d" && exec >>"$d/cron-${job.kind}.log" 2>&1`,
      `[ -r ${shellArg(envFile)} ] && { set -a; . ${shellArg(envFile)}; set +a; }`,
      `${shellArg(flock)} -n -E 75 ${shellArg(lock)} ${job.argv.map(shellArg).join(' ')} || [ $? -ne 75 ] || echo "nightshift: the ${job.kind} of ${name} is not started again: an earlier one still runs (it holds its lock)"`,
    ].join('; ');
    const escaped = cronEscape(command);
    if (escaped.length > MAX_CRON_COMMAND) {
      throw new NightshiftError(
        `the cron command for the ${job.kind} of ${name} is ${escaped.length} characters, more than cron accepts (${MAX_CRON_COMMAND}): ` +
          'use shorter paths (e.g. a symlink to the config folder) or nightshift install systemd',
        ExitCode.usage,
      );
    }
    lines.push('', `# The ${job.kind}: "${job.cron}" in ${tz}.`, `${when}${o.user ? ` ${o.user}` : ''} ${escaped}`);
  }
  return `${lines.join('\n')}\n`;
}
