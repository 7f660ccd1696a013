// `nightshift status --all-machines` of a schedule with the shared queue, against a real redis-server:
// a night of 50 and of 500 cells (a tenth running, a tenth ended, the rest waiting), each read N times
// directly and through a TCP proxy that delays every packet by 100 ms each way (a Redis far away;
// long enough to stand out of a busy machine's noise). Direct and delayed runs alternate; the median of
// their differences, divided by one round trip (200 ms), is how many round trips a status costs: it must not grow with the night. Also: Redis commands per status (INFO, counted on the direct and delayed runs alike), the
// manifests view of a schedule without the queue, `node -e 0`, and a status while Redis is down.
//   node bench/fleet-status.mjs [--runs 7]     (needs dist/: npm run build; and /usr/bin/redis-server)
// Prints the figures and, last, one summary line.
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { Queue, Worker } from 'bullmq';
import { Redis } from 'ioredis';

const { values } = parseArgs({ options: { runs: { type: 'string', default: '7' } } });
const RUNS = Number(values.runs);
const DELAY_MS = 100;
/** Round trips a status may cost, whatever the night's size. */
const TARGET_ROUND_TRIPS = 10;
const repo = path.resolve(import.meta.dirname, '..');
const cli = path.join(repo, 'dist/cli.js');
const work = mkdtempSync(path.join(os.tmpdir(), 'nightshift-bench-fleet-'));
const DATE = '2030_01_01';

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const freePort = () =>
  new Promise((resolve) => {
    const server = net.createServer().listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });

