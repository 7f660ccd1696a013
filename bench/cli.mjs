// Cold start of the CLI: `nightshift status` on a small existing night, `nightshift plan` of that
// night (shared history read from its local file:// destination) and `plan --all-machines` on the
// repository's config (23 builds; its destination is S3, so the AWS SDK loads to read the shared
// history), against `node -e 0`; each run N times, medians compared.
// Then what `status` loads (a module resolve hook): how much of the bundled dist/, and whether any
// heavy package it does not need (AWS SDK, nodemailer) comes in.
//   node bench/cli.mjs [--runs 15]
// Prints the figures and, last, one summary line.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '15' } } });
const RUNS = Number(values.runs);
const TARGET = 3;
const repo = path.resolve(import.meta.dirname, '..');
const cli = path.join(repo, 'dist/cli.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-'));

// A 1-cell host night to look at.
const git = (...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd: path.join(work, 'src') });
mkdirSync(path.join(work, 'src'));
writeFileSync(path.join(work, 'src', 'README'), 'one build\n');
git('init', '-q', '-b', 'main');
git('add', '-A');
git('commit', '-qm', 'bench recipe');
execFileSync('git', ['clone', '-q', '--bare', path.join(work, 'src'), path.join(work, 'recipes.git')]);
mkdirSync(path.join(work, 'config', 'schedules'), { recursive: true });
writeFileSync(
  path.join(work, 'config', 'matrix.yaml'),
  `recipes: { repo: "${path.join(work, 'recipes.git')}" }
axes:
  python: ["3.12"]
packages:
  tiny:
    executor: host
    artifacts: optional
    command: ["true"]
    timeout: 5m
`,
);
writeFileSync(path.join(work, 'config', 'schedules', 'bench.yaml'), `cron: "0 1 * * *"\nroot: "${path.join(work, 'nights')}"\nmachines:\n  bench: { slots: 1 }\n`);
const night = ['--config', path.join(work, 'config'), '--machine', 'bench', '--date', '2030_01_01'];

const node = (args, options = {}) => execFileSync(process.execPath, args, { cwd: repo, stdio: ['ignore', 'ignore', 'pipe'], ...options });
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

try {
  node([cli, 'run', ...night]);
  const cases = {
    'node -e 0': ['-e', '0'],
    'nightshift status': [cli, 'status', ...night],
    'nightshift plan': [cli, 'plan', ...night],
    'nightshift plan --all-machines': [cli, 'plan', '--all-machines', '--config', repo],
  };
  for (const args of Object.values(cases)) node(args); // warm the page cache
  const times = Object.fromEntries(Object.keys(cases).map((name) => [name, []]));
  for (let i = 0; i < RUNS; i++) {
    // Interleaved, so a noisy moment hits every case alike.
    for (const [name, args] of Object.entries(cases)) {
      const started = process.hrtime.bigint();
      node(args);
      times[name].push(Number(process.hrtime.bigint() - started) / 1e6);
    }
  }
  const base = median(times['node -e 0']);
  const m = Object.fromEntries(Object.entries(times).map(([name, xs]) => [name, median(xs)]));
  for (const [name, ms] of Object.entries(m)) {
    console.log(
      `${name.padEnd(31)} median ${ms.toFixed(0).padStart(4)} ms (min ${Math.min(...times[name]).toFixed(0)}, max ${Math.max(...times[name]).toFixed(0)}), ${(ms / base).toFixed(2)}x node -e 0`,
    );
  }

  // What status loads: dist/ is bundled, so count its files and bytes; a package from node_modules
  // (the AWS SDK, nodemailer stay outside the bundle) would show by name.
  writeFileSync(
    path.join(work, 'hooks.mjs'),
    `export async function resolve(spec, context, next) {
  const resolved = await next(spec, context);
  if (resolved.url.startsWith('file:')) process.stderr.write('LOADS ' + resolved.url + '\\n');
  return resolved;
}\n`,
  );
  writeFileSync(path.join(work, 'register.mjs'), `import { register } from 'node:module';\nregister(${JSON.stringify('file://' + path.join(work, 'hooks.mjs'))});\n`);
  const trace = spawnSync(process.execPath, ['--import', path.join(work, 'register.mjs'), cli, 'status', ...night], {
    cwd: repo,
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
  }).stderr;
  const files = [
    ...new Set(
      trace
        .split('\n')
        .filter((l) => l.startsWith('LOADS '))
        .map((l) => fileURLToPath(l.slice(6))),
    ),
  ];
  const packages = [...new Set(files.flatMap((f) => /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(f)?.[1] ?? []))];
  const own = files.filter((f) => f.startsWith(path.join(repo, 'dist') + path.sep));
  const jsFiles = (dir) =>
    readdirSync(dir, { recursive: true })
      .filter((f) => f.endsWith('.js'))
      .map((f) => path.join(dir, f));
  const allOwn = jsFiles(path.join(repo, 'dist'));
  const kib = (list) => (list.reduce((sum, f) => sum + statSync(f).size, 0) / 1024).toFixed(0);
  const heavy = packages.filter((p) => /^(@aws-sdk|@smithy|nodemailer)/.test(p));
  console.log(
    `nightshift status loads ${own.length} of dist's ${allOwn.length} files (${kib(own)} of ${kib(allOwn)} KiB)${packages.length ? ` and from node_modules: ${packages.join(', ')}` : ' and nothing from node_modules (no AWS SDK, no nodemailer)'}`,
  );

  const ratio = m['nightshift status'] / base;
  console.log(
    `summary: cold start median of ${RUNS}: node -e 0 ${base.toFixed(0)} ms, status ${m['nightshift status'].toFixed(0)} ms (${ratio.toFixed(2)}x, target <= ${TARGET}x) ${ratio <= TARGET ? 'ok' : 'OVER'}, plan ${m['nightshift plan'].toFixed(0)} ms (${(m['nightshift plan'] / base).toFixed(2)}x), plan --all-machines of an S3 schedule ${m['nightshift plan --all-machines'].toFixed(0)} ms (${(m['nightshift plan --all-machines'] / base).toFixed(2)}x)`,
  );
  process.exitCode = ratio <= TARGET && heavy.length === 0 ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
