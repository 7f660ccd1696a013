import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { readFile } from 'node:fs/promises';
import { execa } from 'execa';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { ExitCode } from '../../src/errors.js';
import { EXIT_CODE_MEANINGS, HELP_TOPICS } from '../../src/commands/help-topics.js';

const repo = path.resolve(import.meta.dirname, '../..');
let broken: string;

beforeAll(async () => {
  broken = await mkdtemp(path.join(os.tmpdir(), 'nightshift-cli-'));
  await mkdir(path.join(broken, 'schedules'));
  await writeFile(path.join(broken, 'matrix.yaml'), 'recipes: { repo: r }\naxes:\n  python: ["3.12"]\npackages:\n  wheel:\n    image: i\n    command: [b]\n    timeout: soon\n');
  await writeFile(path.join(broken, 'schedules', 'nightly.yaml'), 'cron: "5 0 * * *"\nmachines:\n  a: { slotz: 2 }\n');
});
afterAll(() => rm(broken, { recursive: true, force: true }));

describe('nightshift validate', () => {
  it('accepts the repository configuration', async () => {
    const result = await runCli(['validate', '--config', repo]);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/matrix\.yaml: ok, 23 builds from 2 packages/);
    expect(result.stdout).toMatch(/nightly\.yaml: ok, every build on exactly one machine \(linux-0 \d+, linux-1 \d+, linux-2 \d+\)/);
    // Cells told apart by their wheel names only: a note, not an error.
    expect(result.stdout).toMatch(
      /nightly\.yaml: note: upload\.key "\{package\}\/\{cuda\}\/\{file\}" gives \d+ cells in \d+ group\(s\) the same key for the same file name, e\.g\. manywheel_3\.10_cpu.*fine when their files are named apart.*add \{id\} or the axes python/,
    );
  });

  it('lists every problem of every file with file:line:col, exit 2, no stack trace', async () => {
    const result = await runCli(['validate', '--config', broken]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/matrix\.yaml:8:14 packages\.wheel\.timeout: expected a duration like 90m or 4h, got "soon"/);
    expect(result.stderr).toMatch(/nightly\.yaml:3:8 machines\.a\.slotz: unknown key "slotz"; did you mean "slots"\?/);
    expect(result.stderr).toMatch(/2 problems in the configuration/);
    expect(result.stderr).not.toMatch(/\n\s+at /);
  });

  it("--json: the checked files with each machine's share, nothing else on stdout", async () => {
    const result = await runCli(['validate', '--config', repo, '--json']);
    expect(result.exitCode).toBe(0);
    const answer = JSON.parse(result.stdout) as {
      ok: boolean;
      problems: unknown[];
      matrix: { file: string; builds: number; packages: number };
      schedules: { file: string; name: string; machines: { name: string; builds: number }[]; notes: string[] }[];
    };
    expect(answer.ok).toBe(true);
    expect(answer.problems).toEqual([]);
    expect(answer.matrix).toMatchObject({ builds: 23, packages: 2 });
    expect(answer.matrix.file).toMatch(/matrix\.yaml$/);
    const nightly = answer.schedules.find((s) => s.name === 'nightly')!;
    expect(nightly.machines.map((m) => m.name)).toEqual(['linux-0', 'linux-1', 'linux-2']);
    expect(nightly.machines.reduce((sum, m) => sum + m.builds, 0)).toBe(23);
    expect(nightly.notes.join('\n')).toMatch(/upload\.key .* gives \d+ cells/);
  });

  it('--json: every problem with file, line, col and path on stdout; the usual list on stderr; exit 2', async () => {
    const result = await runCli(['validate', '--config', broken, '--json']);
    expect(result.exitCode).toBe(2);
    const answer = JSON.parse(result.stdout) as { ok: boolean; problems: { file: string; line: number; col: number; path: string; message: string }[] };
    expect(answer.ok).toBe(false);
    expect(answer.problems.map(({ file, ...rest }) => ({ file: path.basename(file), ...rest }))).toEqual([
      { file: 'matrix.yaml', line: 8, col: 14, path: 'packages.wheel.timeout', message: 'expected a duration like 90m or 4h, got "soon"' },
      { file: 'nightly.yaml', line: 3, col: 8, path: 'machines.a.slotz', message: 'unknown key "slotz"; did you mean "slots"?' },
    ]);
    // Scripts that read only the exit code and stderr see what they saw without --json.
    expect(result.stderr).toMatch(/matrix\.yaml:8:14 packages\.wheel\.timeout: expected a duration/);
    expect(result.stderr).toMatch(/2 problems in the configuration/);
  });

  it('names an unknown schedule and the ones that exist', async () => {
    const result = await runCli(['validate', '--config', repo, '--schedule', 'nighlty']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/no schedule "nighlty".*did you mean "nightly"/);
  });

  it('says where to run it when there is no matrix.yaml', async () => {
    const result = await runCli(['validate', '--config', os.tmpdir()]);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/no matrix\.yaml in .*--config DIR/);
  });
});

