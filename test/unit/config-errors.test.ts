/**
 * Invalid (and a few valid) configurations: each problem must be reported with its file, line, column,
 * path and a message that says what is wrong and how to fix it — all problems at once.
 */
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, type LoadedConfig } from '../../src/config/load.js';
import { formatIssue, sortIssues, type ConfigIssue, type IssuePath } from '../../src/config/issues.js';
import { ExitCode, NightshiftError } from '../../src/errors.js';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';

afterAll(removeConfigDirs);

// Line numbers below are those of these two texts; each case changes a few lines.
const MATRIX = `recipes:
  repo: https://example.com/recipes.git
  ref: main
axes:
  python: ["3.11", "3.12"]
  cuda:
    - cpu
    - { value: cu126, version: "12.6", image_tag: cuda12.6 }
packages:
  manywheel:
    image: "example/manywheel:{cuda.image_tag|cpu}"
    command: ["bash", "/recipes/manywheel/build.sh"]
    timeout: 3h
    estimate: 70m
  conda:
    image: "example/conda:{python}"
    command: ["bash", "/recipes/conda/build.sh"]
    timeout: 2h
    resources: { memory: 16g, cpus: 4 }
  wheel-mac:
    executor: host
    command: ["bash", "mac/build.sh"]
    axes: { cuda: [cpu] }
env:
  DESIRED_PYTHON: "{python}"
  DESIRED_CUDA: "{cuda}"
exclude:
  - { package: conda, cuda: cu126 }
include:
  - { package: manywheel, python: "3.13t", cuda: cu126 }
`;

const SCHEDULE = `cron: "5 0 * * *"
timezone: America/Los_Angeles
root: /tmp/nightshift-test-root
keep_days: 5
min_free: 10g
machines:
  linux-0: { slots: 4 }
  linux-1: { slots: 4 }
  mac-0: { slots: 2, builds: ["wheel-mac_*"] }
upload:
  to: "s3://example-nightlies/{date}"
  key: "{package}/{cuda}/{file}"
report:
  cron: "0 7 * * *"
  machine: linux-0
  to: [builds@example.com]
  from: nightshift@example.com
`;

/** `text` with each `from` (which must occur exactly once) replaced by `to`. */
function edit(text: string, ...pairs: [from: string, to: string][]): string {
  for (const [from, to] of pairs) {
    const count = text.split(from).length - 1;
    if (count !== 1) throw new Error(`test setup: ${JSON.stringify(from)} occurs ${count} times`);
    text = text.replace(from, to);
  }
  return text;
}

interface Expected {
  file: 'matrix.yaml' | 'nightly.yaml';
  line: number;
  col: number;
  path: IssuePath;
  message: RegExp;
}

interface Case {
  name: string;
  matrix: string;
  schedule: string;
  /** In the order of the report: by file, line, column. */
  issues: Expected[];
}

const at = (file: Expected['file'], line: number, col: number, where: IssuePath, message: RegExp): Expected => ({ file, line, col, path: where, message });
const inMatrix = (line: number, col: number, where: IssuePath, message: RegExp) => at('matrix.yaml', line, col, where, message);
const inSchedule = (line: number, col: number, where: IssuePath, message: RegExp) => at('nightly.yaml', line, col, where, message);
const matrixCase = (name: string, pairs: [string, string][], ...issues: Expected[]): Case => ({ name, matrix: edit(MATRIX, ...pairs), schedule: SCHEDULE, issues });
const scheduleCase = (name: string, pairs: [string, string][], ...issues: Expected[]): Case => ({ name, matrix: MATRIX, schedule: edit(SCHEDULE, ...pairs), issues });

