/**
 * `nightshift install` against the real tools: the repository's own configuration rendered by the
 * built binary, checked with Debian's `systemd-analyze verify` / `calendar` and `crontab -n`, and a
 * cron line run the way cron runs it. Missing tools FAIL these tests (scripts/ensure-test-tools.sh
 * installs them as root); they are never skipped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Schedule } from '../../src/config/model.js';
import { cronUnescape } from '../../src/daemon/command-quoting.js';
import { crontabLines } from '../../src/daemon/cron-file.js';
import { cronToOnCalendars } from '../../src/daemon/cron-fields.js';
import { nextRun } from '../../src/daemon/due.js';
import { CALENDAR_CASES } from '../helpers/cron-cases.js';

const repo = path.resolve(fileURLToPath(new URL('../..', import.meta.url)));
const cli = path.join(repo, 'dist', 'cli.js');
const work = mkdtempSync(path.join(tmpdir(), 'nightshift-install-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** Fails (never skips) with what to install when a tool is missing. */
async function requireTool(tool: string, debianPackage: string): Promise<void> {
  const found = await execa('sh', ['-c', `command -v ${tool}`], { reject: false });
  if (found.exitCode !== 0) {
    throw new Error(
      `${tool} is not installed: it comes with Debian's ${debianPackage} package. As root: bash scripts/ensure-test-tools.sh (or apt-get install -y ${debianPackage})`,
    );
  }
}

/** The built binary, on the repository's own config unless --config is given; none of the caller's NIGHTSHIFT_* variables. */
const nightshift = (...args: string[]) =>
  execa(process.execPath, [cli, ...(args.includes('--config') ? [] : ['--config', repo]), ...args], {
    cwd: work,
    reject: false,
    env: { NIGHTSHIFT_CONFIG: undefined, NIGHTSHIFT_MACHINE: undefined, NIGHTSHIFT_ROOT: undefined },
  });

/** `systemd-analyze verify` exits 0 even for unknown keys or bad values: its output must be empty too. */
async function verify(files: string[]): Promise<void> {
  const result = await execa('systemd-analyze', ['verify', ...files], { reject: false, all: true });
  expect({ exitCode: result.exitCode, output: result.all }).toEqual({ exitCode: 0, output: '' });
}

/** A copy of the repository's config with the schedule's text changed. */
function configWith(name: string, edit: (schedule: string) => string): string {
  const config = path.join(work, name);
  mkdirSync(path.join(config, 'schedules'), { recursive: true });
  writeFileSync(path.join(config, 'matrix.yaml'), readFileSync(path.join(repo, 'matrix.yaml')));
  writeFileSync(path.join(config, 'schedules', 'nightly.yaml'), edit(readFileSync(path.join(repo, 'schedules', 'nightly.yaml'), 'utf8')));
  return config;
}

