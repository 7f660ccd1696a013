/**
 * What `nightshift install` writes, as text: systemd units (one long-running service for the daemon,
 * or oneshot services started by timers) and a cron.d file. Pure: no files, no clock, no processes;
 * src/commands/install.ts resolves the paths and writes.
 *
 * The schedule's cron expressions mean what crontab(5) says: when day of month and day of week are
 * both restricted, EITHER matching is enough. systemd's OnCalendar= requires both of one value, so such
 * a timer gets one OnCalendar= per day field (cron-fields.ts); the cron lines check the date themselves
 * (in the schedule's zone) with the same rule.
 */
import type { Schedule } from '../config/model.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { DEFAULT_ENV_FILE } from '../report/smtp-url.js';
import { cronField, cronToOnCalendars, datePattern, field, parseCron } from './cron-fields.js';

export type InstallMode = 'daemon' | 'timer';

export const DEFAULT_LOCK_DIR = '/run/lock';
export const DEFAULT_FLOCK = '/usr/bin/flock';
/** Vixie/Debian cron refuses a command longer than this ("command too long"). */
export const MAX_CRON_COMMAND = 999;


// ---------------------------------------------------------------------------------------------
// Shared
// ---------------------------------------------------------------------------------------------

interface CommandPaths {
  schedule: Schedule;
  /** Absolute path of the config folder (matrix.yaml and schedules/). */
  configDir: string;
  /** Absolute path of nightshift's dist/cli.js (or of a wrapper that node can run). */
  nightshiftBin: string;
  /** Absolute path of node. */
  nodeBin: string;
  /**
   * This machine's name: passed as --machine, and the report jobs are only installed on the machine
   * that sends the report. Undefined: no --machine (the host name at run time) and report jobs included.
   */
  machine?: string;
  /** Passed as --root when given (the root was overridden on the install command line). */
  root?: string;
  /** Root-only file of secrets (NIGHTSHIFT_SMTP_URL, AWS_*); default /etc/nightshift/env. */
  envFile?: string;
}

interface Job {
  /** `night` or `report`. */
  kind: 'night' | 'report';
  cron: string;
  argv: string[];
  what: string;
}

function checkPath(label: string, value: string): void {
  if (!value.startsWith('/')) throw new NightshiftError(`${label} must be an absolute path, got ${JSON.stringify(value)}`, ExitCode.usage);
  checkText(label, value);
}

function checkText(label: string, value: string): void {
  // A newline would end the unit setting or the crontab line and start another one.
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(value)) throw new NightshiftError(`${label} holds a control character or newline: ${JSON.stringify(value)}`, ExitCode.usage);
}

function checkScheduleName(name: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new NightshiftError(`the schedule name "${name}" cannot be part of a unit or file name: use letters, digits, '.', '_' and '-' (rename schedules/${name}.yaml)`, ExitCode.usage);
  }
}

function checkUser(user: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(user)) throw new NightshiftError(`--user "${user}" is not a user name`, ExitCode.usage);
}

/** True when this machine sends the report (or the machine is not known). */
function sendsReport(schedule: Schedule, machine: string | undefined): boolean {
  return schedule.report !== undefined && (machine === undefined || machine === schedule.report.machine);
}

