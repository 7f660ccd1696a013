/**
 * `nightshift daemon` for real: the built binary as a child process, a schedule firing every 4 seconds,
 * a real recipes repository and Docker builds that take 8 seconds. A night runs, the trigger during it is
 * dropped, SIGTERM stops it cleanly, a restart resumes and finishes it, and the report comes on its own
 * trigger. The daemon uses the real clock: the schedule's zone is chosen so that it is about noon there,
 * and the night's date cannot change during the test.
 */
import { existsSync } from 'node:fs';
import { readFile, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { nightDate } from '../../src/night/night-date.js';
import type { NightState } from '../../src/night/state.js';
import { containersWithLabel, dockerAvailable, removeContainersWithLabel } from '../helpers/docker.js';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

/** A fixed-offset zone where it is between 12:00 and 12:59 now. */
function noonZone(now = new Date()): string {
  const offset = 12 - now.getUTCHours(); // -11 .. +12
  if (offset === 0) return 'UTC';
  return offset > 0 ? `Etc/GMT-${offset}` : `Etc/GMT+${-offset}`; // POSIX sign: Etc/GMT-5 is UTC+5
}

/** A running daemon and its stdout, line by line. */
class DaemonProcess {
  readonly lines: string[] = [];
  readonly child: ResultPromise;
  private partial = '';

  constructor(args: string[]) {
    const env = { ...process.env };
    delete env.NIGHTSHIFT_SMTP_URL;
    this.child = execa('node', [CLI, 'daemon', ...args], { reject: false, env, extendEnv: false });
    this.child.stdout!.on('data', (chunk: Buffer) => {
      const text = this.partial + chunk.toString('utf8');
      const parts = text.split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
    });
  }

  /** The index of the first line from `from` on that matches, waiting up to `timeoutMs`. */
  async waitFor(pattern: RegExp, { from = 0, timeoutMs = 30_000 } = {}): Promise<number> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const index = this.lines.findIndex((line, i) => i >= from && pattern.test(line));
      if (index >= 0) return index;
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(
          `no line matching ${String(pattern)} in the daemon's log:\n${this.lines.join('\n')}\nstderr: ${((await Promise.race([this.child, sleep(0)])) as { stderr?: string } | undefined)?.stderr ?? ''}`,
        );
      }
      await sleep(100);
    }
  }
}

