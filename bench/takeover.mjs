// Takeover on the shared queue, with real processes: three `nightshift run` machines share a night of 20
// host builds of a few seconds through a real Redis with the shortest lease (10 s). Mid-night, while it
// runs builds, one machine's runner gets SIGKILL (its host builds, each in its own PID namespace, die
// with it). The figures: the time from the kill until each build it was running starts on another
// machine (their night.json), against the lease (a stalled job is freed between one lease and one and a
// half after its last renewal), and whether every cell succeeded exactly once on a machine that lived.
//   node bench/takeover.mjs [--builds 20] [--seconds 4] [--slots 2] [--kill-after 5]
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { startRedis } from './redis.mjs';

const { values } = parseArgs({
  options: {
    builds: { type: 'string', default: '20' },
    seconds: { type: 'string', default: '4' },
    slots: { type: 'string', default: '2' },
    'kill-after': { type: 'string', default: '5' },
  },
});
const BUILDS = Number(values.builds);
const SECONDS = Number(values.seconds);
const SLOTS = Number(values.slots);
const KILL_AFTER_MS = Number(values['kill-after']) * 1000;
const LEASE_S = 10;
const MACHINES = ['m1', 'm2', 'm3'];
const VICTIM = 'm1';
const DATE = '2030_01_01';
const cli = path.resolve(import.meta.dirname, '../dist/cli.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-takeover-'));
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

const git = (cwd, ...args) => execFileSync('git', ['-c', 'user.name=bench', '-c', 'user.email=bench@example.com', ...args], { cwd });
const source = path.join(work, 'recipes-src');
mkdirSync(source);
// Durations from 0.75x to 1.25x of --seconds, spread over the cells, so builds do not all end together.
writeFileSync(path.join(source, 'build.sh'), `exec sleep "$(awk -v s="$BENCH_SECONDS" -v n="$NIGHTSHIFT_N" 'BEGIN { printf "%.2f", s * (0.75 + 0.125 * (n % 5)) }')"\n`);
git(source, 'init', '-q', '-b', 'main');
git(source, 'add', '-A');
git(source, 'commit', '-qm', 'bench recipe');
execFileSync('git', ['clone', '-q', '--bare', source, path.join(work, 'recipes.git')]);

const ns = Array.from({ length: BUILDS }, (_, i) => String(i + 1).padStart(2, '0'));
const cellIds = ns.map((n) => `sleep_${n}`);
const config = path.join(work, 'config');
mkdirSync(path.join(config, 'schedules'), { recursive: true });
writeFileSync(
  path.join(config, 'matrix.yaml'),
  `recipes: { repo: "${path.join(work, 'recipes.git')}", ref: main }
axes:
  n: [${ns.map((n) => `"${n}"`).join(', ')}]
packages:
  sleep:
    executor: host
    command: ["sh", "build.sh"]
    artifacts: optional
    estimate: ${SECONDS}s
env:
  BENCH_SECONDS: "${SECONDS}"
`,
);

const redis = await startRedis();
const roots = Object.fromEntries(MACHINES.map((machine) => [machine, path.join(work, 'roots', machine)]));
const nightJson = (machine) => path.join(roots[machine], DATE, 'night.json');
// Through `status --json`, which reads night.json with its journal (night.json alone lags up to a second while a night runs).
const readNight = (machine) =>
  existsSync(nightJson(machine))
    ? JSON.parse(
        execFileSync(process.execPath, [cli, 'status', '--json', '--config', config, '--machine', machine, '--root', roots[machine], '--date', DATE], { encoding: 'utf8' }),
      )
    : { builds: [] };