/** The schedule's last line: a `queue:` is added after it. */
const QUEUE_ANCHOR = '  from: nightshift@example.com\n';
const UNSAFE = /cannot be used as an axis value: use letters, digits, "\.", "\+" and "-" \(no "_"/;
const QUOTE_310 = /expected text, got the number 3\.10; put it in quotes \("3\.10"\) so YAML keeps it as written/;

const cases: Case[] = [
  // --- YAML itself ---
  matrixCase(
    'unclosed [ (reported where it opens, not where the parser noticed)',
    [['  ref: main\n', '  ref: [main\n']],
    inMatrix(3, 8, [], /\[ is never closed: add the closing \]/),
  ),
  matrixCase('unclosed quote', [['image: "example/conda:{python}"', 'image: "example/conda:{python}']], inMatrix(16, 12, [], /the quote " is never closed/)),
  matrixCase('a value holding ": " unquoted', [['    timeout: 3h\n', '    timeout: 3h: x\n']], inMatrix(13, 14, [], /a value containing ": " must be in quotes/)),
  matrixCase(
    'tab used for indentation (one problem, not its echoes)',
    [['    timeout: 3h\n', '\ttimeout: 3h\n']],
    inMatrix(13, 1, [], /tab character used for indentation; YAML needs spaces/),
  ),
  matrixCase('tab after spaces', [['    timeout: 3h\n', '    \ttimeout: 3h\n']], inMatrix(13, 5, [], /tab character used for indentation/)),
  matrixCase('duplicate key in a package', [['    estimate: 70m\n', '    estimate: 70m\n    timeout: 2h\n']], inMatrix(15, 5, [], /duplicate key "timeout" \(first on line 13\)/)),
  matrixCase('duplicate top-level key', [['env:\n', 'axes:\n  abi: [a]\nenv:\n']], inMatrix(24, 1, [], /duplicate key "axes" \(first on line 4\)/)),
  scheduleCase(
    'unquoted cron starting with * (a YAML alias)',
    [['cron: "5 0 * * *"', 'cron: * 0 * * *']],
    inSchedule(1, 7, [], /read by YAML as an alias; put the value in quotes/),
  ),
  {
    name: 'aliases nested to expand into millions of values (a resource exhaustion attack)',
    matrix: `${['a0: &a0 [x, x, x, x, x, x, x, x, x, x]', ...Array.from({ length: 20 }, (_, i) => `a${i + 1}: &a${i + 1} [${Array(10).fill(`*a${i}`).join(', ')}]`)].join('\n')}\n${MATRIX}`,
    schedule: SCHEDULE,
    issues: [inMatrix(2, 10, [], /aliases \(\*name\) here expand into more than 100 copies, which nightshift refuses/)],
  },
  { name: 'empty matrix.yaml', matrix: '', schedule: SCHEDULE, issues: [inMatrix(1, 1, [], /the file is empty: it needs at least recipes, axes, packages/)] },
  { name: 'matrix.yaml of comments only', matrix: '# todo\n', schedule: SCHEDULE, issues: [inMatrix(1, 1, [], /the file is empty/)] },
  {
    name: 'top level is a list',
    matrix: '- recipes\n- axes\n',
    schedule: SCHEDULE,
    issues: [inMatrix(1, 1, [], /expected a mapping of keys \(recipes:, axes:, packages: \.\.\.\) at the top of the file, got a list/)],
  },
  { name: 'empty schedule', matrix: MATRIX, schedule: '', issues: [inSchedule(1, 1, [], /the file is empty: it needs at least cron, machines/)] },

  matrixCase(
    'a template brace never closed',
    [['image: "example/manywheel:{cuda.image_tag|cpu}"', 'image: "example/manywheel:{cuda.image_tag"']],
    inMatrix(
      11,
      12,
      ['packages', 'manywheel', 'image'],
      /"example\/manywheel:\{cuda.image_tag": the "\{" at column 19 is never closed: end the name with "\}", like \{cuda.image_tag\}/,
    ),
  ),
  scheduleCase(
    'an upload key brace never closed',
    [['key: "{package}/{cuda}/{file}"', 'key: "{package}/{cuda/{file}"']],
    inSchedule(12, 8, ['upload', 'key'], /the "\{" at column 11 is never closed: end the name with "\}", like \{cuda\}/),
  ),
  matrixCase(
    'a recipes ref git cannot take',
    [['  ref: main\n', '  ref: "main branch"\n']],
    inMatrix(3, 8, ['recipes', 'ref'], /git cannot fetch the ref "main branch": it holds a space or control character; give a branch, tag or commit name/),
  ),
  // --- types ---
  matrixCase(
    'timeout as a number',
    [['timeout: 3h', 'timeout: 90']],
    inMatrix(13, 14, ['packages', 'manywheel', 'timeout'], /expected a duration like 90m or 4h, got 90; add a unit: 90m or 90s/),
  ),
  scheduleCase(
    'slots as a string',
    [['linux-0: { slots: 4 }', 'linux-0: { slots: "4" }']],
    inSchedule(7, 21, ['machines', 'linux-0', 'slots'], /expected a number, got the text "4"; remove the quotes/),
  ),
  scheduleCase('slots 0', [['linux-0: { slots: 4 }', 'linux-0: { slots: 0 }']], inSchedule(7, 21, ['machines', 'linux-0', 'slots'], /expected a number of at least 1, got 0/)),
  scheduleCase('slots 2.5', [['linux-0: { slots: 4 }', 'linux-0: { slots: 2.5 }']], inSchedule(7, 21, ['machines', 'linux-0', 'slots'], /expected a whole number, got 2\.5/)),
  matrixCase(
    'command as a string',
    [['command: ["bash", "/recipes/manywheel/build.sh"]', 'command: bash /recipes/manywheel/build.sh']],
    inMatrix(
      12,
      14,
      ['packages', 'manywheel', 'command'],
      /expected an argv list like \["bash", "build.sh"\], got the string "bash \/recipes\/manywheel\/build.sh"; nightshift never runs a shell string/,
    ),
  ),
  matrixCase(
    'empty command',
    [['command: ["bash", "/recipes/manywheel/build.sh"]', 'command: []']],
    inMatrix(12, 14, ['packages', 'manywheel', 'command'], /a command needs at least the program to run/),
  ),
  matrixCase(
    'empty image',
    [['image: "example/manywheel:{cuda.image_tag|cpu}"', 'image: ""']],
    inMatrix(11, 12, ['packages', 'manywheel', 'image'], /expected non-empty text, got ""/),
  ),
  matrixCase(
    'axes as a list',
    [['axes:\n  python: ["3.11", "3.12"]\n  cuda:\n    - cpu\n    - { value: cu126, version: "12.6", image_tag: cuda12.6 }\n', 'axes: [python, cuda]\n']],
    inMatrix(4, 7, ['axes'], /expected a mapping, got a list/),
  ),
  matrixCase(
    'recipes as a string',
    [['recipes:\n  repo: https://example.com/recipes.git\n  ref: main\n', 'recipes: https://example.com/recipes.git\n']],
    inMatrix(1, 10, ['recipes'], /expected a mapping, got "https:\/\/example.com\/recipes.git"/),
  ),
  matrixCase(
    'env value a list',
    [['DESIRED_CUDA: "{cuda}"', 'DESIRED_CUDA: [a]']],
    inMatrix(26, 17, ['env', 'DESIRED_CUDA'], /expected text, a number or true\/false, got a list/),
  ),
  matrixCase(
    'gpus neither a number nor "all"',
    [['memory: 16g, cpus: 4', 'memory: 16g, cpus: 4, gpus: some']],
    inMatrix(19, 46, ['packages', 'conda', 'resources', 'gpus'], /expected a number or "all", got "some"/),
  ),

  // --- unknown and missing keys ---
  matrixCase(
    'imagee',
    [['    image: "example/manywheel', '    imagee: "example/manywheel']],
    inMatrix(11, 5, ['packages', 'manywheel', 'imagee'], /unknown key "imagee"; did you mean "image"\?/),
  ),
  matrixCase('timout', [['timeout: 2h', 'timout: 2h']], inMatrix(18, 5, ['packages', 'conda', 'timout'], /unknown key "timout"; did you mean "timeout"\?/)),
  matrixCase('top-level axis (one problem: no extra "missing axes")', [['axes:\n', 'axis:\n']], inMatrix(4, 1, ['axis'], /unknown key "axis"; did you mean "axes"\?/)),
  scheduleCase('machine for machines', [['machines:\n', 'machine:\n']], inSchedule(6, 1, ['machine'], /unknown key "machine"; did you mean "machines"\?/)),
  scheduleCase(
    'slot for slots',
    [['linux-0: { slots: 4 }', 'linux-0: { slot: 4 }']],
    inSchedule(7, 14, ['machines', 'linux-0', 'slot'], /unknown key "slot"; did you mean "slots"\?/),
  ),
  matrixCase(
    'missing command (placed at the package)',
    [['    command: ["bash", "mac/build.sh"]\n', '']],
    inMatrix(20, 3, ['packages', 'wheel-mac', 'command'], /missing required key "command" \(argv list/),
  ),
  matrixCase(
    'missing recipes',
    [['recipes:\n  repo: https://example.com/recipes.git\n  ref: main\n', '']],
    inMatrix(1, 1, ['recipes'], /missing required key "recipes" \(the git repository of build scripts/),
  ),
  matrixCase(
    'value misspelt in an axis value with attributes',
    [['value: cu126,', 'valu: cu126,']],
    inMatrix(8, 7, ['axes', 'cuda', 1, 'value'], /missing required key "value"; is "valu" meant to be "value"\?/),
  ),
  matrixCase(
    'executor: dockr',
    [['executor: host', 'executor: dockr']],
    inMatrix(21, 15, ['packages', 'wheel-mac', 'executor'], /expected one of docker, host, got "dockr"; did you mean "docker"\?/),
  ),
  scheduleCase(
    'when: failure',
    [['  from: nightshift@example.com\n', '  from: nightshift@example.com\n  when: failure\n']],
    inSchedule(18, 9, ['report', 'when'], /did you mean "failures"\?/),
  ),

  // --- axes and names ---
  matrixCase('empty axis list', [['python: ["3.11", "3.12"]', 'python: []']], inMatrix(5, 11, ['axes', 'python'], /an axis needs at least one value/)),
  matrixCase('axis value cu/126', [['value: cu126,', 'value: cu/126,']], inMatrix(8, 16, ['axes', 'cuda', 1, 'value'], UNSAFE)),
  matrixCase('axis value ../x (one message, not two)', [['python: ["3.11", "3.12"]', 'python: ["3.11", "../x"]']], inMatrix(5, 20, ['axes', 'python', 1], UNSAFE)),
  matrixCase('axis value ..', [['python: ["3.11", "3.12"]', 'python: ["3.11", ".."]']], inMatrix(5, 20, ['axes', 'python', 1], UNSAFE)),
  matrixCase('axis value a..b', [['python: ["3.11", "3.12"]', 'python: ["3.11", "a..b"]']], inMatrix(5, 20, ['axes', 'python', 1], UNSAFE)),
  matrixCase('axis value with a space', [['python: ["3.11", "3.12"]', 'python: ["3.11", "a b"]']], inMatrix(5, 20, ['axes', 'python', 1], UNSAFE)),
  matrixCase('axis value $(rm)', [['    - cpu\n', '    - $(rm)\n']], inMatrix(7, 7, ['axes', 'cuda', 0], UNSAFE)),
  matrixCase('axis value with _', [['    - cpu\n', '    - a_b\n']], inMatrix(7, 7, ['axes', 'cuda', 0], UNSAFE)),
  matrixCase('package name with _', [['  wheel-mac:\n', '  wheel_mac:\n']], inMatrix(20, 3, ['packages', 'wheel_mac'], /"wheel_mac" cannot be used as a package name/)),
  scheduleCase('machine name with _', [['linux-1:', 'linux_1:']], inSchedule(8, 3, ['machines', 'linux_1'], /"linux_1" cannot be used as a machine name/)),
  matrixCase('axis name in capitals', [['  cuda:\n', '  CUDA:\n']], inMatrix(6, 3, ['axes', 'CUDA'], /axis names are lower-case letters and digits/)),
  {
    // Each kind of check reports in the same run: a first round of fixes is the last.
    name: 'five mistakes of different kinds, all in one run',
    matrix: edit(MATRIX, ['python: ["3.11", "3.12"]', 'python: [3.10, "3.12"]'], ['    timeout: 2h\n', '    timout: 2h\n'], ['{cuda.image_tag|cpu}', '{cuda.image_tag}']),
    schedule: edit(SCHEDULE, ['cron: "5 0 * * *"', 'cron: "30 25 * * *"'], ['["wheel-mac_*"]', '["wheel-mac_*", "wheelmac_*"]']),
    issues: [
      inMatrix(5, 12, ['axes', 'python', 0], QUOTE_310),
      inMatrix(11, 12, ['packages', 'manywheel', 'image'], /cuda value "cpu" has no attribute image_tag/),
      inMatrix(18, 5, ['packages', 'conda', 'timout'], /unknown key "timout"; did you mean "timeout"\?/),
      inSchedule(1, 7, ['cron'], /hour 25 is out of range 0-23/),
      inSchedule(9, 46, ['machines', 'mac-0', 'builds', 1], /"wheelmac_\*" matches no build/),
    ],
  },
  matrixCase('unquoted python 3.10', [['python: ["3.11", "3.12"]', 'python: [3.10, "3.12"]']], inMatrix(5, 12, ['axes', 'python', 0], QUOTE_310)),
  matrixCase(
    'unquoted python 3.12',
    [['python: ["3.11", "3.12"]', 'python: ["3.11", 3.12]']],
    inMatrix(5, 20, ['axes', 'python', 1], /got the number 3\.12; put it in quotes \("3\.12"\)/),
  ),
  matrixCase(
    'axis value listed twice',
    [['python: ["3.11", "3.12"]', 'python: ["3.11", "3.12", "3.11"]']],
    inMatrix(5, 28, ['axes', 'python', 2], /"3\.11" is listed twice; remove one/),
  ),
  matrixCase(
    'reserved axis name package',
    [['axes: { cuda: [cpu] }', 'axes: { cuda: [cpu], package: [a] }']],
    inMatrix(23, 26, ['packages', 'wheel-mac', 'axes', 'package'], /"package" is reserved and cannot name an axis/),
  ),
  matrixCase(
    'removing an axis that does not exist',
    [['axes: { cuda: [cpu] }', 'axes: { cuda: [cpu], abi: [] }']],
    inMatrix(23, 26, ['packages', 'wheel-mac', 'axes', 'abi'], /"abi: \[\]" leaves out an axis that is not defined under axes; axes are python, cuda/),
  ),
  matrixCase(
    'env name with -',
    [['  DESIRED_CUDA: "{cuda}"', '  DESIRED-CUDA: "{cuda}"']],
    inMatrix(26, 3, ['env', 'DESIRED-CUDA'], /environment variable names are letters, digits and "_"/),
  ),
  matrixCase(
    'env name NIGHTSHIFT_*',
    [['  DESIRED_CUDA: "{cuda}"', '  NIGHTSHIFT_CUDA: "{cuda}"']],
    inMatrix(26, 3, ['env', 'NIGHTSHIFT_CUDA'], /names starting with NIGHTSHIFT_ are set by nightshift itself/),
  ),
  matrixCase(
    'env value over two lines',
    [['  DESIRED_CUDA: "{cuda}"', '  DESIRED_CUDA: "{cuda}\\nmore"']],
    inMatrix(26, 17, ['env', 'DESIRED_CUDA'], /an environment value must be a single line/),
  ),

  // --- executors and templates ---
  matrixCase(
    'docker package without image',
    [['    image: "example/conda:{python}"\n', '']],
    inMatrix(15, 3, ['packages', 'conda'], /a docker package needs an image; add image: "\.\.\.", or set executor: host/),
  ),
  matrixCase(
    'host package with image',
    [['    executor: host\n', '    executor: host\n    image: x\n']],
    inMatrix(22, 12, ['packages', 'wheel-mac', 'image'], /a host package runs without Docker, so it has no image/),
  ),
  matrixCase(
    'template {pyton}',
    [['image: "example/conda:{python}"', 'image: "example/conda:{pyton}"']],
    inMatrix(16, 12, ['packages', 'conda', 'image'], /\{pyton\} names no axis or variable; did you mean "python"\?/),
  ),
  matrixCase(
    'attribute without fallback',
    [['{cuda.image_tag|cpu}', '{cuda.image_tag}']],
    inMatrix(
      11,
      12,
      ['packages', 'manywheel', 'image'],
      /\{cuda\.image_tag\}: cuda value "cpu" has no attribute image_tag; add it to that value or give a fallback like \{cuda\.image_tag\|default\}/,
    ),
  ),
  matrixCase(
    'template axis the package leaves out',
    [['    resources: { memory: 16g, cpus: 4 }\n', '    resources: { memory: 16g, cpus: 4 }\n    axes: { python: [] }\n']],
    inMatrix(16, 12, ['packages', 'conda', 'image'], /\{python\}: package conda has no axis python \(its axes: cuda\)/),
  ),

  // --- exclude and include ---
  matrixCase(
    'exclude: unknown axis',
    [['- { package: conda, cuda: cu126 }', '- { package: conda, cudaa: cu126 }']],
    inMatrix(28, 23, ['exclude', 0, 'cudaa'], /"cudaa" is not an axis; did you mean "cuda"\?/),
  ),
  matrixCase(
    'exclude: unknown value (a swapped pair of digits)',
    [['- { package: conda, cuda: cu126 }', '- { package: conda, cuda: cu162 }']],
    inMatrix(28, 29, ['exclude', 0, 'cuda'], /cuda has no value "cu162"; did you mean "cu126"\?/),
  ),
  matrixCase(
    'exclude: unknown package',
    [['- { package: conda, cuda: cu126 }', '- { package: condaa, cuda: cu126 }']],
    inMatrix(28, 16, ['exclude', 0, 'package'], /no package "condaa"; did you mean "conda"\?/),
  ),
  matrixCase('exclude: matches no cell', [['- { package: conda, cuda: cu126 }', '- { package: wheel-mac, cuda: cu126 }']], inMatrix(28, 5, ['exclude', 0], /matches no cell/)),
  matrixCase('exclude: unquoted 3.10', [['- { package: conda, cuda: cu126 }', '- { package: conda, python: 3.10 }']], inMatrix(28, 31, ['exclude', 0, 'python'], QUOTE_310)),
  matrixCase(
    'include: missing an axis',
    [['- { package: manywheel, python: "3.13t", cuda: cu126 }', '- { package: manywheel, python: "3.13t" }']],
    inMatrix(30, 5, ['include', 0], /missing cuda: an include entry names a value for every axis of manywheel \(python, cuda\)/),
  ),
  matrixCase(
    'include: unknown package',
    [['- { package: manywheel, python: "3.13t", cuda: cu126 }', '- { package: manywheell, python: "3.13t", cuda: cu126 }']],
    inMatrix(30, 16, ['include', 0, 'package'], /no package "manywheell"; did you mean "manywheel"\?/),
  ),
  matrixCase(
    'include: unknown axis',
    [['- { package: manywheel, python: "3.13t", cuda: cu126 }', '- { package: manywheel, python: "3.13t", cuda: cu126, abi: x }']],
    inMatrix(30, 57, ['include', 0, 'abi'], /package manywheel has no axis "abi"; its axes are python, cuda/),
  ),
  matrixCase(
    'include: no package',
    [['- { package: manywheel, python: "3.13t", cuda: cu126 }', '- { python: "3.13t", cuda: cu126 }']],
    inMatrix(30, 5, ['include', 0], /an include entry must name its package \(one of manywheel, conda, wheel-mac\)/),
  ),
  matrixCase(
    'include: unsafe new value',
    [['- { package: manywheel, python: "3.13t", cuda: cu126 }', '- { package: manywheel, python: "3.13/t", cuda: cu126 }']],
    inMatrix(30, 35, ['include', 0, 'python'], UNSAFE),
  ),
  matrixCase(
    'include: unquoted 3.10',
    [['- { package: manywheel, python: "3.13t", cuda: cu126 }', '- { package: manywheel, python: 3.10, cuda: cu126 }']],
    inMatrix(30, 35, ['include', 0, 'python'], QUOTE_310),
  ),

  // --- schedules ---
  scheduleCase(
    'no machines',
    [['machines:\n  linux-0: { slots: 4 }\n  linux-1: { slots: 4 }\n  mac-0: { slots: 2, builds: ["wheel-mac_*"] }\n', 'machines: {}\n']],
    inSchedule(6, 11, ['machines'], /list at least one machine/),
  ),
  scheduleCase(
    'machines missing',
    [['machines:\n  linux-0: { slots: 4 }\n  linux-1: { slots: 4 }\n  mac-0: { slots: 2, builds: ["wheel-mac_*"] }\n', '']],
    inSchedule(1, 1, ['machines'], /missing required key "machines" \(machine name to \{ slots, builds, memory, cpus, gpus \}\)/),
  ),
  scheduleCase('empty builds', [['["wheel-mac_*"]', '[]']], inSchedule(9, 30, ['machines', 'mac-0', 'builds'], /list at least one glob, or remove builds:/)),
  scheduleCase(
    'selector matching nothing',
    [['["wheel-mac_*"]', '["wheel-mac_*", "wheelmac_*"]']],
    inSchedule(
      9,
      46,
      ['machines', 'mac-0', 'builds', 1],
      /"wheelmac_\*" matches no build; build ids look like manywheel_[^ ]+ and wheel-mac_[^ ]+ \(\d+ in all; a selector is a glob over them, like manywheel_\*\)/,
    ),
  ),
  scheduleCase(
    'two machines claim the same cells',
    [['linux-1: { slots: 4 }', 'linux-1: { slots: 4, builds: ["wheel-*"] }']],
    inSchedule(
      9,
      30,
      ['machines', 'mac-0', 'builds'],
      /2 cell\(s\) selected by both linux-1 and mac-0 \(wheel-mac_3\.11_cpu, wheel-mac_3\.12_cpu\); a cell is built on exactly one machine/,
    ),
  ),
  scheduleCase(
    'every machine has builds and a cell is left over',
    [
      ['linux-0: { slots: 4 }', 'linux-0: { slots: 4, builds: ["manywheel_*"] }'],
      ['linux-1: { slots: 4 }', 'linux-1: { slots: 4, builds: ["conda_3.11_*"] }'],
    ],
    inSchedule(6, 1, ['machines'], /1 cell\(s\) on no machine \(conda_3\.12_cpu\); add a selector for them or a machine without builds:/),
  ),
  scheduleCase(
    'a machine memory budget smaller than a planned cell needs',
    [['linux-1: { slots: 4 }', 'linux-1: { slots: 4, memory: 8g, builds: ["conda_*"] }']],
    inSchedule(
      8,
      32,
      ['machines', 'linux-1', 'memory'],
      /2 cell\(s\) planned on linux-1 need more memory than its budget of 8g: conda_3\.11_cpu \(16g\), conda_3\.12_cpu \(16g\); raise memory, lower the package's resources\.memory, or move the cell\(s\) to a larger machine with a builds: selector/,
    ),
  ),
  scheduleCase(
    'a machine cpu budget smaller than a planned cell needs (only the machine that gets the cells)',
    [
      ['linux-0: { slots: 4 }', 'linux-0: { slots: 4, cpus: 2, builds: ["manywheel_*"] }'],
      ['linux-1: { slots: 4 }', 'linux-1: { slots: 4, cpus: 2 }'],
    ],
    inSchedule(8, 30, ['machines', 'linux-1', 'cpus'], /2 cell\(s\) planned on linux-1 need more cpus than its budget of 2: conda_3\.11_cpu \(4\), conda_3\.12_cpu \(4\)/),
  ),
  scheduleCase(
    'memory budget without unit',
    [['linux-0: { slots: 4 }', 'linux-0: { slots: 4, memory: 64 }']],
    inSchedule(7, 32, ['machines', 'linux-0', 'memory'], /expected a size like 512m or 32g, got 64/),
  ),
  scheduleCase('gpus budget "all"', [['linux-0: { slots: 4 }', 'linux-0: { slots: 4, gpus: all }']], inSchedule(7, 30, ['machines', 'linux-0', 'gpus'], /expected a number/)),
  scheduleCase(
    'report.machine not in machines',
    [['machine: linux-0', 'machine: linux-O']],
    inSchedule(15, 12, ['report', 'machine'], /no machine "linux-O" in machines; did you mean "linux-0"\?/),
  ),
  scheduleCase(
    'cron with four fields',
    [['cron: "5 0 * * *"', 'cron: "5 0 * *"']],
    inSchedule(1, 7, ['cron'], /expected a cron expression like "5 0 \* \* \*" \(minute hour day-of-month month day-of-week\), got "5 0 \* \*" \(4 fields, not 5\)/),
  ),
  scheduleCase('cron minute 61', [['cron: "5 0 * * *"', 'cron: "61 0 * * *"']], inSchedule(1, 7, ['cron'], /minute 61 is out of range 0-59 in "61 0 \* \* \*"/)),
  scheduleCase('cron hour 25', [['cron: "5 0 * * *"', 'cron: "30 25 * * *"']], inSchedule(1, 7, ['cron'], /hour 25 is out of range 0-23 in "30 25 \* \* \*"/)),
  scheduleCase('cron weekday name', [['cron: "5 0 * * *"', 'cron: "5 0 * * mo-fr"']], inSchedule(1, 7, ['cron'], /"mo" is not a day of week \(a number 0-7 or a name like sun\)/)),
  scheduleCase(
    'cron step 0',
    [['cron: "5 0 * * *"', 'cron: "*/0 0 * * *"']],
    inSchedule(1, 7, ['cron'], /the step "\/0" in the minute field must be a whole number of at least 1/),
  ),
  scheduleCase(
    'cron day that never comes',
    [['cron: "5 0 * * *"', 'cron: "5 0 30 2 *"']],
    inSchedule(1, 7, ['cron'], /expected a cron expression like "5 0 \* \* \*".*, got "5 0 30 2 \*"/),
  ),
  scheduleCase(
    'report cron',
    [['cron: "0 7 * * *"', 'cron: "at seven"']],
    inSchedule(14, 9, ['report', 'cron'], /expected a cron expression like .*, got "at seven" \(2 fields, not 5\)/),
  ),
  scheduleCase(
    'unknown time zone',
    [['timezone: America/Los_Angeles', 'timezone: America/Los_Angels']],
    inSchedule(2, 11, ['timezone'], /unknown time zone "America\/Los_Angels"; did you mean "America\/Los_Angeles"\?/),
  ),
  matrixCase('duration "soon"', [['timeout: 2h', 'timeout: soon']], inMatrix(18, 14, ['packages', 'conda', 'timeout'], /expected a duration like 90m or 4h, got "soon"/)),
  scheduleCase('size "lots"', [['min_free: 10g', 'min_free: lots']], inSchedule(5, 11, ['min_free'], /expected a size like 512m or 32g, got "lots"/)),
  matrixCase('memory without unit', [['memory: 16g', 'memory: 16']], inMatrix(19, 26, ['packages', 'conda', 'resources', 'memory'], /expected a size like 512m or 32g, got 16/)),
  scheduleCase(
    'upload.to https',
    [['to: "s3://example-nightlies/{date}"', 'to: "https://example.com/nightlies"']],
    inSchedule(11, 7, ['upload', 'to'], /expected s3:\/\/bucket\/prefix or file:\/\/\/absolute\/path, got "https:\/\/example.com\/nightlies"/),
  ),
  scheduleCase(
    'upload.to relative file://',
    [['to: "s3://example-nightlies/{date}"', 'to: "file://nightlies"']],
    inSchedule(11, 7, ['upload', 'to'], /expected s3:\/\/bucket\/prefix or file:\/\/\/absolute\/path/),
  ),
  scheduleCase(
    'upload.to with a per-build variable',
    [['to: "s3://example-nightlies/{date}"', 'to: "s3://example-nightlies/{id}"']],
    inSchedule(11, 7, ['upload', 'to'], /\{id\} cannot be used here; use date, machine/),
  ),
  scheduleCase(
    'upload.key naming an unknown variable',
    [['key: "{package}/{cuda}/{file}"', 'key: "{pakage}/{cuda}/{file}"']],
    inSchedule(12, 8, ['upload', 'key'], /\{pakage\} cannot be used here; did you mean "package"\?/),
  ),
  {
    name: 'upload.key naming an axis some packages lack',
    matrix: edit(MATRIX, ['axes: { cuda: [cpu] }', 'axes: { cuda: [cpu], abi: [x, y] }']),
    schedule: edit(SCHEDULE, ['key: "{package}/{cuda}/{file}"', 'key: "{package}/{abi}/{file}"']),
    issues: [inSchedule(12, 8, ['upload', 'key'], /\{abi\} cannot be filled in for manywheel_3\.11_cpu: package manywheel has no axis abi; give a fallback like \{abi\|none\}/)],
  },
  scheduleCase(
    'upload.key attribute without fallback',
    [['key: "{package}/{cuda}/{file}"', 'key: "{package}/{cuda.version}/{file}"']],
    inSchedule(12, 8, ['upload', 'key'], /cuda value "cpu" has no attribute version; give a fallback like \{cuda\.version\|none\}/),
  ),
  scheduleCase(
    'upload.key that names only the file',
    [['key: "{package}/{cuda}/{file}"', 'key: "{file}"']],
    inSchedule(
      12,
      8,
      ['upload', 'key'],
      /^"\{file\}" names nothing that tells the cells apart: two builds writing the same file name would replace each other's artifact; add \{id\} or the axes package, python, cuda, e\.g\. "\{id\}\/\{file\}" or "\{package\}\/\{python\}\/\{cuda\}\/\{file\}"$/,
    ),
  ),
  scheduleCase(
    'upload.key without {file}',
    [['key: "{package}/{cuda}/{file}"', 'key: "{id}/wheel.whl"']],
    inSchedule(12, 8, ['upload', 'key'], /has no \{file\}: every file of a build would go to the same key; end it with \/\{file\}/),
  ),
  scheduleCase(
    'upload.index.path with the night in it',
    [['  key: "{package}/{cuda}/{file}"\n', '  key: "{package}/{cuda}/{file}"\n  index: { path: "whl/{date}/{cuda}" }\n']],
    inSchedule(13, 18, ['upload', 'index', 'path'], /^\{date\} cannot be used here; use package, id, python, cuda$/),
  ),
  scheduleCase(
    'upload.index.path with an axis some cells lack',
    [['  key: "{package}/{cuda}/{file}"\n', '  key: "{package}/{cuda}/{file}"\n  index: { path: "whl/{cuda.version}" }\n']],
    inSchedule(13, 18, ['upload', 'index', 'path'], /\{cuda\.version\} cannot be filled in for .*_cpu; give a fallback like \{cuda\.version\|none\}/),
  ),
  scheduleCase(
    'upload.index.path climbing out of the destination, keep_days too large',
    [['  key: "{package}/{cuda}/{file}"\n', '  key: "{package}/{cuda}/{file}"\n  index: { path: "../whl", keep_days: 99999 }\n']],
    inSchedule(13, 18, ['upload', 'index', 'path'], /expected a relative path under the destination root like "whl\/nightly\/\{cuda\}", got "\.\.\/whl"/),
    inSchedule(13, 39, ['upload', 'index', 'keep_days'], /expected at most 3650 nights \(ten years\), got 99999; write 3650 or less/),
  ),
  scheduleCase(
    'report.from not an address',
    [['from: nightshift@example.com', 'from: nightshift']],
    inSchedule(17, 9, ['report', 'from'], /expected an email address, got "nightshift"/),
  ),
  scheduleCase('keep_days 0', [['keep_days: 5', 'keep_days: 0']], inSchedule(4, 12, ['keep_days'], /expected a number of at least 1, got 0/)),
  scheduleCase(
    "keep_days so large that prune's cut-off is no date",
    [['keep_days: 5', 'keep_days: 99999999999']],
    inSchedule(4, 12, ['keep_days'], /expected at most 3650 nights \(ten years\), got 99999999999; write 3650 or less/),
  ),
  scheduleCase(
    "root: / (prune would look for nights in the system's own folder)",
    [['root: /tmp/nightshift-test-root', 'root: /']],
    inSchedule(
      3,
      7,
      ['root'],
      /^\/ is a system folder; give nightshift a folder of its own, e\.g\. \/var\/lib\/nightshift \(prune removes old night folders and caches under root\)$/,
    ),
  ),
  scheduleCase(
    'root in a system folder',
    [['root: /tmp/nightshift-test-root', 'root: /usr/share/nights']],
    inSchedule(3, 7, ['root'], /\/usr\/share\/nights is inside the system folder \/usr; give nightshift a folder of its own/),
  ),
  scheduleCase('root: /home', [['root: /tmp/nightshift-test-root', 'root: /home']], inSchedule(3, 7, ['root'], /\/home is a system folder/)),

  // --- queue: the Redis URL names no credentials; the lease is long enough to renew ---
  scheduleCase(
    'queue.url with a password (never shown)',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue:\n  url: "redis://:hunter2@redis.example.com:6379/0"\n`]],
    inSchedule(
      19,
      8,
      ['queue', 'url'],
      /^(?!.*hunter2)the url holds a password: credentials only from NIGHTSHIFT_REDIS_URL, which overrides this url; write "redis:\/\/redis\.example\.com:6379\/0" here/,
    ),
  ),
  scheduleCase(
    'queue.url with a user and password (never shown)',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "rediss://builder:hunter2@redis.example.com/1", lease: 2m }\n`]],
    inSchedule(18, 15, ['queue', 'url'], /^(?!.*hunter2)the url holds a password: credentials only from NIGHTSHIFT_REDIS_URL.*write "rediss:\/\/redis\.example\.com\/1" here/),
  ),
  scheduleCase(
    'queue.url with a password that is no valid URL (never shown)',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "redis://:hun/ter2@redis.example.com" }\n`]],
    inSchedule(18, 15, ['queue', 'url'], /^(?!.*hun\/ter2)(?!.*ter2)the url holds a password: credentials only from NIGHTSHIFT_REDIS_URL/),
  ),
  scheduleCase(
    'queue.url of another scheme',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "http://redis.example.com:6379" }\n`]],
    inSchedule(
      18,
      15,
      ['queue', 'url'],
      /expected a redis:\/\/ or rediss:\/\/ URL like "redis:\/\/redis\.example\.com:6379\/0" \(rediss:\/\/ for TLS\), got "http:\/\/redis\.example\.com:6379"/,
    ),
  ),
  scheduleCase(
    'queue.url without a host',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "redis:///0" }\n`]],
    inSchedule(18, 15, ['queue', 'url'], /expected a redis:\/\/ or rediss:\/\/ URL .*: it needs a host, got "redis:\/\/\/0"/),
  ),
  scheduleCase(
    'queue.url with a path that is no database number',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "redis://redis.example.com/queues" }\n`]],
    inSchedule(18, 15, ['queue', 'url'], /after the host comes only a database number like \/0, got "redis:\/\/redis\.example\.com\/queues"/),
  ),
  scheduleCase(
    'queue.url with options',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "redis://redis.example.com?db=1" }\n`]],
    inSchedule(18, 15, ['queue', 'url'], /options after "\?" or "#" are not read/),
  ),
  scheduleCase(
    'queue.url with a port out of range',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "redis://redis.example.com:99999" }\n`]],
    inSchedule(18, 15, ['queue', 'url'], /expected a redis:\/\/ or rediss:\/\/ URL like .*, got "redis:\/\/redis\.example\.com:99999"/),
  ),
  scheduleCase('queue without url', [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { lease: 2m }\n`]], inSchedule(18, 1, ['queue', 'url'], /missing required key "url"/)),
  scheduleCase(
    'queue.lease shorter than 10s',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "redis://redis.example.com", lease: 5s }\n`]],
    inSchedule(18, 51, ['queue', 'lease'], /^expected a lease of at least 10s, got "5s"/),
  ),
  scheduleCase(
    'queue.lease not a duration (one problem)',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "redis://redis.example.com", lease: soon }\n`]],
    inSchedule(18, 51, ['queue', 'lease'], /^expected a duration like 90m or 4h, got "soon"$/),
  ),
  scheduleCase(
    'queue.leese',
    [[QUEUE_ANCHOR, `${QUEUE_ANCHOR}queue: { url: "redis://redis.example.com", leese: 2m }\n`]],
    inSchedule(18, 44, ['queue', 'leese'], /unknown key "leese"; did you mean "lease"\?/),
  ),
];

async function configError(dir: string, schedule?: string): Promise<ConfigError> {
  const error = await loadConfig({ dir, schedule }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return error as ConfigError;
}

/** The issue as the test compares it: file name only, since temp folders lie outside the working directory. */
const comparable = (issue: ConfigIssue) => ({ ...issue, file: path.basename(issue.file) });

describe('invalid configurations', () => {
  it('has enough cases', () => expect(cases.length).toBeGreaterThanOrEqual(30));

  it.each(cases.map((c) => [c.name, c] as const))('%s', async (_name, { matrix, schedule, issues: expected }) => {
    const dir = writeConfigDir({ matrix, schedules: { nightly: schedule } });
    const error = await configError(dir);
    const issues = sortIssues(error.issues);
    expect(issues.map(formatIssue), `number of problems: ${issues.map(formatIssue).join(' | ')}`).toHaveLength(expected.length);
    issues.forEach((issue, i) => {
      const { message, ...where } = expected[i]!;
      expect(comparable(issue)).toMatchObject(where);
      expect(issue.message).toMatch(message);
      expect(error.exitCode).toBe(ExitCode.usage);
      // The message lists it as `file:line:col path: message`, the file as given to the user.
      expect(error.message).toContain(formatIssue(issue));
      expect(issue.file.endsWith(path.join(expected[i]!.file === 'matrix.yaml' ? '' : 'schedules', expected[i]!.file))).toBe(true);
    });
  });

  it('reports every schema problem of matrix.yaml and the schedule at once', async () => {
    const matrix = edit(
      MATRIX,
      ['timeout: 2h', 'timeout: soon'],
      ['    - cpu\n', '    - a_b\n'],
      ['    image: "example/manywheel', '    imagee: "example/manywheel'],
      ['python: ["3.11", "3.12"]', 'python: [3.10, "3.12"]'],
    );
    const schedule = edit(
      SCHEDULE,
      ['timezone: America/Los_Angeles', 'timezone: America/Los_Angels'],
      ['cron: "5 0 * * *"', 'cron: "5 0 * *"'],
      ['from: nightshift@example.com', 'from: nightshift'],
      ['linux-0: { slots: 4 }', 'linux-0: { slot: 4 }'],
    );
    const error = await configError(writeConfigDir({ matrix, schedules: { nightly: schedule } }));
    expect(sortIssues(error.issues).map((i) => `${path.basename(i.file)}:${i.line}:${i.col}`)).toEqual([
      'matrix.yaml:5:12',
      'matrix.yaml:7:7',
      'matrix.yaml:11:5',
      'matrix.yaml:18:14',
      'nightly.yaml:1:7',
      'nightly.yaml:2:11',
      'nightly.yaml:7:14',
      'nightly.yaml:17:9',
    ]);
    expect(error.message).toMatch(/\n8 problems in the configuration$/);
    expect(error.message.split('\n')).toHaveLength(9);
  });

  it('reports rule problems of matrix.yaml together with those of the schedule that do not depend on it', async () => {
    const matrix = edit(
      MATRIX,
      ['image: "example/conda:{python}"', 'image: "example/conda:{pyton}"'],
      ['python: ["3.11", "3.12"]', 'python: ["3.11", "3.12", "3.11"]'],
      ['- { package: conda, cuda: cu126 }', '- { package: conda, cuda: cu162 }'],
    );
    const schedule = edit(SCHEDULE, ['machine: linux-0', 'machine: linux-O'], ['to: "s3://example-nightlies/{date}"', 'to: "s3://example-nightlies/{id}"']);
    const error = await configError(writeConfigDir({ matrix, schedules: { nightly: schedule } }));
    expect(sortIssues(error.issues).map((i) => [path.basename(i.file), i.line, i.path.join('.')])).toEqual([
      ['matrix.yaml', 5, 'axes.python.2'],
      ['matrix.yaml', 16, 'packages.conda.image'],
      ['matrix.yaml', 28, 'exclude.0.cuda'],
      ['nightly.yaml', 11, 'upload.to'],
      ['nightly.yaml', 15, 'report.machine'],
    ]);
  });

  it('places every problem of every case at line >= 1 and column >= 1', async () => {
    for (const { matrix, schedule } of cases) {
      const error = await configError(writeConfigDir({ matrix, schedules: { nightly: schedule } }));
      for (const issue of error.issues) {
        expect(issue.line, formatIssue(issue)).toBeGreaterThanOrEqual(1);
        expect(issue.col, formatIssue(issue)).toBeGreaterThanOrEqual(1);
      }
    }
  });

  it('checks every schedule with schedule "all"', async () => {
    const dir = writeConfigDir({
      matrix: MATRIX,
      schedules: { nightly: edit(SCHEDULE, ['min_free: 10g', 'min_free: lots']), weekly: edit(SCHEDULE, ['keep_days: 5', 'keep_days: 0']) },
    });
    const error = await configError(dir, 'all');
    expect(sortIssues(error.issues).map((i) => `${path.basename(i.file)}:${i.line} ${i.path.join('.')}`)).toEqual(['nightly.yaml:5 min_free', 'weekly.yaml:4 keep_days']);
  });
});

describe('missing files and unknown schedules', () => {
  async function usageError(dir: string, schedule?: string): Promise<NightshiftError> {
    const error = await loadConfig({ dir, schedule }).then(
      () => undefined,
      (thrown: unknown) => thrown,
    );
    expect(error).toBeInstanceOf(NightshiftError);
    expect(error).not.toBeInstanceOf(ConfigError);
    expect((error as NightshiftError).exitCode).toBe(ExitCode.usage);
    return error as NightshiftError;
  }

  it('names the available schedules for an unknown one, with did-you-mean', async () => {
    const dir = writeConfigDir({ matrix: MATRIX, schedules: { nightly: SCHEDULE, weekly: SCHEDULE } });
    const error = await usageError(dir, 'nigthly');
    expect(error.message).toMatch(/no schedule "nigthly" in .*schedules\/; did you mean "nightly"\? \(schedules: nightly, weekly\)/);
  });

  it('asks for --schedule when there are several and none is nightly', async () => {
    const dir = writeConfigDir({ matrix: MATRIX, schedules: { weekly: SCHEDULE, hourly: SCHEDULE } });
    expect((await usageError(dir)).message).toMatch(/several schedules \(hourly, weekly\) and none is called nightly: choose one with --schedule NAME/);
  });

  it('says so when matrix.yaml is missing', async () => {
    const dir = writeConfigDir({ schedules: { nightly: SCHEDULE } });
    expect((await usageError(dir)).message).toMatch(/^no matrix\.yaml in .*: run nightshift in the folder holding matrix\.yaml and schedules\/, or pass --config DIR$/);
  });

  it('points at matrix.yml', async () => {
    const dir = writeConfigDir({ schedules: { nightly: SCHEDULE } });
    writeFileSync(path.join(dir, 'matrix.yml'), MATRIX);
    expect((await usageError(dir)).message).toMatch(/no matrix\.yaml in .*; found matrix\.yml: rename it to matrix\.yaml/);
  });

  it('says so when there is no schedules folder', async () => {
    const dir = writeConfigDir({ matrix: MATRIX });
    expect((await usageError(dir)).message).toMatch(/no schedules in .*schedules\/: add one, e\.g\. schedules\/nightly\.yaml with cron, timezone and machines/);
  });

  it('points at schedules/*.yml', async () => {
    const dir = writeConfigDir({ matrix: MATRIX, schedules: {} });
    writeFileSync(path.join(dir, 'schedules', 'nightly.yml'), SCHEDULE);
    expect((await usageError(dir)).message).toMatch(/no schedules in .*schedules\/; schedule files end in \.yaml: rename nightly\.yml/);
  });
});

describe('valid configurations', () => {
  const repo = fileURLToPath(new URL('../..', import.meta.url));
  const ids = (config: LoadedConfig) => config.cells.map((cell) => cell.id);

  it('loads the base of these tests', async () => {
    const config = await loadConfig({ dir: writeConfigDir({ matrix: MATRIX, schedules: { nightly: SCHEDULE } }) });
    expect(ids(config)).toEqual([
      'manywheel_3.11_cpu',
      'manywheel_3.11_cu126',
      'manywheel_3.12_cpu',
      'manywheel_3.12_cu126',
      'manywheel_3.13t_cu126',
      'conda_3.11_cpu',
      'conda_3.12_cpu',
      'wheel-mac_3.11_cpu',
      'wheel-mac_3.12_cpu',
    ]);
    // The included cell takes the attributes of the value it names.
    expect(config.cells[4]!.values.cuda).toEqual({ value: 'cu126', attrs: { version: '12.6', image_tag: 'cuda12.6' } });
  });

  it('loads the repository’s own matrix.yaml and schedules', async () => {
    const config = await loadConfig({ dir: repo, schedule: 'all' });
    expect(config.cells.length).toBeGreaterThan(0);
    expect(config.schedules.map((s) => s.name)).toContain('nightly');
  });

  it('loads examples/demo', async () => {
    const config = await loadConfig({ dir: path.join(repo, 'examples', 'demo'), schedule: 'all' });
    expect(config.cells.length).toBeGreaterThan(0);
  });

  it('accepts machine budgets that every planned cell fits, and keeps them in the model', async () => {
    const schedule = edit(SCHEDULE, ['linux-0: { slots: 4 }', 'linux-0: { slots: 4, memory: 16g, cpus: 4, gpus: 0 }']);
    const config = await loadConfig({ dir: writeConfigDir({ matrix: MATRIX, schedules: { nightly: schedule } }) });
    expect(config.schedules[0]!.machines[0]).toEqual({ name: 'linux-0', slots: 4, builds: undefined, memory: '16g', memoryBytes: 16 * 1024 ** 3, cpus: 4, gpus: 0 });
  });

  it('keeps queue: in the model, the lease and the wait at start in milliseconds (default 2m, 15m), and leaves it out without queue:', async () => {
    const load = async (queue: string) => (await loadConfig({ dir: writeConfigDir({ matrix: MATRIX, schedules: { nightly: `${SCHEDULE}${queue}` } }) })).schedules[0]!;
    expect((await load('queue:\n  url: "redis://redis.example.com:6379/0"\n  lease: 90s\n')).queue).toEqual({
      url: 'redis://redis.example.com:6379/0',
      leaseMs: 90_000,
      startWaitMs: 900_000,
    });
    // A user name alone is no secret; rediss:// is Redis over TLS.
    expect((await load('queue: { url: "rediss://builder@[::1]:6380" }\n')).queue).toEqual({ url: 'rediss://builder@[::1]:6380', leaseMs: 120_000, startWaitMs: 900_000 });
    expect((await load('queue: { url: "redis://redis.example.com", lease: 10s }\n')).queue?.leaseMs).toBe(10_000);
    // How long a night's start waits for Redis (default 15m).
    expect((await load('queue: { url: "redis://redis.example.com", wait_at_start: 5s }\n')).queue?.startWaitMs).toBe(5000);
    expect(await load('')).not.toHaveProperty('queue');
  });

  it('never prints a password written in queue.url, wherever the problem is', async () => {
    const schedule = `${SCHEDULE}queue: { url: "redis://builder:s3cr%40t@redis.example.com:6379/queues?x=1", lease: 1s }\n`;
    const error = await configError(writeConfigDir({ matrix: MATRIX, schedules: { nightly: schedule } }));
    expect(error.message).toMatch(/queue\.url: the url holds a password/);
    expect(error.message).not.toMatch(/s3cr/);
  });

  it('accepts a package-level axis that removes one axis and introduces another', async () => {
    const matrix = edit(MATRIX, ['axes: { cuda: [cpu] }', 'axes: { cuda: [], abi: [cxx11-abi, pre-cxx11] }']);
    // The upload key names cuda, which wheel-mac no longer has: a fallback makes it valid.
    const schedule = edit(SCHEDULE, ['key: "{package}/{cuda}/{file}"', 'key: "{package}/{cuda|none}/{file}"']);
    const config = await loadConfig({ dir: writeConfigDir({ matrix, schedules: { nightly: schedule } }) });
    expect(ids(config).filter((id) => id.startsWith('wheel-mac'))).toEqual([
      'wheel-mac_3.11_cxx11-abi',
      'wheel-mac_3.11_pre-cxx11',
      'wheel-mac_3.12_cxx11-abi',
      'wheel-mac_3.12_pre-cxx11',
    ]);
    expect(config.matrix.packages.find((p) => p.name === 'wheel-mac')!.axes.map((a) => a.name)).toEqual(['python', 'abi']);
  });

  it('accepts an include with a new value carrying attributes, and quoted numbers everywhere', async () => {
    const matrix = edit(MATRIX, [
      '- { package: manywheel, python: "3.13t", cuda: cu126 }',
      '- { package: manywheel, python: "3.10", cuda: { value: cu130, version: "13.0", image_tag: cuda13.0 } }',
    ]);
    const config = await loadConfig({ dir: writeConfigDir({ matrix, schedules: { nightly: SCHEDULE } }) });
    const added = config.cells.find((cell) => cell.id === 'manywheel_3.10_cu130');
    expect(added?.values.cuda?.attrs).toEqual({ version: '13.0', image_tag: 'cuda13.0' });
  });
});
