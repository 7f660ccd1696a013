#!/usr/bin/env node
/* global document -- inside page.waitForFunction, which runs in the browser */
// Writes docs/serve-desktop.png and docs/serve-phone.png (and docs/serve-build.png, a build's page): the live page of `nightshift serve` while a
// small night runs. It makes a recipes repository and a configuration in a temporary folder, six earlier
// nights and a history (so the strips and the usual durations show), starts `nightshift run` and
// `nightshift serve --listen 127.0.0.1:0`, and photographs the page with Debian's Chromium driven by
// playwright-core once some builds have ended and others still run. Run `npm run build` first.
//   node scripts/make-screenshots.mjs
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { setTimeout as sleep } from 'node:timers/promises';
import { chromium } from 'playwright-core';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './chromium.mjs';

const repo = path.resolve(import.meta.dirname, '..');
const cli = path.join(repo, 'dist', 'cli.js');
const docs = path.join(repo, 'docs');
const base = mkdtempSync(path.join(tmpdir(), 'nightshift-screenshots-'));
const root = path.join(base, 'nights');
const config = path.join(base, 'config');
const gitEnv = { ...process.env, GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1' };
const git = (cwd, ...args) => execFileSync('git', ['-c', 'user.name=nightshift', '-c', 'user.email=nightshift@example.invalid', ...args], { cwd, env: gitEnv, stdio: 'ignore' });

// How long each build takes (seconds) and how it ends; anything not named succeeds after 3 s.
const PLAN = {
  'manywheel_3.13_cu128': { seconds: 4, exit: 1, say: 'error: identifier "__nv_fp8_e8m0" is undefined' },
  'libtorch_cu126_pre-cxx11': { seconds: 2, exit: 1, say: 'ld: undefined reference to `c10::detail::torchCheckFail`' },
  'manywheel_3.10_cpu': { seconds: 2 },
  'manywheel_3.11_cpu': { seconds: 2 },
  'conda_3.12_cpu': { seconds: 60 },
  'conda_3.13_cpu': { seconds: 60 },
  'manywheel_3.12_cu128': { seconds: 60 },
};
const script = [
  'id="$NIGHTSHIFT_BUILD_ID"',
  'echo "building $id (python $DESIRED_PYTHON, cuda $DESIRED_CUDA)"',
  'seconds=3; code=0; say=""',
  'case "$id" in',
  ...Object.entries(PLAN).map(([id, p]) => `  ${id}) seconds=${p.seconds}; code=${p.exit ?? 0}; say='${p.say ?? ''}' ;;`),
  'esac',
  'i=0',
  'while [ "$i" -lt "$seconds" ]; do i=$((i + 1)); echo "[$i/$seconds] compiling object files"; sleep 1; done',
  'if [ "$code" -ne 0 ]; then echo "$say"; exit "$code"; fi',
  'echo "wheel of $id" > "$NIGHTSHIFT_OUT/$id.whl"',
  'echo "done"',
].join('\n');

try {
  // The recipes: one script for every build.
  const work = path.join(base, 'recipes');
  mkdirSync(work);
  writeFileSync(path.join(work, 'build.sh'), `${script}\n`);
  git(base, 'init', '-q', '--bare', '-b', 'main', 'recipes.git');
  git(work, 'init', '-q', '-b', 'main');
  git(work, 'add', '-A');
  git(work, 'commit', '-qm', 'recipes');
  git(work, 'push', '-q', path.join(base, 'recipes.git'), 'HEAD:refs/heads/main');

  mkdirSync(path.join(config, 'schedules'), { recursive: true });
  writeFileSync(
    path.join(config, 'matrix.yaml'),
    `recipes: { repo: "${pathToFileURL(path.join(base, 'recipes.git')).href}", ref: main }
axes:
  python: ["3.10", "3.11", "3.12", "3.13"]
  cuda: [cpu, cu126, cu128]
packages:
  manywheel: { executor: host, command: ["sh", "build.sh"], timeout: 5m, estimate: 30m }
  libtorch: { executor: host, command: ["sh", "build.sh"], timeout: 5m, estimate: 60m, axes: { python: [], abi: [cxx11-abi, pre-cxx11] } }
  conda: { executor: host, command: ["sh", "build.sh"], timeout: 5m, estimate: 20m, axes: { python: ["3.12", "3.13"], cuda: [cpu] } }
env: { DESIRED_PYTHON: "{python}", DESIRED_CUDA: "{cuda}" }
`,
  );
  writeFileSync(path.join(config, 'schedules', 'nightly.yaml'), `cron: "0 1 * * *"\ntimezone: UTC\nroot: "${root}"\nmachines:\n  build-01: { slots: 4 }\n`);
  const base_args = ['--config', config, '--machine', 'build-01'];

  // The plan names tonight's builds; earlier nights and the history are made up around them.
  const today = new Date();
  const dateOf = (daysBack) => new Date(today.getTime() - daysBack * 86_400_000).toISOString().slice(0, 10).replaceAll('-', '_');
  const plan = JSON.parse(execFileSync('node', [cli, 'plan', '--json', ...base_args], { encoding: 'utf8' }));
  const builds = plan.builds;
  const history = { version: 1, builds: {} };
  for (let back = 6; back >= 1; back--) {
    const date = dateOf(back);
    const statusOf = (id) => {
      if (id === 'manywheel_3.13_cu128') return back <= 3 ? 'failed' : 'succeeded';
      if (id === 'libtorch_cu126_pre-cxx11' && back === 4) return 'timed_out';
      if (id === 'manywheel_3.12_cu126' && back === 2) return 'failed';
      if (id === 'conda_3.13_cpu' && back === 5) return 'canceled';
      return 'succeeded';
    };
    const records = builds.map((b, i) => {
      const seconds = PLAN[b.id]?.seconds ?? 3;
      const status = statusOf(b.id);
      (history.builds[b.id] ??= []).push({ date, duration_s: seconds + ((back + i) % 3) - 1, status });
      const axes = Object.fromEntries(['python', 'cuda', 'abi'].filter((name) => name in b).map((name) => [name, b[name]]));
      return { id: b.id, package: b.package, axes, executor: 'host', image: null, status, order: i + 1, estimate_s: 60, attempt: 1, duration_s: seconds };
    });
    mkdirSync(path.join(root, date), { recursive: true });
    const night = { version: 1, date, machine: 'build-01', schedule: 'nightly', updated_at: new Date().toISOString(), builds: records };
    writeFileSync(path.join(root, date, 'night.json'), JSON.stringify(night, null, 2));
  }
  // The longer builds' usual durations, as earlier nights took them.
  for (const id of ['conda_3.12_cpu', 'conda_3.13_cpu', 'manywheel_3.12_cu128']) history.builds[id] = history.builds[id].map((e) => ({ ...e, duration_s: 40 + e.duration_s }));
  writeFileSync(path.join(root, 'history.json'), JSON.stringify(history, null, 2));

  const run = spawn('node', [cli, 'run', ...base_args], { stdio: 'ignore' });
  const serve = spawn('node', [cli, 'serve', '--listen', '127.0.0.1:0', ...base_args], { stdio: ['ignore', 'pipe', 'inherit'] });
  const url = await new Promise((resolve, reject) => {
    let out = '';
    serve.stdout.on('data', (chunk) => {
      out += chunk;
      const found = /listening on (http:\S+)/.exec(out);
      if (found) resolve(found[1]);
    });
    serve.on('exit', (code) => reject(new Error(`serve exited with ${code}`)));
  });

  const profile = mkdtempSync(path.join(tmpdir(), 'nightshift-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_FLAGS, '--hide-scrollbars'],
  });
  try {
    const page = await context.newPage();
    await page.setViewportSize({ width: 1280, height: 800 });
    await page.goto(url);
    // Some ended, some failed, some still running: the night as it looks at its busiest.
    await page.waitForFunction(
      () => document.querySelectorAll('.cell[data-status="failed"]').length >= 2 && document.querySelectorAll('.cell[data-status="running"]').length >= 2,
      undefined,
      {
        timeout: 60_000,
      },
    );
    await sleep(1500);
    await page.screenshot({ path: path.join(docs, 'serve-desktop.png'), fullPage: true });
    const phone = await context.newPage();
    await phone.setViewportSize({ width: 390, height: 844 });
    await phone.goto(url);
    await phone.waitForSelector('.cell');
    await sleep(500);
    await phone.screenshot({ path: path.join(docs, 'serve-phone.png'), fullPage: true });
    // A failed build's page, its log complete.
    const build = await context.newPage();
    await build.setViewportSize({ width: 1280, height: 800 });
    await build.goto(`${url}nights/${dateOf(0)}/builds/manywheel_3.13_cu128`);
    await build.waitForFunction(() => /ended/.test(document.getElementById('log-state')?.textContent ?? ''));
    await build.screenshot({ path: path.join(docs, 'serve-build.png'), fullPage: true });
    console.log('wrote docs/serve-desktop.png, docs/serve-phone.png and docs/serve-build.png');
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
    run.kill('SIGINT');
    serve.kill('SIGTERM');
    await Promise.all([run, serve].map((child) => (child.exitCode === null ? new Promise((resolve) => child.on('exit', resolve)) : undefined)));
  }
} finally {
  rmSync(base, { recursive: true, force: true });
}