try {
  writeFileSync(
    path.join(config, 'schedules', 'bench.yaml'),
    `cron: "0 1 * * *"
root: "${path.join(work, 'roots', 'default')}"
machines:
${MACHINES.map((name) => `  ${name}: { slots: ${SLOTS} }`).join('\n')}
upload: { to: "file://${path.join(work, 'dest')}", key: "{id}/{file}" }
queue: { url: "${redis.url}", lease: ${LEASE_S}s }
`,
  );
  const started = Date.now();
  const children = Object.fromEntries(
    MACHINES.map((machine) => {
      const args = [cli, 'run', '--config', config, '--machine', machine, '--root', roots[machine], '--date', DATE];
      const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'] });
      let stderr = '';
      child.stderr.on('data', (chunk) => (stderr = (stderr + chunk).slice(-2000)));
      const exited = new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })));
      return [machine, { child, exited }];
    }),
  );

  // Mid-night, and only once the victim runs builds (all its slots, if it comes to that): killing an idle machine shows nothing.
  let running = [];
  for (;;) {
    running = readNight(VICTIM).builds.filter((build) => build.status === 'running');
    // Every slot busy if it comes to that within 20 s, else any build running.
    if (Date.now() - started >= KILL_AFTER_MS && running.length >= (Date.now() - started < 20_000 ? SLOTS : 1)) break;
    if (Date.now() - started > 60_000) throw new Error(`${VICTIM} ran no build within 60 s`);
    await sleep(50);
  }
  children[VICTIM].child.kill('SIGKILL');
  const killedAt = Date.now();
  await children[VICTIM].exited;
  // What the victim's night.json says at its death: the builds it was running (it never wrote again).
  const orphans = readNight(VICTIM)
    .builds.filter((build) => build.status === 'running')
    .map((build) => build.id);
  await sleep(200);
  const survivors = buildProcessesUnder(roots[VICTIM]);

  const ends = await Promise.all(MACHINES.filter((machine) => machine !== VICTIM).map(async (machine) => ({ machine, ...(await children[machine].exited) })));
  const nightS = (Date.now() - started) / 1000;
  for (const end of ends) if (end.code !== 0) console.log(`${end.machine} exited ${end.code ?? end.signal}: ${end.stderr.trim().split('\n').slice(-3).join(' | ')}`);

  const records = MACHINES.flatMap((machine) => readNight(machine).builds.map((build) => ({ ...build, machine })));
  const alive = records.filter((build) => build.machine !== VICTIM || build.status === 'succeeded');
  const succeededOnce = cellIds.filter((id) => alive.filter((build) => build.id === id && build.status === 'succeeded').length === 1);
  const takeovers = orphans.map((id) => {
    const elsewhere = records.find((build) => build.id === id && build.machine !== VICTIM && build.started_at);
    return { id, machine: elsewhere?.machine, afterS: elsewhere ? (Date.parse(elsewhere.started_at) - killedAt) / 1000 : undefined };
  });

  console.log(
    `3 machines x ${SLOTS} slots, ${BUILDS} host builds of ${SECONDS} s, lease ${LEASE_S} s; ${VICTIM} killed (SIGKILL) ${((killedAt - started) / 1000).toFixed(1)} s into the night while running ${orphans.length} builds; night ended after ${nightS.toFixed(1)} s`,
  );
  console.log(`build processes of ${VICTIM} alive 0.2 s after the kill: ${survivors.length}${survivors.length ? ` (${survivors.join(', ')})` : ''}`);
  console.log('\nbuild the killed machine ran   runs again on   after the kill');
  for (const takeover of takeovers)
    console.log(`${takeover.id.padEnd(29)} ${String(takeover.machine ?? 'NOWHERE').padEnd(15)} ${takeover.afterS === undefined ? '-' : `${takeover.afterS.toFixed(1)} s`}`);
  const byMachine = MACHINES.map((machine) => `${machine} ${records.filter((build) => build.machine === machine && build.status === 'succeeded').length}`).join(', ');
  console.log(
    `\nsucceeded exactly once on a living machine: ${succeededOnce.length} of ${BUILDS} (succeeded per machine: ${byMachine}; ${VICTIM}'s night.json still shows ${orphans.length} running)`,
  );

  const times = takeovers.map((takeover) => takeover.afterS).filter((s) => s !== undefined);
  const allTaken = times.length === orphans.length && orphans.length > 0;
  const ok = allTaken && succeededOnce.length === BUILDS && survivors.length === 0;
  console.log(
    `\nsummary: kill -9 of 1 of 3 machines mid-night: its ${orphans.length} running builds started elsewhere ${times.length ? `${Math.min(...times).toFixed(1)}-${Math.max(...times).toFixed(1)} s` : 'never'} after the kill (lease ${LEASE_S} s: expected ${LEASE_S}-${LEASE_S * 1.5} s after the last renewal, renewals come every third of a lease, so ${((LEASE_S * 2) / 3).toFixed(1)}-${LEASE_S * 1.5} s after the kill); ${succeededOnce.length}/${BUILDS} cells succeeded exactly once${survivors.length ? `; ${survivors.length} build processes OUTLIVED the runner` : ''}`,
  );
  process.exitCode = ok ? 0 : 1;
} finally {
  for (const pid of buildProcessesUnder(work)) process.kill(Number(pid.split(' ')[0]), 'SIGKILL');
  await redis.stop();
  rmSync(work, { recursive: true, force: true });
}

/** Processes whose working folder is under `folder` (a host build runs in <root>/<date>/work/<id>/): "pid cwd". */
function buildProcessesUnder(folder) {
  const found = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cwd = readlinkSync(`/proc/${entry}/cwd`);
      if (cwd.startsWith(folder + path.sep)) found.push(`${entry} ${path.basename(cwd)}`);
    } catch {
      // Gone meanwhile, or not ours to read.
    }
  }
  return found;
}