function jobs(o: CommandPaths): Job[] {
  checkScheduleName(o.schedule.name);
  checkPath('the config folder', o.configDir);
  checkPath("nightshift's script", o.nightshiftBin);
  checkPath('node', o.nodeBin);
  if (o.root !== undefined) checkPath('--root', o.root);
  if (o.machine !== undefined) checkText('the machine name', o.machine);
  const common = ['--config', o.configDir, '--schedule', o.schedule.name, ...(o.machine ? ['--machine', o.machine] : []), ...(o.root ? ['--root', o.root] : [])];
  const base = [o.nodeBin, o.nightshiftBin];
  const out: Job[] = [{ kind: 'night', cron: o.schedule.cron, argv: [...base, 'run', ...common], what: `${o.schedule.file} cron` }];
  if (sendsReport(o.schedule, o.machine)) {
    out.push({ kind: 'report', cron: o.schedule.report!.cron, argv: [...base, 'report', '--send', ...common], what: `${o.schedule.file} report.cron` });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// systemd
// ---------------------------------------------------------------------------------------------

export interface SystemdUnitsOptions extends CommandPaths {
  mode: InstallMode;
  /** User= of the services (default: root). It needs access to Docker (the docker group). */
  user?: string;
}

export interface UnitFile {
  name: string;
  text: string;
}

/** The names `systemdUnits` can produce for a schedule, in either mode (to find leftovers of the other one). */
export function systemdUnitNames(schedule: string): { daemon: string[]; timer: string[] } {
  return {
    daemon: [`nightshift-${schedule}.service`],
    timer: ['night', 'report'].flatMap((kind) => [`nightshift-${schedule}-${kind}.service`, `nightshift-${schedule}-${kind}.timer`]),
  };
}

/** `%` starts a specifier in unit files: `%%` is a literal one. */
const unitText = (text: string) => text.replace(/%/g, '%%');

/** One word of ExecStart=, quoted as systemd reads command lines (specifiers and $VARIABLES kept literal). */
export function systemdArg(arg: string): string {
  checkText('a command argument', arg);
  const literal = arg.replace(/%/g, '%%').replace(/\$/g, '$$$$');
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(literal)) return literal;
  return `"${literal.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

const STOP_COMMENT = [
  '# Stopping (systemctl stop, shutdown): SIGTERM goes to nightshift alone (KillMode=mixed). It stops',
  '# starting builds, removes its build containers with `docker rm -f` and marks them canceled, then',
  '# exits, within 30 s. The containers are children of dockerd, not of this service, so systemd could',
  '# never stop them itself; with the default KillMode=control-group the docker clients and host builds',
  '# would get SIGTERM at the same moment and could die before nightshift records them as canceled.',
  '# Whatever is left after TimeoutStopSec is killed (SIGKILL) by systemd.',
  'KillMode=mixed',
  'KillSignal=SIGTERM',
  'TimeoutStopSec=60',
];

function header(o: SystemdUnitsOptions): string[] {
  return [
    `# Made by \`nightshift install systemd --mode ${o.mode}\` for schedule ${unitText(o.schedule.name)} (${unitText(o.schedule.file)}).`,
    '# Change the schedule and install again rather than editing this file.',
  ];
}

function serviceLines(o: SystemdUnitsOptions, argv: string[], envFile: string): string[] {
  return [
    `ExecStart=${argv.map(systemdArg).join(' ')}`,
    '# Secrets (NIGHTSHIFT_SMTP_URL; AWS_* unless a profile or instance role provides them), in a file',
    '# only root can read (chown root:root, chmod 600): systemd reads it before starting the service,',
    '# also for a service with User=. "-": a missing file is not an error.',
    `EnvironmentFile=-${unitText(envFile)}`,
    ...(o.user ? [`# ${unitText(o.user)} needs Docker (the docker group) and write access to ${unitText(o.schedule.root)}.`, `User=${o.user}`] : []),
  ];
}

/**
 * The unit files for a schedule. `daemon`: nightshift-<schedule>.service, the long-running daemon
 * (which starts the nights and the report itself). `timer`: nightshift-<schedule>-night.{service,timer}
 * and, on the machine that sends it, nightshift-<schedule>-report.{service,timer}.
 */
