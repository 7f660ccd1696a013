/**
 * The README's command reference against the CLI itself: every command has its section, every option of a
 * command is explained there, and the global options and `--json` are listed for exactly the commands
 * whose --help shows them.
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';

const repo = path.resolve(import.meta.dirname, '../..');
const GLOBALS = ['--config', '--schedule', '--machine', '--root', '--date'];
/** Commands whose section points to an Operations section that has the details. */
const DETAILS: Record<string, string[]> = { install: ['Running unattended'], shell: ['Debugging a failed build'] };

let readme: string;
/** Every command the CLI lists, with the long options its --help shows (--help itself left out). */
let options: Map<string, string[]>;

beforeAll(async () => {
  readme = await readFile(path.join(repo, 'README.md'), 'utf8');
  const list = (await runCli(['help'])).stdout;
  const names = [...list.split('\nCommands:\n')[1]!.matchAll(/^ {2}([a-z]+)\b/gm)].map((m) => m[1]!);
  options = new Map();
  for (const name of names) {
    const help = (await runCli([name, '--help'])).stdout;
    options.set(
      name,
      [...new Set([...help.matchAll(/^ {2}(?:-\w, )?(--[a-z-]+)/gm)].map((m) => m[1]!))].filter((o) => o !== '--help'),
    );
  }
});

/** The README's sections (split at every heading), each with its heading line. */
const sections = () => readme.split(/^(?=#{2,4} )/m).map((text) => ({ heading: text.split('\n')[0]!, text }));

describe("the README's commands", () => {
  it('lists the commands it checks', () => {
    expect([...options.keys()]).toEqual(expect.arrayContaining(['validate', 'run', 'status', 'cancel', 'shell', 'help', 'completion']));
    expect(options.get('build')).toEqual(expect.arrayContaining(['--set', '--keep', '--json', '--date']));
  });

  it('gives every command a section that explains each of its options', () => {
    const missing: string[] = [];
    for (const [name, own] of options) {
      const text = sections()
        .filter(({ heading }) => heading.includes(`\`nightshift ${name}`) || heading.includes(`and \`nightshift ${name}`) || DETAILS[name]?.some((d) => heading.endsWith(` ${d}`)))
        .map((s) => s.text)
        .join('\n');
      if (!text) missing.push(`${name}: no section`);
      for (const option of own.filter((o) => !GLOBALS.includes(o))) if (!text.includes(option)) missing.push(`${name} ${option}`);
    }
    expect(missing).toEqual([]);
  });

  it('lists each global option for exactly the commands that take it', () => {
    const table = readme.split('\n## Commands\n')[1]!.split('\n## ')[0]!;
    for (const option of GLOBALS) {
      const row = table.split('\n').find((line) => line.startsWith(`| \`${option} `));
      expect(row, option).toBeDefined();
      const listed = row!.split('|').at(-2)!.trim().split(/,\s*/);
      const taking = [...options].filter(([, own]) => own.includes(option)).map(([name]) => name);
      expect(listed, option).toEqual(taking);
    }
  });

  it('names exactly the commands that take --json', () => {
    const sentence = /\*\*`--json`, for scripts\*\*: (.*?) take\n/s.exec(readme)?.[1];
    expect(sentence).toBeDefined();
    const listed = [...sentence!.matchAll(/`([a-z]+)`/g)].map((m) => m[1]!);
    expect(listed).toEqual([...options].filter(([, own]) => own.includes('--json')).map(([name]) => name));
  });
});