describe('nightshift plan', () => {
  it('--json lists every cell once with machine, image, estimate and axis values', async () => {
    const result = await runCli(['plan', '--config', repo, '--all-machines', '--json', '--date', '2026_11_22']);
    expect(result.exitCode).toBe(0);
    const plan = JSON.parse(result.stdout) as { date: string; machines: { name: string; slots: number; order: string[] }[]; builds: Record<string, unknown>[] };
    expect(plan.date).toBe('2026_11_22');
    expect(plan.builds).toHaveLength(23);
    expect(new Set(plan.builds.map((b) => b.id)).size).toBe(23);
    expect(plan.machines.map((m) => [m.name, m.slots])).toEqual([
      ['linux-0', 4],
      ['linux-1', 4],
      ['linux-2', 4],
    ]);
    expect(plan.machines.flatMap((m) => m.order).sort()).toEqual(plan.builds.map((b) => b.id).sort());
    expect(plan.builds.find((b) => b.id === 'manywheel_3.12_cu126')).toMatchObject({
      package: 'manywheel',
      python: '3.12',
      cuda: 'cu126',
      image: 'pytorch/manylinux2_28-builder:cuda12.6',
      estimate_s: 4200,
      executor: 'docker',
    });
    expect(plan.builds.find((b) => b.id === 'libtorch_cu126_cxx11-abi')).toMatchObject({ abi: 'cxx11-abi', cuda: 'cu126' });
    expect(plan.builds.find((b) => b.id === 'libtorch_cu126_cxx11-abi')).not.toHaveProperty('python');
  });

  it('shows one machine as a table, longest first', async () => {
    const result = await runCli(['plan', '--config', repo, '--machine', 'linux-0']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(/^linux-0 · 4 slots · \d+ builds · expected /m);
    expect(result.stdout).not.toMatch(/^linux-1/m);
    expect(result.stdout).toMatch(/#\s+build\s+image\s+estimate/);
  });

  it('filters with --only and exits 3 when nothing matches', async () => {
    const only = await runCli(['plan', '--config', repo, '--all-machines', '--json', '--only', 'manywheel_3.1{2,3}_cu126']);
    expect((JSON.parse(only.stdout) as { builds: { id: string }[] }).builds.map((b) => b.id).sort()).toEqual(['manywheel_3.12_cu126', 'manywheel_3.13_cu126']);
    const none = await runCli(['plan', '--config', repo, '--all-machines', '--only', 'conda_*']);
    expect(none.exitCode).toBe(3);
    expect(none.stderr).toMatch(/no build matches/);
  });

  it('refuses a machine that is not in the schedule and a bad --date', async () => {
    const machine = await runCli(['plan', '--config', repo, '--machine', 'linux-9']);
    expect(machine.exitCode).toBe(2);
    expect(machine.stderr).toMatch(/machine "linux-9" is not in schedules\/nightly\.yaml; did you mean "linux-0"\?/);
    const date = await runCli(['plan', '--config', repo, '--all-machines', '--date', '2026-02-30']);
    expect(date.exitCode).toBe(2);
    expect(date.stderr).toMatch(/--date "2026-02-30" is not a real date/);
  });
});

describe('usage', () => {
  it.each(['validate', 'plan', 'run', 'build', 'status', 'log', 'wait'])('%s --help describes the command and the global options', async (command) => {
    const result = await runCli([command, '--help']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`Usage: nightshift ${command}`));
    expect(result.stdout).toMatch(/--config <dir>/);
  });

  it.each(['run', 'build', 'status', 'log', 'wait', 'plan', 'report', 'serve', 'retry', 'cancel', 'install'])('%s --help ends with examples of the command', async (command) => {
    const result = await runCli([command, '--help']);
    expect(result.exitCode).toBe(0);
    const examples = (result.stdout.split('\nExamples:\n')[1]?.split('\n') ?? []).filter(Boolean);
    expect(examples.length).toBeGreaterThanOrEqual(2);
    for (const line of examples) expect(line).toMatch(new RegExp(`^  .*nightshift ${command}( |$)`));
  });

  it('gives each command only the global options it reads, listed in its --help', async () => {
    const help = async (command: string) => (await runCli([command, '--help'])).stdout;
    const validate = await help('validate');
    expect(validate).toMatch(/--config <dir>/);
    expect(validate).toMatch(/--schedule <name>/);
    for (const option of ['--date', '--machine', '--root']) expect(validate).not.toContain(option);
    for (const command of ['install', 'daemon', 'serve']) {
      const text = await help(command);
      expect(text).toMatch(/--machine <name>/);
      expect(text, command).not.toContain('--date');
    }
    expect(await help('run')).toMatch(/--date <date>[\s\S]*Examples:/);
    for (const command of ['status', 'log', 'wait', 'cancel', 'upload', 'shell']) {
      const text = await help(command);
      expect(text, command).toMatch(/--date <date>/);
      expect(text, command).not.toContain('--machine');
    }
  });

  it('refuses a global option where it means nothing, naming the options the command takes', async () => {
    const validate = await runCli(['validate', '--config', repo, '--date', '2026_11_22']);
    expect(validate.exitCode).toBe(2);
    expect(validate.stderr).toMatch(/unknown option '--date'/);
    expect(validate.stderr).toMatch(/nightshift validate: --date is for run, status and report .*; validate takes --json, --config, --schedule/);
    const install = await runCli(['install', 'systemd', '--config', repo, '--date', '2026_11_22']);
    expect(install.exitCode).toBe(2);
    expect(install.stderr).toMatch(/unknown option '--date'/);
    expect(install.stderr).toMatch(/nightshift install: --date is for run.*; install takes .*--machine, --root/);
    // Before the command name it is the command's option all the same.
    const before = await runCli(['--date', '2026_11_22', 'daemon', '--config', repo]);
    expect(before.exitCode).toBe(2);
    expect(before.stderr).toMatch(/unknown option '--date'/);
    // Who and where the machine is, given before the command (an alias), is passed over where it means nothing, as NIGHTSHIFT_MACHINE is.
    const alias = await runCli(['--config', repo, '--machine', 'linux-0', '--root', os.tmpdir(), 'validate']);
    expect(alias.exitCode, alias.stderr).toBe(0);
    const after = await runCli(['validate', '--config', repo, '--machine', 'linux-0']);
    expect(after.exitCode).toBe(2);
    expect(after.stderr).toMatch(/unknown option '--machine'/);
    // A night's folder names its machine: the commands that read one take no --machine, and say why.
    const status = await runCli(['status', '--config', repo, '--machine', 'linux-0']);
    expect(status.exitCode).toBe(2);
    expect(status.stderr).toMatch(/nightshift status: --machine is for .*; a night's folder names the machine that ran it/);
  });

  it('takes global options before the command name and from the environment', async () => {
    const before = await runCli(['--config', repo, '--machine=linux-0', 'plan', '--json', '--date', '2026_11_22']);
    expect(before.exitCode).toBe(0);
    expect((JSON.parse(before.stdout) as { date: string }).date).toBe('2026_11_22');
    const fromEnv = await execa('node', [path.join(repo, 'dist/cli.js'), 'plan', '--json'], {
      cwd: os.tmpdir(),
      env: { NIGHTSHIFT_CONFIG: repo, NIGHTSHIFT_MACHINE: 'linux-1' },
      reject: false,
    });
    expect(fromEnv.exitCode).toBe(0);
    expect((JSON.parse(fromEnv.stdout) as { machines: { name: string }[] }).machines.map((m) => m.name)).toEqual(['linux-1']);
  });

  it('exits 2 on an unknown command or option, with a suggestion', async () => {
    const command = await runCli(['pla']);
    expect(command.exitCode).toBe(2);
    expect(command.stderr).toMatch(/Did you mean plan\?/);
    const option = await runCli(['plan', '--al-machines']);
    expect(option.exitCode).toBe(2);
  });
});

describe('nightshift help', () => {
  it('lists the topics; each topic prints its text', async () => {
    const list = await runCli(['help']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toMatch(/Usage: nightshift/);
    for (const topic of HELP_TOPICS) {
      expect(list.stdout).toContain(topic.name);
      const result = await runCli(['help', topic.name]);
      expect(result.exitCode, topic.name).toBe(0);
      expect(result.stdout.trim()).toBe(topic.text);
    }
    expect((await runCli(['help', 'selectors'])).stdout).toMatch(/manywheel_3\.1\{2,3\}_cu12\*/);
  });

  it('help COMMAND is COMMAND --help', async () => {
    expect((await runCli(['help', 'log'])).stdout).toBe((await runCli(['log', '--help'])).stdout);
  });

  it('names the topics when one is unknown', async () => {
    const result = await runCli(['help', 'exit-code']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/no help topic "exit-code"; did you mean "exit-codes"\?\. Topics: exit-codes, selectors/);
  });

  it('the exit-codes topic has every ExitCode once, and the same meanings as the README table', async () => {
    expect(EXIT_CODE_MEANINGS.map((e) => e.code).sort((a, b) => a - b)).toEqual(Object.values(ExitCode).sort((a, b) => a - b));
    const readme = await readFile(path.join(repo, 'README.md'), 'utf8');
    const table = readme.split('\n## Exit codes\n')[1]!.split('\n## ')[0]!;
    const rows = [...table.matchAll(/^\| (\d+) \| (.*) \|$/gm)].map((m) => [Number(m[1]), m[2]!] as const);
    expect(rows.map(([code]) => code)).toEqual(EXIT_CODE_MEANINGS.map((e) => e.code));
    // Word for word, but for the README's backticks.
    expect(rows.map(([, meaning]) => meaning.replaceAll('`', ''))).toEqual(EXIT_CODE_MEANINGS.map((e) => e.meaning));
    // The topic prints each meaning whole, folded under its code.
    const text = (await runCli(['help', 'exit-codes'])).stdout;
    const printed = text.split(/\n(?= *\d+ {2})/).slice(1);
    expect(printed.map((entry) => entry.trim().split(/\s+/).join(' '))).toEqual(EXIT_CODE_MEANINGS.map((e) => `${e.code} ${e.meaning}`));
  });
});

describe('nightshift completion', () => {
  it('prints a bash script that bash accepts, completing every command and its options', async () => {
    const result = await runCli(['completion', 'bash']);
    expect(result.exitCode).toBe(0);
    const syntax = await execa('bash', ['-n'], { input: result.stdout, reject: false });
    expect(syntax.stderr).toBe('');
    expect(syntax.exitCode).toBe(0);
    expect(result.stdout).toMatch(/complete -F _nightshift nightshift/);
    for (const command of ['validate', 'plan', 'run', 'retry', 'build', 'status', 'log', 'wait', 'cancel', 'report', 'prune', 'daemon', 'serve', 'install', 'help', 'completion']) {
      expect(result.stdout).toMatch(new RegExp(`compgen -W "[^"]*\\b${command}\\b`));
    }
    expect(result.stdout).not.toMatch(/compgen -W "validate [^"]*__complete/);
    expect(result.stdout).toMatch(/ validate\) words="--json --config --schedule --help" ;;/);
    expect(result.stdout).toMatch(/ log\) words="\$\(nightshift __complete ids/);
  });

  it('prints a zsh script (bash completion through bashcompinit) and refuses another shell', async () => {
    const zsh = await runCli(['completion', 'zsh']);
    expect(zsh.exitCode).toBe(0);
    expect(zsh.stdout).toMatch(/bashcompinit/);
    // zsh itself checks it where it is installed; bash checks the function in any case.
    if ((await execa('sh', ['-c', 'command -v zsh'], { reject: false })).exitCode === 0) {
      expect((await execa('zsh', ['-n'], { input: zsh.stdout, reject: false })).exitCode).toBe(0);
    }
    expect((await execa('bash', ['-n'], { input: zsh.stdout.replace(/^autoload .*$/m, ''), reject: false })).exitCode).toBe(0);
    const fish = await runCli(['completion', 'fish']);
    expect(fish.exitCode).toBe(2);
    expect(fish.stderr).toMatch(/completion for "fish" is not available: use nightshift completion bash or nightshift completion zsh/);
  });

  it('__complete lists machines and schedules of the configuration, and prints nothing on errors', async () => {
    expect((await runCli(['__complete', 'machines', '--config', repo])).stdout.split('\n').filter(Boolean)).toEqual(['linux-0', 'linux-1', 'linux-2']);
    expect((await runCli(['__complete', 'schedules', '--config', repo])).stdout.split('\n').filter(Boolean)).toContain('nightly');
    for (const argv of [
      ['__complete', 'machines', '--config', broken],
      ['__complete', 'ids', '--config', os.tmpdir()],
    ]) {
      const result = await runCli(argv);
      expect(result).toEqual({ exitCode: 0, stdout: '', stderr: '' });
    }
    expect((await runCli(['help'])).stdout).not.toContain('__complete');
  });
});