/** Forwards 127.0.0.1:<port> to Redis, every chunk held back `DELAY_MS` in each direction (order kept). */
async function delayingProxy(target) {
  const port = await freePort();
  const server = net.createServer((client) => {
    const upstream = net.connect(target, '127.0.0.1');
    const pipe = (from, to) => from.on('data', (chunk) => setTimeout(() => to.write(chunk), DELAY_MS));
    pipe(client, upstream);
    pipe(upstream, client);
    const end = () => (client.destroy(), upstream.destroy());
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise((resolve) => server.listen(port, '127.0.0.1', resolve));
  return { port, close: () => server.close() };
}

/** A config folder whose only schedule is `schedule`: its queue is the night fillNight(…, schedule) filled. */
function config(name, queueUrl, schedule = 'nightly') {
  const dir = path.join(work, name);
  mkdirSync(path.join(dir, 'schedules'), { recursive: true });
  writeFileSync(
    path.join(dir, 'matrix.yaml'),
    'recipes: { repo: "https://git.example.com/r.git" }\naxes:\n  n: ["1"]\npackages:\n  p:\n    executor: host\n    command: ["true"]\n',
  );
  const queue = queueUrl ? `queue: { url: "${queueUrl}" }\n` : '';
  writeFileSync(
    path.join(dir, 'schedules', `${schedule}.yaml`),
    `cron: "0 1 * * *"\nroot: "${work}/nights"\nmachines:\n  m1: { slots: 4 }\n  m2: { slots: 4 }\nupload: { to: "file://${work}/dest" }\n${queue}`,
  );
  return dir;
}

/** A night in the queue as machines leave it (src/queue/night-queue.ts's layout): a tenth running (taken by a named worker), a tenth ended. */
async function fillNight(url, schedule, cells) {
  const connection = new Redis(url, { maxRetriesPerRequest: null });
  const name = `${schedule}.${DATE}`;
  const queue = new Queue(name, { connection, prefix: 'nightshift' });
  const ids = Array.from({ length: cells }, (_, i) => `pkg_${String(i).padStart(4, '0')}`);
  await queue.addBulk(
    ids.map((id, i) => ({ name: id, data: { id, estimateS: 10_000 - i, needs: {} }, opts: { jobId: id, priority: i + 1, removeOnComplete: false, removeOnFail: false } })),
  );
  // Workers named after machines: BullMQ records which one took a job (processedBy), as the runner's do.
  const workers = ['m2', 'm1'].map((machine) => new Worker(name, null, { connection, prefix: 'nightshift', name: machine, autorun: false, lockDuration: 600_000 }));
  for (let i = 0; i < cells / 5; i++) {
    const job = await workers[i % 2].getNextJob('bench-token', { block: false });
    if (i % 2) await job.moveToCompleted({ status: 'succeeded', machine: 'm1', finished_at: new Date().toISOString() }, 'bench-token', false);
  }
  for (const worker of workers) await worker.close(true);
  await queue.close();
  await connection.quit();
}

async function commandsProcessed(url) {
  const connection = new Redis(url, { retryStrategy: () => null, maxRetriesPerRequest: 0 });
  connection.on('error', () => undefined);
  try {
    return Number(/total_commands_processed:(\d+)/.exec(await connection.info('stats'))[1]);
  } finally {
    connection.disconnect();
  }
}

/** Median wall time of `node args` over RUNS runs; run asynchronously, so the proxy in this process keeps forwarding. */
async function time(args, runs = RUNS) {
  const ms = [];
  let last;
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    last = await new Promise((resolve) => {
      const child = spawn(process.execPath, args, { cwd: repo, stdio: ['ignore', 'pipe', 'ignore'] });
      let stdout = '';
      child.stdout.on('data', (chunk) => (stdout += chunk));
      child.on('close', (status) => resolve({ status, stdout }));
    });
    ms.push(performance.now() - start);
  }
  return { ms: median(ms), status: last.status, stdout: last.stdout };
}

const redisPort = await freePort();
const redis = spawn('/usr/bin/redis-server', ['--bind', '127.0.0.1', '--port', String(redisPort), '--save', '', '--appendonly', 'no', '--dir', work], { stdio: 'ignore' });
let summary = 'summary: (not reached)';
let ok = false;
try {
  const url = `redis://127.0.0.1:${redisPort}/0`;
  for (let i = 0; ; i++) {
    if (
      await commandsProcessed(url).then(
        () => true,
        () => false,
      )
    )
      break;
    if (i > 100) throw new Error('redis-server did not start');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  const proxy = await delayingProxy(redisPort);
  const slowUrl = `redis://127.0.0.1:${proxy.port}/0`;
  const rows = [];
  const baseline = (await time(['-e', '0'])).ms;
  rows.push(['node -e 0', '', baseline, '', '']);
  rows.push(['manifests (no queue:)', '', (await time([cli, '--config', config('plain'), 'status', '--all-machines', '--date', DATE])).ms, '', '']);
  const roundTrips = [];
  for (const cells of [50, 500]) {
    const schedule = `n${cells}`;
    await fillNight(url, schedule, cells);
    const direct = config(`direct-${cells}`, url, schedule);
    const slow = config(`slow-${cells}`, slowUrl, schedule);
    const run = (dir, runs) => time([cli, '--config', dir, 'status', '--all-machines', '--date', DATE], runs);
    const before = await commandsProcessed(url);
    // Alternating, so a busy moment of the machine costs both sides alike.
    const pairs = [];
    for (let i = 0; i < RUNS; i++) pairs.push([await run(direct, 1), await run(slow, 1)]);
    const commands = ((await commandsProcessed(url)) - before) / (2 * RUNS) - 1;
    for (const [label, result] of [...pairs.flat().entries()].map(([i, r]) => [i % 2 ? 'delayed' : 'direct', r])) {
      if (result.status !== 0 || !result.stdout.includes('live from the shared queue'))
        throw new Error(`${label} status of ${cells} cells: exit ${result.status}\n${result.stdout}`);
    }
    const fast = { ms: median(pairs.map(([a]) => a.ms)) };
    const delayed = { ms: median(pairs.map(([, b]) => b.ms)) };
    const trips = median(pairs.map(([a, b]) => b.ms - a.ms)) / (2 * DELAY_MS);
    roundTrips.push(trips);
    rows.push([`live, ${cells} cells`, '', fast.ms, delayed.ms, trips.toFixed(1)]);
    rows.push([`  Redis commands per status`, String(Math.round(commands)), '', '', '']);
  }
  proxy.close();
  redis.kill('SIGTERM');
  await new Promise((resolve) => redis.once('exit', resolve));
  const down = await time([cli, '--config', config('down', url), 'status', '--all-machines', '--date', DATE]);
  rows.push(['Redis down (refused)', `exit ${down.status}`, down.ms, '', '']);

  const cell = (v) => (typeof v === 'number' ? `${v.toFixed(0)} ms` : v);
  console.log(`median of ${RUNS} runs; delayed = through a proxy adding ${DELAY_MS} ms each way`);
  console.log(['case'.padEnd(28), 'count'.padStart(8), 'direct'.padStart(9), 'delayed'.padStart(9), 'round trips'.padStart(12)].join(''));
  for (const [name, count, direct, delayed, trips] of rows) {
    console.log([name.padEnd(28), count.padStart(8), cell(direct).padStart(9), cell(delayed).padStart(9), trips.padStart(12)].join(''));
  }
  const worst = Math.max(...roundTrips);
  ok = worst <= TARGET_ROUND_TRIPS;
  summary = `summary: status --all-machines live: ${roundTrips.map((t) => t.toFixed(1)).join(' / ')} round trips at 50 / 500 cells (target ≤ ${TARGET_ROUND_TRIPS}, not growing with the night)`;
} finally {
  if (redis.exitCode === null) redis.kill('SIGKILL');
  rmSync(work, { recursive: true, force: true });
}
console.log(summary);
process.exitCode = ok ? 0 : 1;
