// Both executors for real: Docker with the local busybox image (network none) and the host with
// /bin/sh. Exit codes, env, artifacts, timeouts and cancels that really kill, start errors, and logs
// written straight to the file. Fails (never skips) without Docker.
import { createHash, randomUUID } from 'node:crypto';
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { mkdir, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listArtifacts } from '../../src/build/artifacts.js';
import { DockerExecutor, removeContainers } from '../../src/build/docker-executor.js';
import type { ExecuteOptions, ExecuteResult, Executor } from '../../src/build/executor.js';
import { HostExecutor } from '../../src/build/host-executor.js';
import { TEST_IMAGE, containersWithLabel, docker, dockerAvailable, removeContainersWithLabel } from '../helpers/docker.js';
import { processesWith } from '../helpers/processes.js';

const HEADER = 'nightshift: header written by the runner\n';
const ids: string[] = [];
const dirs: string[] = [];
const fds: number[] = [];

interface Build {
  options: ExecuteOptions;
  log: string;
  controller: AbortController;
}

/** A build like the runner prepares it: its own folders, a recipe, a log opened write-only. */
async function prepare(kind: 'docker' | 'host', script: string, extra: Partial<ExecuteOptions> = {}): Promise<Build> {
  const id = `itest_${kind}_${randomUUID().slice(0, 8)}`;
  ids.push(id);
  const dir = await mkdtemp(join(tmpdir(), 'nightshift-exec-'));
  dirs.push(dir);
  const recipes = join(dir, 'recipes');
  await mkdir(recipes);
  await writeFile(join(recipes, 'recipe.txt'), 'the recipe\n');
  const log = join(dir, `${id}.log`);
  const logFd = openSync(log, 'w');
  fds.push(logFd);
  writeSync(logFd, HEADER);
  const controller = new AbortController();
  const options: ExecuteOptions = {
    id,
    date: '2026_11_22',
    machine: 'test-machine',
    root: dir,
    command: ['/bin/sh', '-c', script],
    env: { NIGHTSHIFT_BUILD_ID: id, TRICKY: 'a=b c "d"', EMPTY: '' },
    ...(kind === 'docker' ? { image: TEST_IMAGE, network: 'none' } : {}),
    resources: {},
    recipesDir: recipes,
    outDir: join(dir, 'artifacts', id),
    workDir: join(dir, 'work', id),
    logFd,
    timeoutMs: 60_000,
    signal: controller.signal,
    ...extra,
  };
  return { options, log, controller };
}

async function logText(build: Build): Promise<string> {
  return (await readFile(build.log, 'utf8')).slice(HEADER.length);
}

async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const exists = (file: string) =>
  stat(file).then(
    () => true,
    () => false,
  );

/** Gone, or a zombie nobody reaps (PID 1 here does not). */
async function processGone(pid: number): Promise<boolean> {
  const text = await readFile(`/proc/${pid}/stat`, 'utf8').catch(() => undefined);
  return text === undefined || text.slice(text.lastIndexOf(')') + 2).startsWith('Z');
}

/** The command ran and exited with this code. */
function expectExit(result: ExecuteResult, exitCode: number): void {
  expect({ ...result, durationMs: 0 }).toEqual({ exitCode, timedOut: false, canceled: false, durationMs: 0 });
}

const executors: Record<'docker' | 'host', Executor> = { docker: new DockerExecutor(), host: new HostExecutor() };

beforeEach(async () => {
  ready ??= dockerAvailable();
  await ready;
});
let ready: Promise<void> | undefined;

afterEach(async () => {
  for (const id of ids.splice(0)) await removeContainers({ 'nightshift.build': id });
  for (const fd of fds.splice(0)) closeSync(fd);
  for (const dir of dirs.splice(0)) await rm(dir, { recursive: true, force: true });
});