describe('nightshift install systemd, checked by systemd-analyze', () => {
  beforeAll(async () => {
    await requireTool('systemd-analyze', 'systemd');
    expect(existsSync(cli), `${cli} (built by the test global setup)`).toBe(true);
  });

  it('timer mode: the units of the repository config pass systemd-analyze verify', async () => {
    const dir = path.join(work, 'timer');
    const result = await nightshift('install', 'systemd', '--mode', 'timer', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    const names = readdirSync(dir).sort();
    expect(names).toEqual(['nightshift-nightly-night.service', 'nightshift-nightly-night.timer', 'nightshift-nightly-report.service', 'nightshift-nightly-report.timer']);
    expect(result.stdout).toContain('systemctl daemon-reload && systemctl enable --now nightshift-nightly-night.timer nightshift-nightly-report.timer');
    for (const name of names) expect(statSync(path.join(dir, name)).mode & 0o777).toBe(0o644);
    // ExecStart names real files, which verify checks: this node and the built dist/cli.js.
    expect(readFileSync(path.join(dir, 'nightshift-nightly-night.service'), 'utf8')).toContain(
      `ExecStart=${process.execPath} ${cli} run --config ${repo} --schedule nightly --machine linux-0\n`,
    );
    await verify(names.map((n) => path.join(dir, n)));
  });

  it('day of month and weekday both given: one OnCalendar= each, which verify takes; the cron file too', async () => {
    const config = configWith('either-day-config', (text) => text.replace('cron: "5 0 * * *"', 'cron: "0 1 1 * 1"'));
    const dir = path.join(work, 'either-day');
    const result = await nightshift('--config', config, 'install', 'systemd', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(result.exitCode, result.stderr).toBe(0);
    const timer = readFileSync(path.join(dir, 'nightshift-nightly-night.timer'), 'utf8');
    expect(timer.split('\n').filter((l) => l.startsWith('OnCalendar='))).toEqual([
      'OnCalendar=*-*-01 01:00:00 America/Los_Angeles',
      'OnCalendar=Mon *-*-* 01:00:00 America/Los_Angeles',
    ]);
    await verify(readdirSync(dir).map((n) => path.join(dir, n)));
    await requireTool('crontab', 'cron');
    const cronDir = path.join(work, 'either-day-cron');
    expect((await nightshift('--config', config, 'install', 'cron', '--write', '--dir', cronDir, '--machine', 'linux-0')).exitCode).toBe(0);
    const cronFile = path.join(cronDir, 'nightshift-nightly');
    expect(readFileSync(cronFile, 'utf8')).toContain("grep -qxE '00:01:(01:..:.|..:..:1)'");
    const checked = await execa('crontab', ['-n', cronFile], { reject: false, all: true });
    expect(checked.exitCode, checked.all).toBe(0);
  });

  it('daemon mode: the service passes systemd-analyze verify', async () => {
    const dir = path.join(work, 'daemon');
    const result = await nightshift('install', 'systemd', '--mode', 'daemon', '--write', '--dir', dir, '--machine', 'linux-1', '--user', 'root');
    expect(result.exitCode).toBe(0);
    expect(readdirSync(dir)).toEqual(['nightshift-nightly.service']);
    expect(result.stdout).toContain('systemctl daemon-reload && systemctl enable --now nightshift-nightly.service');
    await verify([path.join(dir, 'nightshift-nightly.service')]);
  });

  it('--serve: nightshift-serve.service passes verify, runs as the nights do, and holds no token', async () => {
    const dir = path.join(work, 'serve');
    const token = 'serve-token-4f1d9c0b7e';
    const result = await execa(
      process.execPath,
      [cli, '--config', repo, 'install', 'systemd', '--serve', '--listen', '0.0.0.0:8080', '--user', 'nightshift', '--write', '--dir', dir, '--machine', 'linux-0'],
      {
        cwd: work,
        reject: false,
        env: { NIGHTSHIFT_CONFIG: undefined, NIGHTSHIFT_MACHINE: undefined, NIGHTSHIFT_ROOT: undefined, NIGHTSHIFT_SERVE_TOKEN: token },
      },
    );
    expect(result.exitCode, result.stderr).toBe(0);
    // Beyond loopback the server needs its token: install says where it goes.
    expect(result.stderr).toContain('NIGHTSHIFT_SERVE_TOKEN=<a long random value> in /etc/nightshift/env');
    const names = readdirSync(dir).sort();
    expect(names).toContain('nightshift-serve.service');
    expect(result.stdout).toContain('systemctl enable --now nightshift-nightly-night.timer nightshift-nightly-report.timer nightshift-serve.service');
    const unit = readFileSync(path.join(dir, 'nightshift-serve.service'), 'utf8');
    const night = readFileSync(path.join(dir, 'nightshift-nightly-night.service'), 'utf8');
    expect(unit).toContain(`ExecStart=${process.execPath} ${cli} serve --listen 0.0.0.0:8080 --config ${repo} --schedule nightly --machine linux-0\n`);
    const lines = (text: string, pattern: RegExp) => text.split('\n').filter((l) => pattern.test(l));
    // The same user and env file as the night's service; restarted on failure, but not for a usage error.
    expect(lines(unit, /^(User|EnvironmentFile)=/)).toEqual(['EnvironmentFile=-/etc/nightshift/env', 'User=nightshift']);
    expect(lines(unit, /^(User|EnvironmentFile)=/)).toEqual(lines(night, /^(User|EnvironmentFile)=/));
    expect(lines(unit, /^Restart/)).toEqual(['Restart=on-failure', 'RestartSec=10', 'RestartPreventExitStatus=2']);
    for (const name of names) expect(readFileSync(path.join(dir, name), 'utf8')).not.toContain(token);
    expect(result.stdout + result.stderr).not.toContain(token);
    // verify checks User= exists: check the same unit as root (nightshift is not a user here).
    const rootDir = path.join(work, 'serve-root');
    const daemon = await nightshift('install', 'systemd', '--mode', 'daemon', '--serve', '--write', '--dir', rootDir, '--machine', 'linux-1');
    expect(daemon.exitCode, daemon.stderr).toBe(0);
    expect(daemon.stderr).toBe('');
    expect(readdirSync(rootDir).sort()).toEqual(['nightshift-nightly.service', 'nightshift-serve.service']);
    expect(readFileSync(path.join(rootDir, 'nightshift-serve.service'), 'utf8')).toContain(' serve --listen 127.0.0.1:8080 --config ');
    await verify(readdirSync(rootDir).map((n) => path.join(rootDir, n)));
  });

  it('an install without --serve names the server unit an earlier one left, and how to remove it', async () => {
    const dir = path.join(work, 'serve-left');
    expect((await nightshift('install', 'systemd', '--serve', '--write', '--dir', dir, '--machine', 'linux-0')).exitCode).toBe(0);
    const without = await nightshift('install', 'systemd', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(without.exitCode).toBe(0);
    expect(without.stderr).toContain(`still holds nightshift-serve.service from an earlier install --serve of nightly`);
    expect(without.stderr).toContain(`systemctl disable --now nightshift-serve.service; rm ${dir}/nightshift-serve.service`);
  });

  it('--remove takes out what install wrote, the server unit too, once the units are disabled; never another schedule’s server', async () => {
    const dir = path.join(work, 'remove');
    expect((await nightshift('install', 'systemd', '--serve', '--write', '--dir', dir, '--machine', 'linux-0')).exitCode).toBe(0);
    const printed = await nightshift('install', 'systemd', '--remove', '--dir', dir);
    expect(printed.exitCode).toBe(0);
    expect(printed.stdout).toContain(`# would remove ${dir}/nightshift-serve.service`);
    expect(printed.stderr).toContain(
      'first run systemctl disable --now nightshift-nightly-night.timer nightshift-nightly-report.timer nightshift-serve.service, then --write removes them',
    );
    // Enabled (as systemctl enable links it): refused, nothing removed.
    mkdirSync(path.join(dir, 'multi-user.target.wants'));
    symlinkSync(path.join(dir, 'nightshift-serve.service'), path.join(dir, 'multi-user.target.wants', 'nightshift-serve.service'));
    const enabled = await nightshift('install', 'systemd', '--remove', '--write', '--dir', dir);
    expect(enabled.exitCode).toBe(2);
    expect(enabled.stderr).toMatch(/nightshift-serve.service is still enabled .*: run systemctl disable --now .*nightshift-serve.service first/);
    expect(readdirSync(dir)).toHaveLength(6);
    rmSync(path.join(dir, 'multi-user.target.wants'), { recursive: true });
    const removed = await nightshift('install', 'systemd', '--remove', '--write', '--dir', dir);
    expect(removed.exitCode, removed.stderr).toBe(0);
    expect(removed.stdout).toContain('now run: systemctl daemon-reload');
    expect(readdirSync(dir)).toEqual([]);
    // Another schedule's server is not this install's to remove.
    const other = '# Made by `nightshift install systemd --mode timer --serve` for schedule other (schedules/other.yaml).\n[Service]\n';
    writeFileSync(path.join(dir, 'nightshift-serve.service'), other);
    const none = await nightshift('install', 'systemd', '--remove', '--write', '--dir', dir);
    expect(none.stdout).toContain(`nothing of schedule nightly to remove in ${dir}`);
    expect(readFileSync(path.join(dir, 'nightshift-serve.service'), 'utf8')).toBe(other);
    const cronDir = path.join(work, 'remove-cron');
    expect((await nightshift('install', 'cron', '--write', '--dir', cronDir, '--machine', 'linux-0')).exitCode).toBe(0);
    expect((await nightshift('install', 'cron', '--remove', '--write', '--dir', cronDir)).exitCode).toBe(0);
    expect(readdirSync(cronDir)).toEqual([]);
  });

  it('--serve needs systemd, and --listen needs --serve and an address with a port', async () => {
    const dir = path.join(work, 'serve-refused');
    const cron = await nightshift('install', 'cron', '--serve', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(cron.exitCode).toBe(2);
    expect(cron.stderr).toMatch(/cron only starts commands at set times.*nightshift install systemd --serve/);
    const alone = await nightshift('install', 'systemd', '--listen', '127.0.0.1:9000', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(alone.exitCode).toBe(2);
    expect(alone.stderr).toContain('give it with --serve');
    for (const listen of ['127.0.0.1', '127.0.0.1:99999', '127.0.0.1:80\nUser=root']) {
      const bad = await nightshift('install', 'systemd', '--serve', '--listen', listen, '--write', '--dir', dir, '--machine', 'linux-0');
      expect(bad.exitCode, listen).toBe(2);
      expect(bad.stderr).toContain('is not HOST:PORT');
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('verify really complains (so an empty output means something)', async () => {
    const dir = path.join(work, 'broken');
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'x.timer'), '[Timer]\nOnCalendar=*-*-* 25:00:00\nPersistensse=true\n');
    writeFileSync(path.join(dir, 'x.service'), `[Service]\nType=oneshot\nExecStart=${process.execPath} x\n`);
    const result = await execa('systemd-analyze', ['verify', path.join(dir, 'x.timer'), path.join(dir, 'x.service')], { reject: false, all: true });
    expect(result.all).toMatch(/Persistensse/);
    expect(result.all).toMatch(/calendar/i);
  });

  it('printing shows each file under its path, and writes nothing', async () => {
    const dir = path.join(work, 'printed');
    const result = await nightshift('install', 'systemd', '--dir', dir, '--machine', 'linux-0');
    expect(result.exitCode).toBe(0);
    expect(existsSync(dir)).toBe(false);
    expect(result.stdout.split('\n').filter((l) => l.startsWith(`# ${dir}/`))).toEqual([
      `# ${dir}/nightshift-nightly-night.service`,
      `# ${dir}/nightshift-nightly-night.timer`,
      `# ${dir}/nightshift-nightly-report.service`,
      `# ${dir}/nightshift-nightly-report.timer`,
    ]);
    expect(result.stderr).toMatch(/printed only; --write installs them/);
  });

  it('warns about units of the other mode left in the folder; a second install changes nothing', async () => {
    const dir = path.join(work, 'both');
    expect((await nightshift('install', 'systemd', '--write', '--dir', dir, '--machine', 'linux-0')).exitCode).toBe(0);
    const daemon = await nightshift('install', 'systemd', '--mode', 'daemon', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(daemon.exitCode).toBe(0);
    expect(daemon.stderr).toContain('two runners would start each night');
    expect(daemon.stderr).toContain('systemctl disable --now nightshift-nightly-night.timer nightshift-nightly-report.timer');
    const again = await nightshift('install', 'systemd', '--mode', 'daemon', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(again.stdout).toContain(`unchanged ${dir}/nightshift-nightly.service`);
  });

  it('never installs a broken configuration, or for a machine the schedule does not list', async () => {
    const config = configWith('bad-config', () => 'cron: "5 0 * * *"\ntimezone: America/Los_Angeles\nmachines: { linux-0: { slots: soon } }\n');
    const dir = path.join(work, 'not-written');
    const bad = await nightshift('--config', config, 'install', 'systemd', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/schedules\/nightly.yaml:3:\d+ machines.linux-0.slots/);
    const stranger = await nightshift('install', 'cron', '--write', '--dir', dir, '--machine', 'mac-9');
    expect(stranger.exitCode).toBe(2);
    expect(stranger.stderr).toMatch(/machine "mac-9" is not in \S*schedules\/nightly.yaml; machines are linux-0, linux-1, linux-2/);
    expect(existsSync(dir)).toBe(false);
  });

  it('refuses a timer for what OnCalendar cannot express, pointing at the daemon', async () => {
    const config = configWith('seconds-config', (text) => text.replace('cron: "5 0 * * *"', 'cron: "30 5 0 * * *"'));
    const timer = await nightshift('--config', config, 'install', 'systemd', '--machine', 'linux-0');
    expect(timer.exitCode).toBe(2);
    expect(timer.stderr).toMatch(/cannot install \S*schedules\/nightly.yaml cron "30 5 0 \* \* \*": it has a seconds field.*--mode daemon/);
    const daemon = await nightshift('--config', config, 'install', 'systemd', '--mode', 'daemon', '--machine', 'linux-0');
    expect(daemon.exitCode).toBe(0);
  });

  it.each(CALENDAR_CASES)('systemd-analyze calendar takes $onCalendar and elapses when the daemon (crontab) would run $cron', async ({ cron: expr, timezone }) => {
    const specs = cronToOnCalendars(expr, timezone);
    const iterations = 12;
    // The daemon's times (due.ts, crontab's reading of the days), the next `iterations` from now.
    const expected = () => {
      const runs: string[] = [];
      for (let after = new Date(); runs.length < iterations;) {
        const next = nextRun(expr, timezone, after)!;
        runs.push(next.at.toISOString().replace('T', ' ').replace('.000Z', ''));
        after = next.at;
      }
      return runs;
    };
    const before = expected();
    // One timer with several OnCalendar= elapses at the earliest of them: merge each spec's elapses.
    const result = await execa('systemd-analyze', ['calendar', `--iterations=${iterations}`, ...specs], { reject: false, all: true, env: { TZ: 'UTC' } });
    const after = expected();
    expect(result.exitCode, result.all).toBe(0);
    const elapses = [...result.stdout.matchAll(/(?:Next elapse|Iter\. #\d+): \w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/g)].map((m) => m[1]!);
    expect(elapses).toHaveLength(iterations * specs.length);
    const merged = [...new Set(elapses)].sort().slice(0, iterations);
    expect([before, after]).toContainEqual(merged);
  });

  it('systemd-analyze calendar rejects what is not a calendar spec (so exit 0 means something)', async () => {
    const result = await execa('systemd-analyze', ['calendar', 'Fri..Mon *-*-* 00:00:00'], { reject: false });
    expect(result.exitCode).not.toBe(0);
  });
});

describe('nightshift install cron', () => {
  it('writes a cron.d file (mode 644) that crontab -n accepts', async () => {
    await requireTool('crontab', 'cron');
    const dir = path.join(work, 'cron.d');
    const result = await nightshift('install', 'cron', '--write', '--dir', dir, '--machine', 'linux-0');
    expect(result.exitCode).toBe(0);
    const file = path.join(dir, 'nightshift-nightly');
    expect(statSync(file).mode & 0o777).toBe(0o644);
    const text = readFileSync(file, 'utf8');
    expect(text).toMatch(/^5 \* \* \* \* root TZ=America\/Los_Angeles date \+\\%M:\\%H/m);
    expect(text).toMatch(/^0 \* \* \* \* root .* report --send /m);
    // Debian's crontab(1) parser (for a user crontab: the user field then reads as part of the command).
    const checked = await execa('crontab', ['-n', file], { reject: false, all: true });
    expect(checked.exitCode, checked.all).toBe(0);
    // ... and the user-crontab form, as `crontab -e` would take it, of a denser schedule.
    const schedule = {
      name: 'nightly',
      file: 'schedules/nightly.yaml',
      cron: '*/20 22-2 1-10/3 jan,JUL 7',
      timezone: 'Asia/Kolkata',
      root: '/var/lib/nightshift',
      report: { cron: '0 7 * * mon-fri', machine: 'linux-0' },
    } as Schedule;
    const userTab = path.join(work, 'user.crontab');
    writeFileSync(userTab, crontabLines({ schedule, configDir: '/srv/100%/cfg', nightshiftBin: cli, nodeBin: process.execPath, machine: 'linux-0' }));
    const user = await execa('crontab', ['-n', userTab], { reject: false, all: true });
    expect(user.exitCode, user.all).toBe(0);
  });

  it('crontab -n really checks (so exit 0 means something)', async () => {
    await requireTool('crontab', 'cron');
    const bad = path.join(work, 'bad.crontab');
    writeFileSync(bad, `5 0 * * * echo ${'x'.repeat(1000)}\n`);
    expect((await execa('crontab', ['-n', bad], { reject: false })).exitCode).not.toBe(0);
  });

  describe('a job line, run the way cron runs it', () => {
    const base = path.join(work, 'cron-run');
    const root = path.join(base, 'nights');
    const lockDir = path.join(base, 'locks');
    const configDir = path.join(base, '100% config');
    const calls = path.join(base, 'calls.txt');
    const stub = path.join(base, 'nightshift-stub.sh');
    const envFile = path.join(base, 'env');
    const timezone = 'America/Los_Angeles';
    const secret = 'smtp://nightshift:p%a$s w"rd@mail.example.com:587';
    let holder: ChildProcess | undefined;

    /** Kills the lock holder and its sleep (its own process group, which this test started). */
    const release = () => {
      if (holder?.pid !== undefined && holder.exitCode === null) {
        try {
          process.kill(-holder.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };

    beforeAll(() => {
      mkdirSync(lockDir, { recursive: true });
      mkdirSync(configDir, { recursive: true });
      // Stands in for `node dist/cli.js`: records its arguments and whether the secret reached it.
      writeFileSync(stub, `for a in "$@"; do echo "arg: $a"; done >> '${calls}'\necho "smtp: $NIGHTSHIFT_SMTP_URL" >> '${calls}'\necho "stub ran"\n`);
      writeFileSync(envFile, `# secrets\nNIGHTSHIFT_SMTP_URL='${secret}'\n`, { mode: 0o600 });
    });
    afterAll(release);

    const hourIn = (at: Date) => Number(new Intl.DateTimeFormat('en-US', { timeZone: timezone, hour: '2-digit', hourCycle: 'h23' }).format(at));
    const nightIn = (at: Date) => new Intl.DateTimeFormat('en-CA', { timeZone: timezone, year: 'numeric', month: '2-digit', day: '2-digit' }).format(at).replace(/-/g, '_');

    /** The night's cron line for `expr`, unescaped as cron does, run with /bin/sh -c and cron's sparse environment. */
    async function runLine(expr: string, env = envFile) {
      const schedule = { name: 'nightly', file: 'schedules/nightly.yaml', cron: expr, timezone, root } as Schedule;
      const text = crontabLines({ schedule, configDir, nightshiftBin: stub, nodeBin: '/bin/sh', machine: 'linux-0', envFile: env, lockDir, user: 'root' });
      const line = text.split('\n').find((l) => /^\S+ \* \* \* \* root /.test(l))!;
      const { command, stdin } = cronUnescape(line.replace(/^(\S+ +){6}/, ''));
      expect(stdin).toBeUndefined();
      return execa('/bin/sh', ['-c', command], {
        reject: false,
        all: true,
        env: { PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', SHELL: '/bin/sh', HOME: '/root' },
        extendEnv: false,
      });
    }

    /** Runs the line for "every minute of this hour" in the schedule's zone (once more if the hour turned meanwhile). */
    async function runDue(env = envFile) {
      for (let attempt = 0; ; attempt++) {
        const start = new Date();
        const result = await runLine(`* ${hourIn(start)} * * *`, env);
        if (hourIn(new Date()) === hourIn(start) || attempt > 0) return { result, date: nightIn(start) };
      }
    }

    it('when due: runs nightshift with the secret from the env file, its output in the night folder', async () => {
      await requireTool('flock', 'util-linux');
      rmSync(calls, { force: true });
      const { result, date } = await runDue();
      expect(result.exitCode, result.all).toBe(0);
      expect(result.all).toBe('');
      const args = ['run', '--config', configDir, '--schedule', 'nightly', '--machine', 'linux-0'];
      expect(readFileSync(calls, 'utf8')).toBe(`${args.map((a) => `arg: ${a}\n`).join('')}smtp: ${secret}\n`);
      expect(readFileSync(path.join(root, date, 'logs', 'master', 'cron-night.log'), 'utf8')).toContain('stub ran');
    });

    it('not due: does nothing at all', async () => {
      rmSync(calls, { force: true });
      const result = await runLine(`* ${(hourIn(new Date()) + 12) % 24} * * *`);
      expect(result.exitCode).toBe(0);
      expect(result.all).toBe('');
      expect(existsSync(calls)).toBe(false);
    });

    it('with day of month and weekday both given: due when either matches, as crontab reads it (real date and grep)', async () => {
      await requireTool('flock', 'util-linux');
      const now = new Date();
      const dom = Number(new Intl.DateTimeFormat('en-US', { timeZone: timezone, day: 'numeric' }).format(now));
      const dow = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'].indexOf(new Intl.DateTimeFormat('en-US', { timeZone: timezone, weekday: 'short' }).format(now));
      const [otherDom, otherDow] = [(dom % 28) + 1, (dow + 3) % 7];
      const ran = async (expr: string) => {
        rmSync(calls, { force: true });
        const result = await runLine(expr);
        expect(result.exitCode, result.all).toBe(0);
        return existsSync(calls);
      };
      expect(await ran(`* * ${dom} * ${otherDow}`)).toBe(true); // today's date, another weekday
      expect(await ran(`* * ${otherDom} * ${dow}`)).toBe(true); // another date, today's weekday
      expect(await ran(`* * ${otherDom} * ${otherDow}`)).toBe(false);
    });

    it('while an earlier run holds the lock: not started again, and the log says so', async () => {
      await requireTool('flock', 'util-linux');
      rmSync(calls, { force: true });
      const lock = path.join(lockDir, 'nightshift-nightly-night.lock');
      holder = spawn('flock', [lock, 'sleep', '60'], { stdio: 'ignore', detached: true });
      for (let i = 0; i < 50 && (await execa('flock', ['-n', lock, 'true'], { reject: false })).exitCode === 0; i++) {
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
      const { result, date } = await runDue();
      release();
      expect(result.exitCode).toBe(0);
      expect(existsSync(calls)).toBe(false);
      expect(readFileSync(path.join(root, date, 'logs', 'master', 'cron-night.log'), 'utf8')).toContain(
        'nightshift: the night of nightly is not started again: an earlier one still runs',
      );
    });

    it('a missing env file is skipped, not fatal', async () => {
      rmSync(calls, { force: true });
      const { result } = await runDue(path.join(base, 'no-such-env'));
      expect(result.exitCode, result.all).toBe(0);
      expect(readFileSync(calls, 'utf8')).toContain('smtp: \n');
    });
  });
});
