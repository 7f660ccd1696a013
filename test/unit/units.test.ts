/** What `nightshift install` renders: OnCalendar= from cron, systemd units, crontab lines. */
import cron from 'node-cron';
import { describe, expect, it } from 'vitest';
import { cronEscape, cronUnescape, systemdArg } from '../../src/daemon/command-quoting.js';
import { cronFileName, crontabLines, wholeHourZone, type CrontabOptions } from '../../src/daemon/cron-file.js';
import { systemdUnits, type SystemdUnitsOptions } from '../../src/daemon/systemd-units.js';
import { cronToOnCalendars, parseCron } from '../../src/daemon/cron-fields.js';
import { CALENDAR_CASES, REFUSED_CASES } from '../helpers/cron-cases.js';
import { runCli } from '../helpers/run-cli.js';
import { scheduleModel } from '../helpers/model.js';

const paths = {
  configDir: '/etc/nightshift/config',
  nightshiftBin: '/usr/local/lib/node_modules/nightshift/dist/cli.js',
  nodeBin: '/usr/bin/node',
};

describe('cronToOnCalendars', () => {
  it.each(CALENDAR_CASES)('$cron in $timezone → $onCalendar', ({ cron: expr, timezone, onCalendar }) => {
    expect(cronToOnCalendars(expr, timezone)).toEqual([onCalendar].flat());
  });

  it.each(REFUSED_CASES)('refuses $cron, saying why and pointing at the daemon', ({ cron: expr, reason }) => {
    expect(() => cronToOnCalendars(expr, 'UTC')).toThrow(reason);
    expect(() => cronToOnCalendars(expr, 'UTC')).toThrow(/nightshift install systemd --mode daemon/);
  });

  it('names the expression it refuses', () => {
    expect(() => cronToOnCalendars('0 0 5 0 * *', 'UTC', 'schedules/nightly.yaml cron')).toThrow('cannot install schedules/nightly.yaml cron "0 0 5 0 * *"');
  });

  it('reads the fields of every accepted expression exactly as node-cron does (the days are then combined as crontab does)', () => {
    for (const { cron: expr } of CALENDAR_CASES) {
      const { eitherDay: _either, ...ours } = parseCron(expr);
      const theirs = cron.parse(expr);
      const sorted = (values: (number | string)[]) => [...values].map(Number).sort((a, b) => a - b);
      expect({ expr, ...ours }).toEqual({
        expr,
        minute: sorted(theirs.minute),
        hour: sorted(theirs.hour),
        dayOfMonth: sorted(theirs.dayOfMonth),
        month: sorted(theirs.month),
        dayOfWeek: sorted(theirs.dayOfWeek),
      });
    }
  });
});

