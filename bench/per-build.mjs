// What one trivial host build costs, and whether that cost stays the same as nights grow: a night of N
// host builds running `true` (N = 100, 1000, 2000 by default) at 4 slots through `nightshift run`, against
// the same per-build work done by hand: `xargs -P 4` copying the recipes' files (a copy of the clone's
// working tree, without .git) into a fresh folder per build, then `sh -c true` in it.
// Both sides run back to back for each N, the first one alternating between N (so neither always gets
// the warmer or quieter turn). Figures per build: the whole command's wall time / N, and for nightshift
// also the builds alone (first start to last end in night.json / N: no start-up, clone or upload).
//   node bench/per-build.mjs [--builds 100,1000,2000] [--slots 4]
// Prints the figures and, last, one summary line; exits 1 when nightshift at the largest N is over 2x
// xargs, or when its cost per build at the largest N is over 1.5x that at the smallest.
import { execFileSync, spawnSync } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({ options: { builds: { type: 'string', default: '100,1000,2000' }, slots: { type: 'string', default: '4' } } });
const sizes = values.builds.split(',').map(Number);
const slots = Number(values.slots);
const RATIO_TARGET = 2;
const GROWTH_TARGET = 1.5;
const cli = path.resolve(import.meta.dirname, '../dist/cli.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-'));

// Recipes shaped like a small real repository: a few folders of scripts, a few commits.
const src = path.join(work, 'src');
const git = (...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd: src });
for (const folder of ['manywheel', 'conda', 'libtorch', 'common', 'windows']) {
  mkdirSync(path.join(src, folder), { recursive: true });
  for (let i = 0; i < 6; i++) writeFileSync(path.join(src, folder, `step-${i}.sh`), `#!/bin/sh\n# ${folder} step ${i}\n${'echo building\n'.repeat(40)}`);
}
writeFileSync(path.join(src, 'README'), 'bench recipes\n');
git('init', '-q', '-b', 'main');
for (let c = 0; c < 5; c++) {
  writeFileSync(path.join(src, 'common', 'version'), `${c}\n`);
  git('add', '-A');
  git('commit', '-qm', `bench recipes ${c}`);
}
execFileSync('git', ['clone', '-q', '--bare', src, path.join(work, 'recipes.git')]);
// What xargs copies: the recipes' files as of the clone, without its .git.
const tree = path.join(work, 'tree');
cpSync(src, tree, { recursive: true, filter: (from) => path.basename(from) !== '.git' });

function writeConfig(n) {
  const dir = path.join(work, `config-${n}`);
  mkdirSync(path.join(dir, 'schedules'), { recursive: true });
  const ns = Array.from({ length: n }, (_, i) => `"${String(i + 1).padStart(4, '0')}"`).join(', ');
  writeFileSync(
    path.join(dir, 'matrix.yaml'),
    `recipes: { repo: "${path.join(work, 'recipes.git')}" }
axes:
  n: [${ns}]
packages:
  noop:
    executor: host
    command: ["true"]
    artifacts: optional
    timeout: 5m
`,
  );
  writeFileSync(path.join(dir, 'schedules', 'bench.yaml'), `cron: "0 1 * * *"\nroot: "${path.join(work, 'nights')}"\nmachines:\n  bench: { slots: ${slots} }\n`);
  return dir;
}

/** Seconds the command took; throws when it fails. */
function timed(file, args) {
  const started = process.hrtime.bigint();
  const result = spawnSync(file, args, { stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${file} ${args.join(' ')} exited ${result.status}: ${result.stdout.slice(-2000)}${result.stderr.slice(-2000)}`);
  return seconds;
}

let nights = 0;
/** Whole-run and builds-only seconds of a fresh night (a new date) of n builds. */
function nightshift(n) {
  nights += 1;
  const date = `2030_01_${String(nights).padStart(2, '0')}`;
  const wall = timed(process.execPath, [cli, 'run', '--config', writeConfig(n), '--machine', 'bench', '--date', date]);
  const state = JSON.parse(readFileSync(path.join(work, 'nights', date, 'night.json'), 'utf8'));
  const ok = state.builds.filter((b) => b.status === 'succeeded');
  if (ok.length !== n) throw new Error(`night ${date}: ${ok.length} of ${n} builds succeeded`);
  const first = Math.min(...ok.map((b) => Date.parse(b.started_at)));
  const last = Math.max(...ok.map((b) => Date.parse(b.finished_at)));
  rmSync(path.join(work, 'nights', date), { recursive: true, force: true });
  return { wall, builds: (last - first) / 1000 };
}

function xargs(n) {
  const dir = path.join(work, 'xargs');
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(path.join(dir, 'work'), { recursive: true });
  mkdirSync(path.join(dir, 'out'));
  const perBuild = `cp -R ${tree} ${dir}/work/$0 && mkdir ${dir}/out/$0 && cd ${dir}/work/$0 && sh -c true`;
  const seconds = timed('sh', ['-c', `seq ${n} | xargs -P ${slots} -I{} sh -c '${perBuild}' {}`]);
  rmSync(dir, { recursive: true, force: true });
  return seconds;
}

const ms = (seconds, n) => (seconds / n) * 1000;
try {
  // One small night of each first, unmeasured: page caches and the CLI's modules warm for both alike.
  xargs(20);
  nightshift(20);
  const rows = [];
  for (const [index, n] of sizes.entries()) {
    let x, ns;
    if (index % 2 === 0) {
      x = xargs(n);
      ns = nightshift(n);
    } else {
      ns = nightshift(n);
      x = xargs(n);
    }
    const row = { n, xargs: ms(x, n), wall: ms(ns.wall, n), builds: ms(ns.builds, n) };
    rows.push(row);
    console.log(
      `${String(n).padStart(5)} builds at ${slots} slots (${index % 2 === 0 ? 'xargs first' : 'nightshift first'}): xargs ${row.xargs.toFixed(1)} ms a build; ` +
        `nightshift run ${row.wall.toFixed(1)} ms a build (builds alone ${row.builds.toFixed(1)} ms); ratio ${(row.wall / row.xargs).toFixed(2)}`,
    );
  }
  const small = rows[0];
  const large = rows[rows.length - 1];
  const ratio = large.wall / large.xargs;
  const growth = large.builds / small.builds;
  const ok = ratio <= RATIO_TARGET && growth <= GROWTH_TARGET;
  console.log(
    `summary: trivial host builds at ${slots} slots: nightshift ${rows.map((r) => `${r.wall.toFixed(1)}`).join(' / ')} ms a build at ${rows.map((r) => r.n).join(' / ')} ` +
      `vs xargs ${rows.map((r) => `${r.xargs.toFixed(1)}`).join(' / ')}; ratio at ${large.n} ${ratio.toFixed(2)} (target <= ${RATIO_TARGET}), ` +
      `builds alone ${large.n} vs ${small.n}: ${growth.toFixed(2)}x (target <= ${GROWTH_TARGET}) ${ok ? 'ok' : 'OVER'}`,
  );
  process.exitCode = ok ? 0 : 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