describe.each(['docker', 'host'] as const)('%s executor (integration)', (kind) => {
  const executor = executors[kind];

  it('runs a build: env visible, recipes readable, artifacts in NIGHTSHIFT_OUT, output in the log', async () => {
    const build = await prepare(
      kind,
      [
        'echo "id=$NIGHTSHIFT_BUILD_ID tricky=$TRICKY empty=${EMPTY-unset}"',
        'cat "$NIGHTSHIFT_RECIPES/recipe.txt"',
        'echo to-stderr >&2',
        'mkdir -p "$NIGHTSHIFT_OUT/sub" && printf wheel > "$NIGHTSHIFT_OUT/sub/a.whl" && printf x > "$NIGHTSHIFT_OUT/B.txt"',
      ].join('\n'),
    );
    const result = await executor.run(build.options);
    expectExit(result, 0);
    expect(result.durationMs).toBeGreaterThan(0);
    const { id } = build.options;
    // Docker carries stdout and stderr as two streams: their interleaving is not kept, only each one's order.
    const lines = (await logText(build)).split('\n');
    expect(lines.filter((line) => line !== 'to-stderr')).toEqual([`id=${id} tricky=a=b c "d" empty=`, 'the recipe', '']);
    expect(lines).toContain('to-stderr');
    expect(await listArtifacts(build.options.outDir)).toEqual([
      { file: 'B.txt', size: 1, sha256: '2d711642b726b04401627ca9fbac32f5c8530fb1903cc4db02258717921a4881' },
      { file: 'sub/a.whl', size: 5, sha256: 'ba59926159d2aa256eb8739b8da7e2b574b960e1202c6d624cbe981cef996c91' },
    ]);
  });

  it("reports a failing command's exit code", async () => {
    const build = await prepare(kind, 'echo failing; exit 3');
    expectExit(await executor.run(build.options), 3);
    expect(await logText(build)).toBe('failing\n');
  });

  it('kills a build that outlives its timeout', async () => {
    const build = await prepare(kind, 'echo started; sleep 300', { timeoutMs: 1500 });
    const started = Date.now();
    const result = await executor.run(build.options);
    expect(result).toMatchObject({ exitCode: null, timedOut: true, canceled: false });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(result.durationMs).toBeGreaterThanOrEqual(1400);
    if (kind === 'docker') expect(await containersWithLabel(`nightshift.build=${build.options.id}`)).toEqual([]);
  });

  it('kills a canceled build, grandchildren included', async () => {
    const build = await prepare(kind, 'sleep 300 & echo $! > "$NIGHTSHIFT_OUT/pid"; wait');
    const running = executor.run(build.options);
    const pidFile = join(build.options.outDir, 'pid');
    await waitFor('the build to start', () => exists(pidFile));
    build.controller.abort();
    const result = await running;
    expect(result).toMatchObject({ exitCode: null, timedOut: false, canceled: true });
    if (kind === 'docker') {
      expect(await containersWithLabel(`nightshift.build=${build.options.id}`)).toEqual([]);
    } else {
      // The pid the build wrote is its own namespace's: find its processes by their environment instead.
      expect(processesWith(`NIGHTSHIFT_BUILD_ID=${build.options.id}`)).toEqual([]);
    }
  });

  it('does not start a build whose signal is already aborted', async () => {
    const build = await prepare(kind, 'echo ran > "$NIGHTSHIFT_OUT/ran"');
    build.controller.abort();
    expect(await executor.run(build.options)).toMatchObject({ exitCode: null, canceled: true });
    expect(await exists(join(build.options.outDir, 'ran'))).toBe(false);
  });

  it('cancels a build aborted while it is being set up', async () => {
    const build = await prepare(kind, 'sleep 300');
    const running = executor.run(build.options);
    build.controller.abort();
    const started = Date.now();
    expect(await running).toMatchObject({ exitCode: null, canceled: true });
    expect(Date.now() - started).toBeLessThan(8000);
    if (kind === 'docker') expect(await containersWithLabel(`nightshift.build=${build.options.id}`)).toEqual([]);
  });

  it('writes huge output to the log byte-complete', async () => {
    const size = 50 * 1024 * 1024;
    const build = await prepare(kind, `yes nightshift | head -c ${size}`);
    expectExit(await executor.run(build.options), 0);
    expect((await stat(build.log)).size).toBe(HEADER.length + size);
  });
});