describe('systemdUnits', () => {
  const timer = (o: Partial<SystemdUnitsOptions> = {}) => systemdUnits({ schedule: scheduleModel(), ...paths, machine: 'linux-0', mode: 'timer', ...o }).files;
  const file = (files: { name: string; text: string }[], name: string) => files.find((f) => f.name === name)?.text ?? '';
  const lines = (text: string) => text.split('\n');

  it('timer mode: a oneshot service and a timer for the night and for the report', () => {
    const files = timer();
    expect(files.map((f) => f.name)).toEqual([
      'nightshift-nightly-night.service',
      'nightshift-nightly-night.timer',
      'nightshift-nightly-report.service',
      'nightshift-nightly-report.timer',
    ]);
    const night = lines(file(files, 'nightshift-nightly-night.service'));
    expect(night).toEqual(
      expect.arrayContaining([
        '[Unit]',
        'After=docker.service network-online.target',
        'Wants=network-online.target',
        '[Service]',
        'Type=oneshot',
        `ExecStart=/usr/bin/node ${paths.nightshiftBin} run --config /etc/nightshift/config --schedule nightly --machine linux-0`,
        'EnvironmentFile=-/etc/nightshift/env',
        'KillMode=mixed',
        'KillSignal=SIGTERM',
        'TimeoutStopSec=60',
        'TimeoutStartSec=infinity',
      ]),
    );
    expect(night.filter((l) => l.startsWith('Restart='))).toEqual([]); // exit 1 (builds failed) must not rerun the night
    const nightTimer = lines(file(files, 'nightshift-nightly-night.timer'));
    expect(nightTimer).toEqual(
      expect.arrayContaining([
        '[Timer]',
        'OnCalendar=*-*-* 00:05:00 America/Los_Angeles',
        'Persistent=true',
        'AccuracySec=1min',
        'Unit=nightshift-nightly-night.service',
        '[Install]',
        'WantedBy=timers.target',
      ]),
    );
    expect(lines(file(files, 'nightshift-nightly-report.service'))).toContain(
      `ExecStart=/usr/bin/node ${paths.nightshiftBin} report --send --config /etc/nightshift/config --schedule nightly --machine linux-0`,
    );
    expect(lines(file(files, 'nightshift-nightly-report.timer'))).toContain('OnCalendar=*-*-* 07:00:00 America/Los_Angeles');
    // Every setting line is KEY=value (no stray text in a section), and the files end with a newline.
    for (const f of files) {
      expect(f.text.endsWith('\n')).toBe(true);
      for (const l of lines(f.text)) expect(l === '' || l.startsWith('#') || /^\[[A-Z][a-z]+\]$/.test(l) || /^[A-Z][A-Za-z]+=/.test(l)).toBe(true);
    }
  });

  it('explains the stop signal choice in the unit', () => {
    const text = file(timer(), 'nightshift-nightly-night.service');
    expect(text).toMatch(/# .*SIGTERM goes to nightshift alone \(KillMode=mixed\)/);
    expect(text).toMatch(/docker rm -f/);
  });

  it('leaves the report out where another machine sends it, or when the schedule has none', () => {
    expect(timer({ machine: 'linux-1' }).map((f) => f.name)).toEqual(['nightshift-nightly-night.service', 'nightshift-nightly-night.timer']);
    expect(timer({ schedule: scheduleModel({ report: undefined }) }).map((f) => f.name)).toEqual(['nightshift-nightly-night.service', 'nightshift-nightly-night.timer']);
  });

  it('daemon mode: one long-running service, restarted on failure', () => {
    const files = systemdUnits({ schedule: scheduleModel({ cron: '0 5 0 * * *' }), ...paths, machine: 'linux-0', mode: 'daemon', user: 'builder' }).files;
    expect(files.map((f) => f.name)).toEqual(['nightshift-nightly.service']);
    expect(lines(files[0]!.text)).toEqual(
      expect.arrayContaining([
        'Type=simple',
        `ExecStart=/usr/bin/node ${paths.nightshiftBin} daemon --config /etc/nightshift/config --schedule nightly --machine linux-0`,
        'ExecReload=/bin/kill -HUP $MAINPID',
        'EnvironmentFile=-/etc/nightshift/env',
        'User=builder',
        'Restart=on-failure',
        'RestartSec=30',
        'After=docker.service network-online.target',
        'Wants=network-online.target',
        'KillMode=mixed',
        'TimeoutStopSec=60',
        'WantedBy=multi-user.target',
      ]),
    );
  });

  it('refuses in timer mode what a timer cannot express (the daemon takes it: see above)', () => {
    expect(() => timer({ schedule: scheduleModel({ cron: '0 5 0 * * *' }) })).toThrow(/schedules\/nightly.yaml cron "0 5 0 \* \* \*".*seconds field.*--mode daemon/);
    expect(() => timer({ schedule: scheduleModel({ report: { ...scheduleModel().report!, cron: '0 7 L * *' } }) })).toThrow(/report.cron/);
  });

  it('passes --root only when it was given, and quotes paths as systemd reads them', () => {
    const [night] = timer({ root: '/srv/nights', configDir: '/srv/my config/100%', nightshiftBin: '/opt/ns/$HOME/cli.js' });
    expect(night!.text).toContain('ExecStart=/usr/bin/node "/opt/ns/$$HOME/cli.js" run --config "/srv/my config/100%%" --schedule nightly --machine linux-0 --root /srv/nights');
    expect(systemdArg('a"b\\c d')).toBe('"a\\"b\\\\c d"');
  });

  it('refuses names and paths that would break the unit', () => {
    expect(() => timer({ schedule: scheduleModel({ name: 'night ly' }) })).toThrow(/cannot be part of a unit or file name/);
    expect(() => timer({ configDir: 'config' })).toThrow(/must be an absolute path/);
    expect(() => timer({ machine: 'linux-0\nExecStartPre=/bin/rm' })).toThrow(/newline/);
    expect(() => timer({ user: 'root\nUser=x' })).toThrow(/not a user name/);
  });
});

describe('crontabLines', () => {
  const tab = (o: Partial<CrontabOptions> = {}) => crontabLines({ schedule: scheduleModel(), ...paths, machine: 'linux-0', user: 'root', ...o });

  /** The job lines of a crontab, split the way cron reads them: 5 time fields, (user,) command. */
  function jobs(text: string, withUser = true) {
    return text
      .split('\n')
      .filter((l) => l.trim() !== '' && !l.startsWith('#') && !/^[A-Z_]+=/.test(l))
      .map((l) => {
        const parts = l.split(/ +/);
        const fields = parts.slice(0, 5);
        const user = withUser ? parts[5] : undefined;
        const command = l.replace(new RegExp(`^(\\S+ +){${withUser ? 6 : 5}}`), '');
        return { fields, user, command };
      });
  }

  /** True when a `%` in `command` is not escaped (cron would cut the command there). */
  function barePercent(command: string): boolean {
    for (let i = 0; i < command.length; i++) {
      if (command[i] === '\\') i++;
      else if (command[i] === '%') return true;
    }
    return false;
  }

  it('has SHELL, PATH and CRON_TZ lines and a comment on CRON_TZ', () => {
    const text = tab();
    expect(text.split('\n')).toEqual(expect.arrayContaining(['SHELL=/bin/sh', 'CRON_TZ=America/Los_Angeles']));
    expect(text).toMatch(/PATH=.*\/usr\/bin/);
    expect(text).toMatch(/# .*Debian's cron \(3\.0pl1\) ignores it/);
    expect(text.endsWith('\n')).toBe(true); // crontab(1) refuses a file without a final newline
  });

  it('parses: every job line is 5 valid cron fields, the user and a command', () => {
    const found = jobs(tab());
    expect(found).toHaveLength(2);
    for (const { fields, user, command } of found) {
      expect(fields).toHaveLength(5);
      expect(cron.validate(fields.join(' '))).toBe(true);
      expect(user).toBe('root');
      expect(command.length).toBeGreaterThan(0);
    }
    for (const { fields, command } of jobs(tab({ user: undefined }), false)) {
      expect(cron.validate(fields.join(' '))).toBe(true);
      expect(command.startsWith('TZ=')).toBe(true);
    }
  });

  it('escapes every % of every command (the 2018 bug), including those in paths', () => {
    const text = tab({ configDir: '/srv/100%/config', envFile: '/etc/nightshift/env%1' });
    for (const { command } of jobs(text)) {
      expect(barePercent(command)).toBe(false);
      const ran = cronUnescape(command);
      expect(ran.stdin).toBeUndefined();
      expect(ran.command).toContain('date +%M:%H:%d:%m:%w');
      expect(ran.command).toContain('$(TZ=America/Los_Angeles date +%Y_%m_%d)');
      expect(ran.command).toContain('--config /srv/100%/config --schedule');
    }
    const s = 'a%b\\%c\\\\d%';
    expect(cronUnescape(cronEscape(s))).toEqual({ command: s });
  });

  it('takes a flock per job, logs next to the night master log, and reads secrets from the env file at run time', () => {
    const [night, report] = jobs(tab()).map((j) => cronUnescape(j.command).command);
    expect(night).toContain('/usr/bin/flock -n -E 75 /run/lock/nightshift-nightly-night.lock /usr/bin/node');
    expect(report).toContain('/usr/bin/flock -n -E 75 /run/lock/nightshift-nightly-report.lock /usr/bin/node');
    expect(night).toContain(`${paths.nightshiftBin} run --config /etc/nightshift/config --schedule nightly --machine linux-0`);
    expect(report).toContain(`${paths.nightshiftBin} report --send --config /etc/nightshift/config --schedule nightly --machine linux-0`);
    expect(night).toContain('d=/var/lib/nightshift/$(TZ=America/Los_Angeles date +%Y_%m_%d)/logs/master; mkdir -p "$d" && exec >>"$d/cron-night.log" 2>&1');
    expect(report).toContain('exec >>"$d/cron-report.log" 2>&1');
    expect(night).toContain('[ -r /etc/nightshift/env ] && { set -a; . /etc/nightshift/env; set +a; }');
    expect(tab()).not.toMatch(/SMTP_URL=|AWS_SECRET/);
    expect(jobs(tab({ lockDir: '/var/lock/ns' }))[0]!.command).toContain('/var/lock/ns/nightshift-nightly-night.lock');
  });

  it('fires every hour at the job minutes and checks the time in the schedule zone itself', () => {
    const [night, report] = jobs(tab());
    expect(night!.fields).toEqual(['5', '*', '*', '*', '*']);
    expect(report!.fields).toEqual(['0', '*', '*', '*', '*']);
    expect(cronUnescape(night!.command).command.startsWith("TZ=America/Los_Angeles date +%M:%H:%d:%m:%w | grep -qxE '05:00:..:..:.' || exit 0; ")).toBe(true);
    // A zone off by a fraction of an hour (system or schedule): every quarter hour the minutes can fall on.
    expect(wholeHourZone('Asia/Kolkata')).toBe(false);
    expect(wholeHourZone('America/Los_Angeles')).toBe(true);
    expect(jobs(tab({ systemTimeZone: 'Asia/Kolkata' }))[0]!.fields).toEqual(['5-50/15', '*', '*', '*', '*']);
    expect(jobs(tab({ schedule: scheduleModel({ timezone: 'Asia/Kathmandu', cron: '0 0 * * *' }) }))[0]!.fields).toEqual(['*/15', '*', '*', '*', '*']);
  });

  it('leaves the report to the machine that sends it, and the user field out for a user crontab', () => {
    expect(jobs(tab({ machine: 'linux-1' }))).toHaveLength(1);
    expect(jobs(tab({ user: undefined }), false)[0]!.fields).toEqual(['5', '*', '*', '*', '*']);
    expect(tab({ user: 'builder' })).toMatch(/^5 \* \* \* \* builder TZ=/m);
  });

  it('refuses what cron cannot run, and commands longer than cron accepts', () => {
    expect(() => tab({ schedule: scheduleModel({ cron: '*/30 * * * * *' }) })).toThrow(/seconds field/);
    expect(() => tab({ configDir: `/${'x'.repeat(600)}` })).toThrow(/more than cron accepts \(999\)/);
  });

  it('names the cron.d file as Debian cron reads it (no dots)', () => {
    expect(cronFileName('nightly')).toBe('nightshift-nightly');
    expect(cronFileName('nightly.v2')).toBe('nightshift-nightly_v2');
  });
});

describe('nightshift install (usage)', () => {
  it('--help describes the command', async () => {
    const result = await runCli(['install', '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/Usage: nightshift install \[options\] <kind>/);
    expect(result.stdout).toMatch(/--mode <mode>/);
    expect(result.stdout).toMatch(/--write/);
  });

  it('exits 2 on an unknown kind or --mode for cron', async () => {
    const kind = await runCli(['install', 'cronn']);
    expect(kind.exitCode).toBe(2);
    expect(kind.stderr).toMatch(/did you mean "cron"/);
    const mode = await runCli(['install', 'cron', '--mode', 'daemon']);
    expect(mode.exitCode).toBe(2);
    expect(mode.stderr).toMatch(/--mode is for systemd/);
  });
});
