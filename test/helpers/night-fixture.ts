/**
 * A complete little nightshift setup for night tests: a real recipes git repository and a config
 * folder whose matrix has builds that succeed, fail, time out and write no artifact.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { makeRecipesRepo } from './git.js';
import { writeConfigDir } from './config-dir.js';
import { TEST_IMAGE } from './docker.js';

export const RECIPES: Record<string, string> = {
  'ok.sh': [
    'echo "building $NIGHTSHIFT_BUILD_ID python=$DESIRED_PYTHON cuda=$NIGHTSHIFT_CUDA"',
    'echo "to stderr" >&2',
    'echo "wheel of $NIGHTSHIFT_BUILD_ID" > "$NIGHTSHIFT_OUT/pkg-$NIGHTSHIFT_PYTHON.whl"',
  ].join('\n'),
  'fail.sh': 'echo "compiler error: something broke"\nexit 3\n',
  'slow.sh': 'echo "starting a long build"\nsleep 300\n',
  'noart.sh': 'echo "built, but wrote nothing"\n',
};

export interface NightFixture {
  configDir: string;
  root: string;
  recipesUrl: string;
  commit: (files: Record<string, string>, message: string) => Promise<string>;
  /** A unique date per fixture, so leftovers of one test never meet another. */
  date: string;
  cleanup: () => Promise<void>;
}

export interface NightFixtureOptions {
  executor: 'docker' | 'host';
  /** Timeout of the slow package (default 2s, so it times out). */
  slowTimeout?: string;
  /** Python values of the slow package (default one: 3.12). */
  slowPythons?: string[];
  slots?: number;
  /** The `machines:` block (default `m1` with the slots). */
  machines?: string;
  /** More schedule YAML, e.g. an `upload:` block. */
  scheduleExtra?: string;
  /** The schedule's cron (default "0 1 * * *") and time zone (default UTC). */
  cron?: string;
  timezone?: string;
}

export async function makeNightFixture(options: NightFixtureOptions): Promise<NightFixture> {
  const repo = await makeRecipesRepo({ files: RECIPES });
  const root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-root-'));
  const run = (script: string) => `["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/${script}\\""]`;
  const where = options.executor === 'docker' ? `    image: ${TEST_IMAGE}\n    network: none\n` : '    executor: host\n';
  const pkg = (name: string, script: string, extra = '') => `  ${name}:\n${where}    command: ${run(script)}\n${extra.includes('timeout:') ? '' : '    timeout: 1m\n'}${extra}`;
  const matrix = `recipes: { repo: "${repo.url}", ref: main }
axes:
  python: ["3.11", "3.12"]
  cuda: [cpu]
packages:
${pkg('ok', 'ok.sh', '    estimate: 10m\n')}
${pkg('bad', 'fail.sh', '    axes: { python: ["3.12"] }\n')}
${pkg('slow', 'slow.sh', `    axes: { python: ${JSON.stringify(options.slowPythons ?? ['3.12'])} }\n    timeout: ${options.slowTimeout ?? '2s'}\n    estimate: 20m\n`)}
${pkg('empty', 'noart.sh', '    axes: { python: ["3.12"] }\n')}
${pkg('opt', 'noart.sh', '    axes: { python: ["3.12"] }\n    artifacts: optional\n')}
env:
  DESIRED_PYTHON: "{python}"
`;
  const machines = options.machines ?? `machines:\n  m1: { slots: ${options.slots ?? 2} }\n`;
  const schedule = `cron: "${options.cron ?? '0 1 * * *'}"\ntimezone: ${options.timezone ?? 'UTC'}\nroot: "${root}"\n${machines}${options.scheduleExtra ?? ''}`;
  const configDir = writeConfigDir({ matrix, schedules: { nightly: schedule } });
  const date = randomNightDate();
  return {
    configDir,
    root,
    recipesUrl: repo.url,
    commit: repo.commit,
    date,
    cleanup: async () => {
      await rm(root, { recursive: true, force: true });
      await rm(configDir, { recursive: true, force: true });
      await repo.cleanup();
    },
  };
}

/** A real date far in the future, different for each fixture, so container labels never meet. */
function randomNightDate(): string {
  const pick = (n: number) => Math.floor(Math.random() * n);
  const two = (n: number) => String(n).padStart(2, '0');
  return `${2040 + pick(50)}_${two(1 + pick(12))}_${two(1 + pick(28))}`;
}
