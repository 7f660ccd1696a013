/**
 * A fleet on one host for queue tests: a real redis-server (kept across restarts) and machines m1..mN,
 * each a real `nightshift run` process with its own root, all publishing to one file:// destination.
 * `useFleet()` registers the file's hooks: Redis and the recipes for the whole file, every machine
 * process killed after each test.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { execa, type ResultPromise } from 'execa';
import { afterAll, afterEach, beforeAll } from 'vitest';
import { writeConfigDir, removeConfigDirs } from './config-dir.js';
import { makeRecipesRepo, type RecipesRepo } from './git.js';
import { startRedis } from './redis.js';
import { readNightState, type NightState } from '../../src/night/state.js';

export const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
type Redis = Awaited<ReturnType<typeof startRedis>>;

let redis: Redis;
export const redisServer = (): Redis => redis;
let recipes: RecipesRepo;
const temps: string[] = [];
const children: ResultPromise[] = [];

/** Registers the hooks of a test file that uses `fleet()`. */
export function useFleet(): void {
  beforeAll(async () => {
    redis = await startRedis({ persistent: true });
    // Each build sleeps for $SECONDS (a package env) and writes one artifact naming its machine.
    recipes = await makeRecipesRepo({ files: { 'work.sh': 'sleep "$SECONDS"\necho "job $NIGHTSHIFT_N on $NIGHTSHIFT_MACHINE" > "$NIGHTSHIFT_OUT/job-$NIGHTSHIFT_N.txt"\n' } });
  });
  afterEach(() => {
    for (const child of children.splice(0)) child.kill('SIGKILL');
  });
  afterAll(async () => {
    await redis.stop();
    await recipes.cleanup();
    removeConfigDirs();
    for (const dir of temps) await rm(dir, { recursive: true, force: true });
  });
}

let nights = 0;

export interface Fleet {
  date: string;
  configDir: string;
  roots: Record<string, string>;
  dest: string;
  run(machine: string): ResultPromise;
  state(machine: string): Promise<NightState | undefined>;
  cli(machine: string, args: string[]): Promise<{ exitCode: number | undefined; stdout: string; stderr: string }>;
}

/** A night of `cells` one-artifact builds of `seconds` each, on machines m1..mN of `slots` slots, sharing the queue. */
export async function fleet(options: { cells: number; seconds: number; machines: number; slots: number; leaseS?: number; waitAtStartS?: number }): Promise<Fleet> {
  const base = await mkdtemp(path.join(os.tmpdir(), 'nightshift-fleet-'));
  temps.push(base);
  const names = Array.from({ length: options.machines }, (_, i) => `m${i + 1}`);
  const roots = Object.fromEntries(names.map((name) => [name, path.join(base, name)]));
  const dest = path.join(base, 'published');
  const n = Array.from({ length: options.cells }, (_, i) => `"${String(i + 1).padStart(2, '0')}"`);
  const matrix = `recipes: { repo: "${recipes.url}", ref: main }
axes:
  n: [${n.join(', ')}]
packages:
  job:
    executor: host
    command: ["sh", "-c", "exec sh \\"$NIGHTSHIFT_RECIPES/work.sh\\""]
    env: { SECONDS: "${options.seconds}" }
    estimate: 1m
    timeout: 5m
`;
  const schedule = `cron: "0 1 * * *"
timezone: UTC
root: "${roots.m1!}"
machines:
${names.map((name) => `  ${name}: { slots: ${options.slots} }`).join('\n')}
queue: { url: "${redis.url}/0", lease: ${options.leaseS ?? 10}s${options.waitAtStartS === undefined ? '' : `, wait_at_start: ${options.waitAtStartS}s`} }
upload: { to: "file://${dest}/{date}", key: "{id}/{file}" }
`;
  const configDir = writeConfigDir({ matrix, schedules: { nightly: schedule } });
  const date = `2031_01_${String(++nights).padStart(2, '0')}`;
  // --machine before the command, as in a machine's alias: the commands that read a night pass it over.
  const args = (machine: string) => ['--config', configDir, '--root', roots[machine]!, '--date', date];
  return {
    date,
    configDir,
    roots,
    dest,
    run(machine) {
      const child = execa('node', [CLI, '--machine', machine, 'run', ...args(machine)], { reject: false, env: { NIGHTSHIFT_REDIS_URL: '' } });
      children.push(child);
      return child;
    },
    // Through the reader every command uses: night.json and its journal.
    state: (machine) => readNightState(path.join(roots[machine]!, date, 'night.json')),
    async cli(machine, extra) {
      const result = await execa('node', [CLI, '--machine', machine, ...extra, ...args(machine)], { reject: false });
      return { exitCode: result.exitCode, stdout: result.stdout, stderr: result.stderr };
    },
  };
}

export async function until(condition: () => Promise<boolean>, what: string, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

/** Each machine's builds by status: id lists. */
export async function outcomes(night: Fleet, machines: string[]) {
  const all: { machine: string; id: string; status: string }[] = [];
  for (const machine of machines) for (const b of (await night.state(machine))?.builds ?? []) all.push({ machine, id: b.id, status: b.status });
  return all;
}

export const running = async (night: Fleet, machine: string) => ((await night.state(machine))?.builds ?? []).filter((b) => b.status === 'running').length;
export const ids = (count: number) => Array.from({ length: count }, (_, i) => `job_${String(i + 1).padStart(2, '0')}`);
