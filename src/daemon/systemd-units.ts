/**
 * The systemd units `nightshift install systemd` writes, as text: one long-running service for the
 * daemon, or oneshot services started by timers. Pure: no files, no clock, no processes;
 * src/commands/install.ts resolves the paths and writes.
 *
 * The schedule's cron expressions mean what crontab(5) says: when day of month and day of week are
 * both restricted, EITHER matching is enough. systemd's OnCalendar= requires both of one value, so such
 * a timer gets one OnCalendar= per day field (cron-fields.ts).
 */
import { DEFAULT_ENV_FILE } from '../report/smtp-url.js';
import { systemdArg } from './command-quoting.js';
import { cronToOnCalendars } from './cron-fields.js';
import { checkPath, checkUser, jobs, serveArgv, type CommandPaths, type InstallMode } from './install-jobs.js';

export interface SystemdUnitsOptions extends CommandPaths {
  mode: InstallMode;
  /** User= of the services (default: root). It needs access to Docker (the docker group). */
  user?: string;
  /** Also `nightshift serve` as a service (SERVE_UNIT), listening at `listen` (HOST:PORT). */
  serve?: { listen: string };
}

/** The one unit of `nightshift serve` on a machine, whatever the schedule. */
export const SERVE_UNIT = 'nightshift-serve.service';

/** Whether a SERVE_UNIT's text was made by an install of `schedule` (its header says so). */
export function isServeUnitOf(text: string, schedule: string): boolean {
  const first = text.split('\n', 1)[0]!;
  return first.startsWith('# Made by `nightshift install systemd') && first.includes(` for schedule ${unitText(schedule)} (`);
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
    `# Made by \`nightshift install systemd --mode ${o.mode}${o.serve ? ' --serve' : ''}\` for schedule ${unitText(o.schedule.name)} (${unitText(o.schedule.file)}).`,
    '# Change the schedule and install again rather than editing this file.',
  ];
}

const NIGHT_SECRETS = 'NIGHTSHIFT_SMTP_URL; AWS_* unless a profile or instance role provides them';

function serviceLines(o: SystemdUnitsOptions, argv: string[], envFile: string, secrets = NIGHT_SECRETS): string[] {
  return [
    `ExecStart=${argv.map(systemdArg).join(' ')}`,
    `# Secrets (${secrets}), in a file`,
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
    return { files: [{ name: systemdUnitNames(name).daemon[0]!, text }, ...serveFiles(o, envFile)] };
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
  return { files: [...files, ...serveFiles(o, envFile)] };
}

/**
 * `nightshift serve` as a long-running service, as the same user and with the same env file as the
 * nights: the token (NIGHTSHIFT_SERVE_TOKEN) comes from that file, never from the unit or argv.
 */
function serveFiles(o: SystemdUnitsOptions, envFile: string): UnitFile[] {
  if (!o.serve) return [];
  const argv = serveArgv(o, o.serve.listen);
  const text = [
    ...header(o),
    '[Unit]',
    `Description=nightshift serve: the nights of schedule ${unitText(o.schedule.name)}, live, on ${unitText(o.serve.listen)} (read-only)`,
    'After=network-online.target',
    'Wants=network-online.target',
    '',
    '[Service]',
    'Type=simple',
    ...serviceLines(o, argv, envFile, `NIGHTSHIFT_SERVE_TOKEN, which every page then asks for; ${NIGHT_SECRETS}`),
    'Restart=on-failure',
    'RestartSec=10',
    '# Exit code 2: the configuration or --listen is wrong (e.g. no token for an address beyond',
    '# 127.0.0.1): trying again would fail the same way, so it stays failed: see journalctl -u nightshift-serve.',
    'RestartPreventExitStatus=2',
    '# The server only reads (night folders, logs, history): it needs no new privileges and writes nowhere.',
    'NoNewPrivileges=yes',
    'ProtectSystem=full',
    'PrivateTmp=yes',
    '# SIGTERM: open pages and log streams end, and it exits.',
    'KillSignal=SIGTERM',
    'TimeoutStopSec=30',
    '',
    '[Install]',
    'WantedBy=multi-user.target',
    '',
  ].join('\n');
  return [{ name: SERVE_UNIT, text }];
}
