/**
 * The completion as a user gets it: `source <(nightshift completion bash)` in a real bash, and the zsh script
 * in a real interactive zsh driven through its own pty (zpty), with nightshift on PATH, completing build ids
 * from a real night's night.json, machines and commands.
 */
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { runCli } from '../helpers/run-cli.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');

let night: NightFixture;
let bin: string;

beforeAll(async () => {
  night = await makeNightFixture({ executor: 'host' });
  const run = await runCli(['run', '--only', '{ok,bad}_*', '--config', night.configDir, '--machine', 'm1', '--date', night.date]);
  expect(run.exitCode).toBe(1); // bad_3.12_cpu fails: a night with both outcomes
  bin = await mkdtemp(path.join(os.tmpdir(), 'nightshift-bin-'));
  await writeFile(path.join(bin, 'nightshift'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
  await chmod(path.join(bin, 'nightshift'), 0o755);
  // What `source <(nightshift completion bash)` reads, generated once for the file.
  for (const shell of ['bash', 'zsh']) {
    const script = await execa(path.join(bin, 'nightshift'), ['completion', shell]);
    await writeFile(path.join(bin, `completion.${shell}`), script.stdout);
  }
}, 60_000);
afterAll(async () => {
  await rm(bin, { recursive: true, force: true });
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
  await night?.cleanup();
});

describe('bash completion', () => {
  /** What bash offers for the words typed so far (the last one being completed), one a line. */
  async function complete(words: string[], env: Record<string, string> = {}): Promise<string[]> {
    const script = [
      `source '${bin}/completion.bash'`,
      `COMP_WORDS=(${words.map((w) => `'${w}'`).join(' ')})`,
      `COMP_CWORD=${words.length - 1}`,
      '_nightshift',
      'printf "%s\\n" "${COMPREPLY[@]}"',
    ].join('\n');
    const result = await execa('bash', ['--norc', '--noprofile', '-c', script], {
      env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, ...env },
      extendEnv: false,
      cwd: os.tmpdir(),
    });
    expect(result.stderr).toBe('');
    return result.stdout.split('\n').filter(Boolean).sort();
  }

  it("completes build ids from the night's night.json, with the --config and --date typed on the line", async () => {
    const line = ['nightshift', 'log', '--config', night.configDir, '--date', night.date];
    expect(await complete([...line, 'b'])).toEqual(['bad_3.12_cpu']);
    expect(await complete([...line, 'ok_3.1'])).toEqual(['ok_3.11_cpu', 'ok_3.12_cpu']);
    expect(await complete(['nightshift', 'wait', '--date', night.date, ''], { NIGHTSHIFT_CONFIG: night.configDir })).toEqual(['bad_3.12_cpu', 'ok_3.11_cpu', 'ok_3.12_cpu']);
  });

  it('offers nothing for a night that does not exist, and nothing on a broken configuration', async () => {
    expect(await complete(['nightshift', 'log', '--config', night.configDir, '--date', '2031_01_01', ''])).toEqual([]);
    expect(await complete(['nightshift', 'log', '--config', os.tmpdir(), ''])).toEqual([]);
  });

  it("completes commands, a command's options and the schedule's machines", async () => {
    expect(await complete(['nightshift', 'st'])).toEqual(['status']);
    expect(await complete(['nightshift', 'validate', '--'])).toEqual(['--config', '--help', '--json', '--schedule']);
    expect(await complete(['nightshift', 'run', '--config', night.configDir, '--machine', ''])).toEqual(['m1']);
    expect(await complete(['nightshift', 'help', 'exit'])).toEqual(['exit-codes']);
  });
});

describe('zsh completion', () => {
  /**
   * The command lines after zsh completed each typed line at the cursor (a Tab), as an interactive zsh in a
   * pseudo-terminal shows them: each line is typed, completed, then printed back by a print put in front of it.
   */
  async function completeInZsh(typed: string[], env: Record<string, string> = {}): Promise<string[]> {
    // "<$((6*7))>" is "<42>" only in what print writes, not in the echo of what was typed.
    const lines = typed.map((line) => `zpty -w -n z ${zshQuote(`${line}\t`)}\nzpty -w -n z $'\\x01print -r -- "<$((6*7))>"\\n'\nzpty -r z out '*<42>*'$'\\n'\nprint -r -- "$out"`);
    const driver = [
      'zmodload zsh/zpty',
      "zpty z 'zsh -f -i'",
      `zpty -w z ${zshQuote(`PS1='%% '; autoload -U compinit && compinit -u -D; source '${bin}/completion.zsh'`)}`,
      ...lines,
      'zpty -d z',
    ].join('\n');
    const result = await execa('zsh', ['-f', '-c', driver], {
      env: { PATH: `${bin}:${process.env.PATH ?? '/usr/bin:/bin'}`, HOME: bin, TERM: 'xterm', ...env },
      extendEnv: false,
      cwd: os.tmpdir(),
      timeout: 30_000,
    });
    return [...result.stdout.matchAll(/^<42>(.*?)\s*$/gm)].map((m) => m[1]!);
  }
  const zshQuote = (text: string) => `$'${text.replaceAll('\\', '\\\\').replaceAll("'", "\\'")}'`;

  it('completes commands, build ids from night.json and machines, in a real interactive zsh', async () => {
    const at = `--config ${night.configDir} --date ${night.date}`;
    expect(
      await completeInZsh([
        'nightshift st',
        `nightshift log ${at} b`,
        `nightshift wait ${at} ok_3.12`,
        `nightshift run --config ${night.configDir} --machine `,
        'nightshift help exit',
      ]),
    ).toEqual([
      'nightshift status',
      `nightshift log ${at} bad_3.12_cpu`,
      `nightshift wait ${at} ok_3.12_cpu`,
      `nightshift run --config ${night.configDir} --machine m1`,
      'nightshift help exit-codes',
    ]);
  });
});