describe('docker executor specifics (integration)', () => {
  const executor = executors.docker;

  it('mounts the recipes read-only at /recipes', async () => {
    const build = await prepare('docker', 'test "$NIGHTSHIFT_RECIPES" = /recipes && test "$NIGHTSHIFT_OUT" = /out && echo tampered > /recipes/new.txt');
    const result = await executor.run(build.options);
    expect(result.exitCode).not.toBe(0);
    expect(result.startError).toBeUndefined();
    expect(await logText(build)).toMatch(/read-only/i);
    expect(await readdir(build.options.recipesDir)).toEqual(['recipe.txt']);
  });

  it('reports an image that is not there and cannot be pulled as a start error', async () => {
    const image = `127.0.0.1:1/nightshift-missing-${randomUUID().slice(0, 8)}:latest`;
    const build = await prepare('docker', 'true', { image });
    const result = await executor.run(build.options);
    expect(result).toMatchObject({ exitCode: null, timedOut: false, canceled: false });
    expect(result.startError).toContain(`image ${image} is not on this machine and could not be pulled: `);
    expect(result.startError).toMatch(/connection refused/);
  });

  it("reports docker's own refusal (exit 125) with its message", async () => {
    const build = await prepare('docker', 'true', { network: 'nightshift-no-such-network' });
    const result = await executor.run(build.options);
    expect(result.exitCode).toBeNull();
    expect(result.startError).toMatch(/network nightshift-no-such-network not found/);
  });

  it('times out a build whose container does not exist yet, and still removes it', async () => {
    const build = await prepare('docker', 'sleep 300', { timeoutMs: 1 });
    const started = Date.now();
    expect(await executor.run(build.options)).toMatchObject({ exitCode: null, timedOut: true });
    expect(Date.now() - started).toBeLessThan(8000);
    expect(await containersWithLabel(`nightshift.build=${build.options.id}`)).toEqual([]);
  });

  it('reports a docker client that cannot be found as a start error', async () => {
    const build = await prepare('docker', 'true');
    const result = await new DockerExecutor({ docker: '/nonexistent/docker' }).run(build.options);
    expect(result).toMatchObject({ exitCode: null, timedOut: false, canceled: false });
    expect(result.startError).toMatch(/\/nonexistent\/docker not found/);
  });

  it('reports a command missing from the image as a start error', async () => {
    const build = await prepare('docker', '', { command: ['nightshift-no-such-command'] });
    const result = await executor.run(build.options);
    expect(result.exitCode).toBeNull();
    expect(result.startError).toMatch(/could not be run in image .*nightshift-no-such-command/);
  });
});