async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('nightshift daemon', () => {
  let night: NightFixture;
  let machine: string;
  let zone: string;
  let date: string;
  const daemons: DaemonProcess[] = [];
  const labels = () => [`nightshift.night=${date}`, `nightshift.machine=${machine}`];
  const containers = async () => {
    const [byNight, byMachine] = await Promise.all(labels().map((label) => containersWithLabel(label)));
    return byNight!.filter((name) => byMachine!.includes(name));
  };
  const state = async () => JSON.parse(await readFile(path.join(night.root, date, 'night.json'), 'utf8')) as NightState;
  const statuses = async () => Object.fromEntries((await state()).builds.map((b) => [b.id, b.status]));

  beforeEach(async () => {
    await dockerAvailable();
    zone = noonZone();
    machine = `daemon-${process.pid}-${Math.random().toString(36).slice(2, 8)}`;
    night = await makeNightFixture({
      executor: 'docker',
      slowTimeout: '1m',
      slowPythons: ['3.11', '3.12'],
      cron: '*/4 * * * * *',
      timezone: zone,
      // This machine builds the two slow cells; the rest go to a machine that never runs here.
      machines: `machines:\n  ${machine}: { slots: 2, builds: ["slow_*"] }\n  other: { slots: 1 }\n`,
      scheduleExtra: `report:\n  cron: "2-58/4 * * * * *"\n  machine: ${machine}\n`,
    });
    await night.commit({ 'slow.sh': 'echo "building for a while"\nsleep 8\necho "wheel" > "$NIGHTSHIFT_OUT/slow-$NIGHTSHIFT_PYTHON.whl"\n' }, 'slow builds take 8 s');
    date = nightDate(new Date(), zone);
  });

  afterEach(async () => {
    for (const daemon of daemons.splice(0)) daemon.child.kill('SIGKILL');
    await removeContainersWithLabel(`nightshift.machine=${machine}`);
    await night.cleanup();
  });

  it('runs the night, drops the trigger during it, stops on SIGTERM, resumes on restart, reports on its own trigger, reloads on SIGHUP', { timeout: 120_000 }, async () => {
    const args = ['--config', night.configDir, '--machine', machine];

    // 1. The first daemon: the night's time passed seconds ago and it never ran, so it starts at once.
    const first = new DaemonProcess(args);
    daemons.push(first);
    await first.waitFor(/daemon started: schedule nightly .* nights at "\*\/4 \* \* \* \* \*"/);
    await first.waitFor(/next night \d{4}-\d\d-\d\d \d\d:\d\d(:\d\d)? \S+ · next report .* sent by daemon-/);
    const started = await first.waitFor(new RegExp(`night ${date} started \\(2 builds\\)`));
    // 2. A trigger while it runs: logged and dropped.
    await first.waitFor(new RegExp(`night ${date} trigger skipped: night ${date} still running`), { from: started });
    await until(async () => (await containers()).length === 2, 'two running build containers');
    expect(first.lines.filter((line) => new RegExp(`night ${date} (started|resumed)`).test(line))).toHaveLength(1);

    // 3. SIGTERM: the builds are canceled, the containers removed, exit 0 well within 30 s.
    const signaled = Date.now();
    first.child.kill('SIGTERM');
    const result = await first.child;
    expect(Date.now() - signaled).toBeLessThan(30_000);
    expect(result.exitCode).toBe(0);
    expect(String(result.stderr)).toBe('');
    await first.waitFor(/SIGTERM: stopping; night .* running builds are canceled/);
    await first.waitFor(new RegExp(`night ${date} stopped after \\S+: 2 canceled`));
    expect(first.lines.at(-1)).toMatch(/ stopped$/);
    expect(await containers()).toEqual([]);
    expect(await statuses()).toEqual({ 'slow_3.11_cpu': 'canceled', 'slow_3.12_cpu': 'canceled' });
    expect(existsSync(path.join(night.root, date, 'night.lock'))).toBe(false);

    // 4. A restart (JSON log this time) resumes the unfinished night at once and finishes it.
    const second = new DaemonProcess([...args, '--log-format', 'json']);
    daemons.push(second);
    await second.waitFor(new RegExp(`night ${date} was stopped before it finished: resuming it now`));
    await second.waitFor(/"event":"night.resumed"/);
    const finished = await second.waitFor(new RegExp(`"event":"night.finished".*night ${date} finished in \\S+: 2 succeeded`));
    const finishedAt = Date.parse((JSON.parse(second.lines[finished]!) as { time: string }).time);
    expect(await statuses()).toEqual({ 'slow_3.11_cpu': 'succeeded', 'slow_3.12_cpu': 'succeeded' });
    expect((await state()).builds.map((b) => b.attempt)).toEqual([2, 2]);

    // 5. The report comes on its own trigger, after the night: written to the night folder (no recipients: not mailed).
    await second.waitFor(new RegExp(`report ${date} written, not sent: report.to and report.webhooks name no one`), { from: finished });
    const report = path.join(night.root, date, 'report.html');
    expect((await stat(report)).mtimeMs).toBeGreaterThanOrEqual(finishedAt - 1000);
    // Made after this machine published the night: only the other machine (which never runs here) is missing.
    expect(await readFile(path.join(night.root, date, 'report.txt'), 'utf8')).toMatch(/0 of 7 builds failed, 1 machine missing/);
    // ... and the next night trigger finds the night done.
    await second.waitFor(new RegExp(`night ${date} trigger skipped: it already finished on this machine`), { from: finished });
    for (const line of second.lines) expect(Object.keys(JSON.parse(line) as object).slice(0, 2)).toEqual(['time', 'event']);

    // `nightshift status` shows the night and when the next night and report come.
    // Given before the command, as in an alias, --machine is passed over by status.
    const status = await runCli([...args, 'status']);
    expect(status.exitCode).toBe(0);
    expect(status.stdout).toMatch(/slow_3\.11_cpu\s+succeeded/);
    expect(status.stdout).toMatch(new RegExp(`^next night \\d{4}-\\d\\d-\\d\\d \\S+ \\S+ · next report \\d{4}-\\d\\d-\\d\\d \\S+ \\S+, sent by ${machine}$`, 'm'));

    // SIGHUP: a broken configuration is refused with every problem logged; the fixed one is taken.
    const scheduleFile = path.join(night.configDir, 'schedules', 'nightly.yaml');
    const good = await readFile(scheduleFile, 'utf8');
    await writeFile(scheduleFile, good.replace('cron: "*/4 * * * * *"', 'cron: "every night"'));
    const before = second.lines.length;
    second.child.kill('SIGHUP');
    await second.waitFor(/"event":"config.problem".*nightly\.yaml:\d+:\d+ cron: expected a cron expression/, { from: before });
    const rejected = await second.waitFor(/"event":"config.rejected".*keeping the one loaded at/, { from: before });
    await second.waitFor(/"event":"night.skipped"/, { from: rejected + 1 });
    await writeFile(scheduleFile, good.replace('*/4 * * * * *', '*/5 * * * * *'));
    second.child.kill('SIGHUP');
    await second.waitFor(/"event":"config.reloaded".*nights at \\"\*\/5 \* \* \* \* \*\\"/, { from: rejected });

    second.child.kill('SIGTERM');
    expect((await second.child).exitCode).toBe(0);
    expect(await containers()).toEqual([]);
  });
});
