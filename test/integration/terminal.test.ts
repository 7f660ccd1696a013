/* eslint-disable no-control-regex -- the terminal's escape sequences are what these tests read */
/**
 * A person at a real terminal: the built CLI run under util-linux `script`, which gives it a pty. Colour
 * and the live lines (the running builds) on a terminal; none with NO_COLOR or in a pipe; Ctrl-C's
 * message starts on its own line, and the builds it stops are counted as canceled, not failed.
 */
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

let night: NightFixture;
const quote = (word: string) => `'${word.replace(/'/g, `'\\''`)}'`;
const runArgs = (...more: string[]) => ['run', '--config', night.configDir, '--machine', 'm1', '--date', night.date, ...more];
const ESC = '\x1b[';

/** The CLI on a pty: `script` records what the terminal got (stdout and stderr together) on its stdout. */
function onTerminal(args: string[], env: Record<string, string | undefined> = {}, within: string[] = []) {
  const command = [...within, 'node', CLI, ...args].map(quote).join(' ');
  return execa('script', ['-qec', command, '/dev/null'], {
    reject: false,
    env: { TERM: 'xterm', NO_COLOR: undefined, FORCE_COLOR: undefined, ...env },
    extendEnv: true,
    stdin: 'ignore',
  });
}

beforeAll(async () => {
  night = await makeNightFixture({ executor: 'host', slots: 3, slowTimeout: '1m' });
});
// eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
afterAll(() => night?.cleanup());

describe('on a terminal', () => {
  it('colours the status words and the summary, and lists the running builds below the timed lines', async () => {
    const result = await onTerminal(runArgs('--only', 'ok_*', '--only', 'bad_*'));
    expect(result.exitCode).toBe(1);
    const screen = result.stdout;
    expect(screen).toMatch(/\d\d:\d\d:\d\d\S* \S*start\S* ok_3\.11_cpu \(slot \d\)/);
    expect(screen).toContain(`${ESC}32msucceeded${ESC}0m ok_3.11_cpu`);
    expect(screen).toContain(`${ESC}1;31mfailed${ESC}0m bad_3.12_cpu`);
    // The live rows: a running build with its slot, erased with ANSI before the next timed line.
    expect(screen).toMatch(/▸\S* (ok|bad)_3\.1\d_cpu \S*slot \d · \d+s/);
    expect(screen).toContain(`${ESC}J`);
    // The summary after the night, its counts coloured.
    expect(screen).toMatch(/night \d{4}_\d\d_\d\d\S*: .*\x1b\[1;31m1 failed\x1b\[0m/);
  });

  it('has no colour with NO_COLOR, and no colour nor live rows in a pipe', async () => {
    const noColour = await onTerminal(runArgs('--only', 'ok_*', '--force'), { NO_COLOR: '1' });
    expect(noColour.exitCode).toBe(0);
    expect(noColour.stdout).toMatch(/succeeded ok_3\.11_cpu/);
    expect(noColour.stdout).not.toMatch(/\x1b\[[0-9;]*m/);

    const piped = await execa('node', [CLI, ...runArgs('--only', 'ok_*', '--force')], { reject: false, env: { TERM: 'xterm', NO_COLOR: undefined, FORCE_COLOR: undefined } });
    expect(piped.exitCode).toBe(0);
    expect(piped.stdout).toMatch(/^\d\d:\d\d:\d\d start ok_3\.1\d_cpu \(slot \d\)$/m);
    expect(piped.stdout).toMatch(/^\d\d:\d\d:\d\d succeeded ok_3\.11_cpu after \d+s$/m);
    expect(piped.stdout + piped.stderr).not.toContain('\x1b');
  });

  it("log names a build's earlier attempts for a person, and prints the log alone in a pipe", async () => {
    // The two --force runs above ran ok_3.11_cpu again, each keeping the log before it.
    const at = ['--config', night.configDir, '--date', night.date];
    const shown = await onTerminal(['log', 'ok_3.11_cpu', ...at]);
    expect(shown.exitCode).toBe(0);
    expect(shown.stdout).toContain('nightshift: earlier attempts of ok_3.11_cpu: 1, 2 (nightshift log ok_3.11_cpu --attempt N)');
    const piped = await execa('node', [CLI, 'log', 'ok_3.11_cpu', ...at], { reject: false });
    expect(piped.exitCode).toBe(0);
    expect(piped.stderr).toBe('');
    expect(piped.stdout).toMatch(/^nightshift: ok_3\.11_cpu on m1/);
  });

  it("Ctrl-C: the signal's message starts its own line, and the stopped builds are counted as canceled", async () => {
    // `timeout` sends SIGINT after 3 s, as Ctrl-C would: the slow build is still running then.
    const result = await onTerminal(runArgs('--only', 'slow_*', '--only', 'ok_3.11_cpu', '--force'), {}, ['timeout', '--preserve-status', '-s', 'INT', '3']);
    const screen = result.stdout;
    expect(result.exitCode, screen).toBe(5);
    const message = screen.indexOf('nightshift: SIGINT: stopping');
    expect(message).toBeGreaterThan(0);
    // Right before it: a newline, or the live rows erased (back to a row's start, cleared down).
    expect(screen.slice(0, message)).toMatch(/(\n|\x1b\[\d*F\x1b\[J|\r\x1b\[K)$/);
    expect(screen).toMatch(/canceled\S* slow_3\.12_cpu/);
    expect(screen).toMatch(/· 0 failed · \S*1 canceled/);
    expect(screen).toMatch(/night \d{4}_\d\d_\d\d\S*: .*1 canceled.*\(stopped by a signal\)/);
  });

  it("Ctrl-C during a hand build's live log that stopped mid-line: the message still starts its own line", async () => {
    await night.commit({ 'slow.sh': 'printf "compiling step 1 of 9"\nsleep 30\n' }, 'a build that stops talking mid-line');
    const build = ['build', 'slow', '3.12', 'cpu', '--refresh-recipes', '--config', night.configDir, '--machine', 'm1', '--date', night.date];
    const result = await onTerminal(build, {}, ['timeout', '--preserve-status', '-s', 'INT', '3']);
    const screen = result.stdout;
    expect(result.exitCode, screen).toBe(5);
    expect(screen).toContain('compiling step 1 of 9');
    expect(screen).toMatch(/compiling step 1 of 9\r?\n(\r?\n)?nightshift: SIGINT: stopping/);
  });
});