describe('host executor specifics (integration)', () => {
  const executor = executors.host;

  it('reports a command that does not exist as a start error', async () => {
    const build = await prepare('host', '', { command: ['nightshift-no-such-command', '--flag'] });
    const result = await executor.run(build.options);
    expect(result).toMatchObject({ exitCode: null, timedOut: false, canceled: false, startError: 'command not found: nightshift-no-such-command' });
  });

  it('runs in a fresh copy of the recipes; the shared clone stays untouched', async () => {
    const build = await prepare('host', 'pwd; echo "$NIGHTSHIFT_RECIPES"; readlink link.txt; echo changed > recipe.txt; echo new > new.txt');
    await symlink('recipe.txt', join(build.options.recipesDir, 'link.txt'));
    await mkdir(build.options.workDir, { recursive: true });
    await writeFile(join(build.options.workDir, 'stale.txt'), 'from an earlier run');
    expectExit(await executor.run(build.options), 0);
    // The relative link stays relative: it must not lead back into the shared clone.
    expect(await logText(build)).toBe(`${build.options.workDir}\n${build.options.workDir}\nrecipe.txt\n`);
    expect((await readdir(build.options.workDir)).sort()).toEqual(['link.txt', 'new.txt', 'recipe.txt']);
    expect(await readFile(join(build.options.recipesDir, 'recipe.txt'), 'utf8')).toBe('the recipe\n');
  });

  it("ends a finished build's background jobs with it, as a container would", async () => {
    const build = await prepare('host', 'sleep 300 & echo $! > "$NIGHTSHIFT_OUT/pid"; exit 0');
    expectExit(await executor.run(build.options), 0);
    expect(await exists(join(build.options.outDir, 'pid'))).toBe(true);
    expect(processesWith(`NIGHTSHIFT_BUILD_ID=${build.options.id}`)).toEqual([]);
  });

  // A daemon that left the process group (setsid, double fork) used to run on after the build and the night.
  const escapee = `setsid sh -c 'sleep 1; touch "$NIGHTSHIFT_OUT/late"' & (setsid sh -c 'sleep 1; touch "$NIGHTSHIFT_OUT/late2"' &) ; sleep 0.3; echo started`;

  it("ends a finished build's setsid and double-forked children with it (PID namespace)", async () => {
    const build = await prepare('host', escapee);
    expectExit(await executor.run(build.options), 0);
    expect(processesWith(`NIGHTSHIFT_BUILD_ID=${build.options.id}`)).toEqual([]);
    await new Promise((r) => setTimeout(r, 1500));
    expect(await readdir(build.options.outDir)).toEqual([]);
  });

  it("kills a timed-out build's setsid children too, and removes its pid file", async () => {
    const build = await prepare('host', `${escapee}; sleep 300`, { timeoutMs: 1000 });
    const running = executor.run(build.options);
    await waitFor('the pid file', () => exists(`${build.options.workDir}.pid`));
    const tracked = JSON.parse(await readFile(`${build.options.workDir}.pid`, 'utf8')) as { containment: string; pid: number };
    expect(tracked.containment).toBe('pid-namespace');
    expect(await running).toMatchObject({ exitCode: null, timedOut: true });
    expect(processesWith(`NIGHTSHIFT_BUILD_ID=${build.options.id}`)).toEqual([]);
    expect(await exists(`${build.options.workDir}.pid`)).toBe(false);
  });

  it('kills what an earlier runner left of the build (by its pid file) before it starts again', async () => {
    // The leftover: a build whose runner died, in its own process group, recorded in the pid file.
    const build = await prepare('host', 'echo rerun > "$NIGHTSHIFT_OUT/rerun.whl"');
    const marker = `NIGHTSHIFT_BUILD_ID=${build.options.id}`;
    await mkdir(build.options.outDir, { recursive: true });
    const orphan = spawn('sh', ['-c', `while :; do date >> "${build.options.outDir}/late"; sleep 0.05; done`], {
      detached: true,
      stdio: 'ignore',
      env: { ...process.env, NIGHTSHIFT_BUILD_ID: build.options.id },
    });
    await mkdir(join(build.options.workDir, '..'), { recursive: true });
    const start = Number(readFileSync(`/proc/${orphan.pid!}/stat`, 'utf8').split(') ')[1]!.split(' ')[19]);
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    await writeFile(`${build.options.workDir}.pid`, JSON.stringify({ containment: 'process-group', pid: orphan.pid, start, boot }));
    await waitFor('the orphan to write', () => exists(join(build.options.outDir, 'late')));
    expect(processesWith(marker).length).toBeGreaterThan(0);
    orphan.unref();

    expectExit(await executor.run(build.options), 0);
    expect(processesWith(marker)).toEqual([]);
    // The runner empties the artifact folder after this kill; nothing writes into it any more.
    await rm(join(build.options.outDir, 'late'));
    await new Promise((r) => setTimeout(r, 300));
    expect(await readdir(build.options.outDir)).toEqual(['rerun.whl']);
  });

  it('never kills a process that merely reuses a recorded pid', async () => {
    const build = await prepare('host', 'true');
    const bystander = spawn('sleep', ['30'], { detached: true, stdio: 'ignore' });
    await mkdir(join(build.options.workDir, '..'), { recursive: true });
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    await writeFile(`${build.options.workDir}.pid`, JSON.stringify({ containment: 'process-group', pid: bystander.pid, start: 1, boot }));
    try {
      expectExit(await executor.run(build.options), 0);
      expect(await processGone(bystander.pid!)).toBe(false);
    } finally {
      bystander.kill('SIGKILL');
    }
  });

  it('without a PID namespace, falls back to the process group and warns once', async () => {
    const warnings: string[] = [];
    const fallback = new HostExecutor({ namespace: () => Promise.resolve({ why: 'a PID namespace is not permitted here (test)' }), warn: (line) => warnings.push(line) });
    const builds = [await prepare('host', 'sleep 300 & echo $! > "$NIGHTSHIFT_OUT/pid"; exit 0'), await prepare('host', escapee)];
    for (const build of builds) expectExit(await fallback.run(build.options), 0);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toMatch(/process group only: a PID namespace is not permitted here \(test\); a child that leaves the group is found only by its environment/);
    // setsid children left the group but still carry the build's environment: found and killed too.
    for (const build of builds) expect(processesWith(`NIGHTSHIFT_BUILD_ID=${build.options.id}`)).toEqual([]);
    // Outside a namespace the pid is the host's: the background job died with its group.
    const pid = Number((await readFile(join(builds[0]!.options.outDir, 'pid'), 'utf8')).trim());
    expect(await processGone(pid)).toBe(true);
    expect(await logText(builds[1]!)).toMatch(/^nightshift: host builds run in a process group only/);
  });

  it('reports recipes that cannot be copied as a start error', async () => {
    const build = await prepare('host', 'true', { recipesDir: join(tmpdir(), `nightshift-none-${randomUUID()}`) });
    const result = await executor.run(build.options);
    expect(result).toMatchObject({ exitCode: null, canceled: false, timedOut: false });
    expect(result.startError).toMatch(/could not prepare the work folder/);
  });

  it('gives parallel builds separate work folders', async () => {
    const script = 'cat recipe.txt; echo "$NIGHTSHIFT_BUILD_ID" > recipe.txt; sleep 0.3; cat recipe.txt';
    const [a, b] = [await prepare('host', script), await prepare('host', script)];
    b.options.recipesDir = a.options.recipesDir; // one night, one clone
    const results = await Promise.all([executor.run(a.options), executor.run(b.options)]);
    for (const result of results) expectExit(result, 0);
    expect(await logText(a)).toBe(`the recipe\n${a.options.id}\n`);
    expect(await logText(b)).toBe(`the recipe\n${b.options.id}\n`);
  });

  it("keeps nightshift's secrets from host builds", async () => {
    const added = { NIGHTSHIFT_SMTP_URL: 'smtp://user:pass@mail', AWS_SECRET_ACCESS_KEY: 'secret', NIGHTSHIFT_TEST_VISIBLE: 'visible' };
    const saved = Object.fromEntries(Object.keys(added).map((name) => [name, process.env[name]]));
    Object.assign(process.env, added);
    try {
      const build = await prepare('host', 'echo "${NIGHTSHIFT_SMTP_URL-none} ${AWS_SECRET_ACCESS_KEY-none} $NIGHTSHIFT_TEST_VISIBLE"');
      expectExit(await executor.run(build.options), 0);
      expect(await logText(build)).toBe('none none visible\n');
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- process.env is the environment: delete unsets a variable
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe('removeContainers (integration)', () => {
  it('removes the containers carrying all the labels, and no other', async () => {
    const night = `itest-${randomUUID().slice(0, 8)}`;
    const other = `nightshift.test=${randomUUID()}`;
    const create = (...labels: string[]) => docker(['create', '--network', 'none', ...labels.flatMap((l) => ['--label', l]), TEST_IMAGE, 'true']);
    try {
      expect((await create(`nightshift.night=${night}`, 'nightshift.machine=m1')).exitCode).toBe(0);
      expect((await create(`nightshift.night=${night}`, 'nightshift.machine=m2', other)).exitCode).toBe(0);
      expect(await removeContainers({ 'nightshift.night': night, 'nightshift.machine': 'm1' })).toHaveLength(1);
      expect(await containersWithLabel(`nightshift.night=${night}`)).toHaveLength(1);
      expect(await removeContainers({ 'nightshift.night': night })).toHaveLength(1);
      expect(await containersWithLabel(`nightshift.night=${night}`)).toEqual([]);
      expect(await removeContainers({ 'nightshift.night': night })).toEqual([]);
    } finally {
      await removeContainersWithLabel(`nightshift.night=${night}`);
    }
  });
});

describe('listArtifacts', () => {
  it('lists regular files recursively, sorted, with streamed sha256; symlinks (to files or folders) are not followed', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'nightshift-artifacts-'));
    dirs.push(dir);
    const big = Buffer.alloc(5 * 1024 * 1024 + 7, 'nightshift');
    await mkdir(join(dir, 'z/deep'), { recursive: true });
    await writeFile(join(dir, 'z/deep/big.tar'), big);
    await writeFile(join(dir, 'a.whl'), '');
    await symlink('/etc/passwd', join(dir, 'link'));
    // A folder that is a link leads outside: nothing under it is the build's.
    const outside = await mkdtemp(join(tmpdir(), 'nightshift-outside-'));
    dirs.push(outside);
    await writeFile(join(outside, 'secret.whl'), "not the build's");
    await symlink(outside, join(dir, 'linked-dir'));
    expect(await listArtifacts(dir)).toEqual([
      { file: 'a.whl', size: 0, sha256: createHash('sha256').update('').digest('hex') },
      { file: 'z/deep/big.tar', size: big.length, sha256: createHash('sha256').update(big).digest('hex') },
    ]);
  });

  it('finds nothing in a folder that does not exist', async () => {
    expect(await listArtifacts(join(tmpdir(), `nightshift-none-${randomUUID()}`))).toEqual([]);
  });
});