export function systemdUnits(o: SystemdUnitsOptions): { files: UnitFile[] } {
  const envFile = o.envFile ?? DEFAULT_ENV_FILE;
  checkPath('the env file', envFile);
  if (o.user !== undefined) checkUser(o.user);
  const all = jobs(o);
  const name = o.schedule.name;
  const ordering = ['After=docker.service network-online.target', 'Wants=network-online.target'];

  if (o.mode === 'daemon') {
    const night = all[0]!;
    const argv = [...night.argv.slice(0, 2), 'daemon', ...night.argv.slice(3)];
    const text = [
      ...header(o),
      '[Unit]',
      `Description=nightshift daemon: nights${all.length > 1 ? ' and reports' : ''} of schedule ${unitText(name)} (${unitText(o.schedule.cron)} in ${o.schedule.timezone})`,
      ...ordering,
      '',
      '[Service]',
      'Type=simple',
      ...serviceLines(o, argv, envFile),
      '# systemctl reload: the daemon reads the configuration again (SIGHUP).',
      'ExecReload=/bin/kill -HUP $MAINPID',
      'Restart=on-failure',
      'RestartSec=30',
      ...STOP_COMMENT,
      '',
      '[Install]',
      'WantedBy=multi-user.target',
      '',
    ].join('\n');
    return { files: [{ name: systemdUnitNames(name).daemon[0]!, text }] };
  }

  const files: UnitFile[] = [];
  for (const job of all) {
    const onCalendars = cronToOnCalendars(job.cron, o.schedule.timezone, job.what);
    const unit = `nightshift-${name}-${job.kind}`;
    const doing = job.kind === 'night' ? `the night of schedule ${unitText(name)}` : `the morning report of schedule ${unitText(name)}`;
    files.push({
      name: `${unit}.service`,
      text: [
        ...header(o),
        '[Unit]',
        `Description=nightshift: ${doing}`,
        ...(job.kind === 'night' ? ordering : ['After=network-online.target', 'Wants=network-online.target']),
        '',
        '[Service]',
        'Type=oneshot',
        ...serviceLines(o, job.argv, envFile),
        ...(job.kind === 'night'
          ? [
              '# A night runs for hours: no start timeout (every build has its own timeout in matrix.yaml).',
              '# Exit code 1 = some builds failed: the unit then shows as failed; the report says which.',
              'TimeoutStartSec=infinity',
            ]
          : ['TimeoutStartSec=30min']),
        ...(job.kind === 'night' ? STOP_COMMENT : []),
        '',
      ].join('\n'),
    });
    files.push({
      name: `${unit}.timer`,
      text: [
        ...header(o),
        '[Unit]',
        `Description=nightshift: start ${doing} (${unitText(job.cron)} in ${o.schedule.timezone})`,
        '',
        '[Timer]',
        ...(onCalendars.length > 1 ? ['# Day of month OR weekday, as in crontab: systemd ANDs them within one OnCalendar=, so one line each.'] : []),
        ...onCalendars.map((value) => `OnCalendar=${value}`),
        '# Missed while the machine was off: started when it is back. A run still going when the next',
        `# is due is not started twice${job.kind === 'night' ? " (and the night's lock would refuse a second run)" : ''}.`,
        'Persistent=true',
        'AccuracySec=1min',
        `Unit=${unit}.service`,
        '',
        '[Install]',
        'WantedBy=timers.target',
        '',
      ].join('\n'),
    });
  }
  return { files };
}

// ---------------------------------------------------------------------------------------------
// cron
// ---------------------------------------------------------------------------------------------

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

/** A word for /bin/sh: bare when safe, else in single quotes. */
export function shellArg(arg: string): string {
  checkText('a command argument', arg);
  if (/^[A-Za-z0-9_@%+=:,./-]+$/.test(arg)) return arg;
  return `'${arg.replace(/'/g, `'\\''`)}'`;
}

/**
 * A shell command as a crontab line must hold it: cron turns an unescaped `%` into a newline (and
 * feeds the rest to the command's stdin), and reads `\%` and `\\` as `%` and `\`.
 */
export function cronEscape(command: string): string {
  return command.replace(/[\\%]/g, (c) => `\\${c}`);
}

/** What cron does to a command before running it (the inverse of cronEscape), per Vixie cron's do_command.c. */
export function cronUnescape(command: string): { command: string; stdin?: string } {
  let out = '';
  for (let i = 0; i < command.length; i++) {
    const c = command[i]!;
    if (c === '\\' && (command[i + 1] === '%' || command[i + 1] === '\\')) {
      out += command[++i];
    } else if (c === '%') {
      return { command: out, stdin: command.slice(i + 1).replace(/%/g, '\n') };
    } else out += c;
  }
  return { command: out };
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
    "# starts: never written here nor passed on a command line. Single-quote values with $ ` \\ \" or spaces.",
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
