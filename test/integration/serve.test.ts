/**
 * `nightshift serve` in a real browser while a real night runs: the built CLI as processes (`run` with
 * host builds that wait for the test's go, `serve` on a free loopback port), Debian's Chromium through
 * playwright-core. The builds end when the test says so, so every step is seen, none is raced.
 */
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { execa, type ResultPromise } from 'execa';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeNightFixture, type NightFixture } from '../helpers/night-fixture.js';
import { startBrowser, PHONE, type TestBrowser } from '../helpers/browser.js';
import { startServe, type ServeProcess } from '../helpers/serve.js';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { openNightQueue, type NightQueue } from '../../src/queue/night-queue.js';
import { addDays } from '../../src/night/night-date.js';

const CLI = path.resolve(import.meta.dirname, '../../dist/cli.js');
const TOKEN = 'a-long-secret-token-3f9c0e1b';

let night: NightFixture;
let gate: string;
let env: NodeJS.ProcessEnv;
let runner: ResultPromise;
let serve: ServeProcess;
let browser: TestBrowser;
/** A second serve, with a token; and a third that must refuse to start. Started with the first, as the machine is shared. */
let guarded: ServeProcess;
let unguarded: ResultPromise<{ reject: false; timeout: number }>;
let badListen: ResultPromise<{ reject: false; timeout: number }>;
/** Serve for the same root with a schedule whose shared queue's Redis is down. */
let queueDown: ServeProcess;
/** And one whose shared queue is live on a real redis-server, where two machines took builds. */
let queueLive: ServeProcess;
let redis: RedisServer;
const queues: NightQueue[] = [];
const REDIS_PASSWORD = 'hunter2-redis-secret';
const yesterday = () => addDays(night.date, -1);
const args = () => ['--config', night.configDir, '--machine', 'm1'];
/** Lets a waiting build go on: it prints `text` and ends. */
const release = (id: string, text = 'released') => writeFile(path.join(gate, id), `${text}\n`);

beforeAll(async () => {
  night = await makeNightFixture({ executor: 'host', slots: 3 });
  gate = await mkdtemp(path.join(os.tmpdir(), 'nightshift-gate-'));
  const waitForGate = `echo "first line of $NIGHTSHIFT_BUILD_ID"\nwhile [ ! -e "${gate}/$NIGHTSHIFT_BUILD_ID" ]; do sleep 0.1; done\ncat "${gate}/$NIGHTSHIFT_BUILD_ID"\n`;
  await night.commit({ 'ok.sh': `${waitForGate}echo artifact > "$NIGHTSHIFT_OUT/pkg.whl"\n`, 'fail.sh': `${waitForGate}exit 3\n` }, 'builds that wait for the test');

  // The night before: ok_3.11_cpu failed, and ok_3.12_cpu wrote a log bigger than the page shows at once.
  const before = path.join(night.root, yesterday());
  await mkdir(path.join(before, 'logs', 'succeeded'), { recursive: true });
  const record = (id: string, python: string, status: string) => ({
    id,
    package: 'ok',
    axes: { python, cuda: 'cpu' },
    executor: 'host',
    image: null,
    status,
    order: 1,
    estimate_s: 600,
    attempt: 1,
  });
  // A reason with markup in it, as a build's output may put there: shown as text, never run.
  const builds = [{ ...record('ok_3.11_cpu', '3.11', 'failed'), reason: '<img src=x onerror="document.title=1">broken</img>' }, record('ok_3.12_cpu', '3.12', 'succeeded')];
  await writeFile(
    path.join(before, 'night.json'),
    JSON.stringify({ version: 1, date: yesterday(), machine: 'm1', schedule: 'nightly', updated_at: new Date().toISOString(), builds }),
  );
  const bigLog = Array.from({ length: 6000 }, (_, i) => `line ${String(i).padStart(5, '0')} ${'x'.repeat(40)}`).join('\n') + '\nthe last line\n';
  await writeFile(path.join(before, 'logs', 'succeeded', 'ok_3.12_cpu.log'), bigLog);
  // ok_3.11_cpu usually takes 10 minutes.
  const runs = [540, 600, 660].map((duration_s, i) => ({ date: addDays(night.date, -3 + i), duration_s, status: 'succeeded' }));
  await writeFile(path.join(night.root, 'history.json'), JSON.stringify({ version: 1, builds: { 'ok_3.11_cpu': runs } }));

  // An env file of our own (empty, root-only), so the machine's /etc/nightshift/env plays no part.
  const envFile = path.join(gate, 'env');
  await writeFile(envFile, '');
  await chmod(envFile, 0o600);
  env = { PATH: process.env.PATH, HOME: process.env.HOME, NIGHTSHIFT_ENV_FILE: envFile };

  runner = execa('node', [CLI, 'run', '--only', 'ok_*', '--only', 'bad_*', '--date', night.date, ...args()], { reject: false, env, extendEnv: false });
  const tokenFile = path.join(gate, 'serve.env');
  await writeFile(tokenFile, `# nightshift serve\nNIGHTSHIFT_SERVE_TOKEN=${TOKEN}\n`);
  await chmod(tokenFile, 0o600);
  unguarded = execa('node', [CLI, 'serve', '--listen', '0.0.0.0:0', ...args()], { reject: false, env, extendEnv: false, timeout: 60_000 });
  badListen = execa('node', [CLI, 'serve', '--listen', 'localhost', ...args()], { reject: false, env, extendEnv: false, timeout: 60_000 });
  const matrix = await readFile(path.join(night.configDir, 'matrix.yaml'), 'utf8');
  const schedule = await readFile(path.join(night.configDir, 'schedules', 'nightly.yaml'), 'utf8');
  const withQueue = (url: string) => writeConfigDir({ matrix, schedules: { nightly: `${schedule}queue: { url: "${url}" }\n` } });
  redis = await startRedis();
  await seedFleet(`${redis.url}/0`);
  // The password comes from the environment, as it does on a real machine; the page must never show it.
  const redisEnv = { ...env, NIGHTSHIFT_REDIS_URL: `redis://:${REDIS_PASSWORD}@127.0.0.1:${await closedPort()}/0` };
  [serve, guarded, queueDown, queueLive, browser] = await Promise.all([
    startServe(args(), env),
    // The token from the root-only env file, as a machine keeps it.
    startServe(args(), { ...env, NIGHTSHIFT_ENV_FILE: tokenFile }),
    startServe(['--config', withQueue(`redis://127.0.0.1:${await closedPort()}/0`)], redisEnv),
    startServe(['--config', withQueue(`${redis.url}/0`)], env),
    startBrowser(),
  ]);
});

afterAll(async () => {
  // Whatever a failed test left waiting ends, so the runner and its builds end too.
  for (const id of ['ok_3.11_cpu', 'ok_3.12_cpu', 'bad_3.12_cpu']) await release(id).catch(() => undefined);
  // Each is unset when the before-hook failed early.
  /* eslint-disable @typescript-eslint/no-unnecessary-condition */
  await serve?.stop();
  if (guarded?.process.exitCode === null) await guarded.stop();
  await unguarded;
  await badListen;
  await queueDown?.stop();
  await queueLive?.stop();
  for (const queue of queues) await queue.close();
  await redis?.stop();
  removeConfigDirs();
  await runner;
  await browser?.close();
  await night?.cleanup();
  /* eslint-enable @typescript-eslint/no-unnecessary-condition */
  await rm(gate, { recursive: true, force: true });
});

const cell = (page: Page, id: string) => page.locator(`.cell[data-id="${id}"]`);

describe('the night page', () => {
  it('shows builds running, then how they ended, without a reload', async () => {
    const page = await browser.page();
    // "/" is the newest night when tonight's date (by the clock) has none.
    await page.goto(serve.url);
    expect(page.url()).toBe(`${serve.url}nights/${night.date}`);
    await expect.poll(() => cell(page, 'ok_3.11_cpu').getAttribute('data-status')).toBe('running');
    await expect.poll(() => cell(page, 'bad_3.12_cpu').getAttribute('data-status')).toBe('running');
    // Durations against the usual, and the night before in the strip.
    await expect.poll(() => cell(page, 'ok_3.11_cpu').textContent()).toMatch(/\d+s \(usual 10m\)/);
    expect(
      await cell(page, 'ok_3.11_cpu')
        .locator('.strip i')
        .evaluateAll((marks) => marks.map((m): (string | null)[] => [m.getAttribute('class'), m.getAttribute('title')])),
    ).toEqual([['m-failed', `${yesterday()}: failed`]]);
    await page.evaluate(() => ((globalThis as unknown as { samePage: boolean }).samePage = true));

    await release('ok_3.11_cpu');
    await release('bad_3.12_cpu');
    await expect.poll(() => cell(page, 'ok_3.11_cpu').getAttribute('data-status'), { timeout: 15_000 }).toBe('succeeded');
    await expect.poll(() => cell(page, 'bad_3.12_cpu').getAttribute('data-status'), { timeout: 15_000 }).toBe('failed');
    expect(await page.evaluate(() => (globalThis as unknown as { samePage?: boolean }).samePage)).toBe(true);
    expect(await page.locator('#summary').textContent()).toMatch(/1 running.*1 succeeded.*1 failed/);
    await page.close();
  });

  it("follows a build's log: a line written after the page opened appears", async () => {
    const page = await browser.page();
    await page.goto(`${serve.url}nights/${night.date}/builds/ok_3.12_cpu`);
    await expect.poll(() => page.locator('#log').textContent()).toContain('first line of ok_3.12_cpu');
    await release('ok_3.12_cpu', 'written after the page opened');
    await expect.poll(() => page.locator('#log').textContent(), { timeout: 15_000 }).toContain('written after the page opened');
    await expect.poll(() => page.locator('#log-state').textContent(), { timeout: 15_000 }).toMatch(/ended \(succeeded\)/);
    // Each line once: the follower neither skipped nor repeated.
    expect((await page.locator('#log').textContent())!.match(/first line of ok_3\.12_cpu/g)).toHaveLength(1);
    expect((await runner).exitCode).toBe(1); // bad_3.12_cpu failed
    await page.close();
  });

  it('fits a phone: the grid scrolls in its own box, the page never sideways', async () => {
    const page = await browser.page(PHONE);
    await page.goto(`${serve.url}nights/${night.date}`);
    await page.locator('.cell').first().waitFor();
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    expect(await page.locator('#grid').evaluate((box) => getComputedStyle(box).overflowX)).toBe('auto');
    // The build page too, with its log.
    await page.goto(`${serve.url}nights/${night.date}/builds/ok_3.12_cpu`);
    await expect.poll(() => page.locator('#log-state').textContent()).toMatch(/ended/);
    expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
    await page.close();
  });

  it('starts a big log at its last 256 KiB and says so; log.txt streams all of it', async () => {
    const file = await readFile(path.join(night.root, yesterday(), 'logs', 'succeeded', 'ok_3.12_cpu.log'), 'utf8');
    const events = await readEvents(`${serve.url}nights/${yesterday()}/builds/ok_3.12_cpu/log`, 'end');
    expect(events[0]!.event).toBe('skipped');
    expect(JSON.parse(events[0]!.data)).toMatchObject({ size: file.length });
    const text = events
      .filter((e) => e.event === 'log')
      .map((e) => JSON.parse(e.data) as string)
      .join('');
    expect(text.length).toBeLessThanOrEqual(256 * 1024);
    expect(file.endsWith(text)).toBe(true);
    expect(text.startsWith('line ')).toBe(true); // from a whole line
    expect(JSON.parse(events.at(-1)!.data)).toEqual({ status: 'succeeded' });

    const whole = await fetch(`${serve.url}nights/${yesterday()}/builds/ok_3.12_cpu/log.txt`);
    expect(whole.status).toBe(200);
    expect(await whole.text()).toBe(file);
    const page = await browser.page();
    await page.goto(`${serve.url}nights/${yesterday()}/builds/ok_3.12_cpu`);
    await expect.poll(() => page.locator('#log-note').textContent()).toMatch(/last part only/);
    expect(await page.locator('#log-note a').getAttribute('href')).toBe(`/nights/${yesterday()}/builds/ok_3.12_cpu/log.txt`);
    await page.close();
  });

  it('answers JSON, 404 for what does not exist, and escapes what it shows', async () => {
    const json = (await (await fetch(`${serve.url}api/nights/${night.date}`)).json()) as { cells: { id: string; status: string; usual_s: number | null }[] };
    expect(json.cells.find((c) => c.id === 'ok_3.11_cpu')).toMatchObject({ status: 'succeeded', usual_s: 600 });
    expect((await fetch(`${serve.url}nights/2001_01_01`)).status).toBe(404);
    const missing = await fetch(`${serve.url}nights/${night.date}/builds/%3Cscript%3Ex`);
    expect(missing.status).toBe(404);
    const html = await missing.text();
    expect(html).toContain('&lt;script&gt;x');
    expect(html).not.toContain('<script>x');
    expect(await (await fetch(`${serve.url}healthz`)).text()).toBe('ok\n');
    const shown = await browser.page();
    await shown.goto(`${serve.url}nights/${yesterday()}/builds/ok_3.11_cpu`);
    await expect.poll(() => shown.locator('#build-facts').textContent()).toContain('<img src=x onerror="document.title=1">broken</img>');
    expect(await shown.locator('#build-facts img').count()).toBe(0);
    expect(await shown.title()).not.toBe('1');
    await shown.close();
    // The page runs its own script only (the browser tests above ran under this policy).
    const page = await fetch(`${serve.url}nights/${night.date}`);
    expect(page.headers.get('content-security-policy')).toMatch(/script-src 'sha256-[A-Za-z0-9+/=]+'/);
  });
});

describe('the fleet', () => {
  it('shows what runs where, what waits and what ended, from the shared queue', async () => {
    const page = await browser.page();
    await page.goto(`${queueLive.url}nights/${night.date}`);
    await expect.poll(() => page.locator('#fleet').textContent(), { timeout: 15_000 }).toMatch(/Running \(1\)bad_3\.12_cpu on m2 since \d\d:\d\d:\d\d/);
    const fleet = await page.locator('#fleet').textContent();
    expect(fleet).toMatch(/Waiting \(1\)ok_3\.12_cpu ~5m/);
    expect(fleet).toMatch(/Ended \(1\)failed ok_3\.11_cpu on m1/);
    expect(await page.locator('#fleet-section').isVisible()).toBe(true);
    await page.close();
  });

  it("says so when the shared queue's Redis cannot be reached, and still shows this machine's builds", async () => {
    const page = await browser.page();
    await page.goto(`${queueDown.url}nights/${night.date}`);
    await expect.poll(() => page.locator('#notice').textContent(), { timeout: 15_000 }).toMatch(/The shared queue cannot be read, so the fleet is not shown: cannot reach/);
    expect(await page.locator('#fleet-url').textContent()).toMatch(/\(redis:\/\/:\*\*\*@127\.0\.0\.1:\d+\/0\)/);
    expect(await cell(page, 'ok_3.11_cpu').getAttribute('data-status')).toBeTruthy();
    expect(await page.content()).not.toContain(REDIS_PASSWORD);
    expect(queueDown.output()).not.toContain(REDIS_PASSWORD);
    expect(queueDown.process.exitCode).toBeNull(); // still serving
    await page.close();
  });
});

describe('a token', () => {
  it('is needed for everything but /healthz, once: ?token= sets a cookie the links then use', async () => {
    const refused = await fetch(`${guarded.url}nights/${night.date}`);
    expect(refused.status).toBe(401);
    expect(await refused.text()).not.toContain(TOKEN);
    expect((await fetch(`${guarded.url}api/nights/${night.date}?token=wrong-token-123`)).status).toBe(401);
    expect((await fetch(`${guarded.url}healthz`)).status).toBe(200);
    expect((await fetch(`${guarded.url}api/nights/${night.date}`, { headers: { authorization: `Bearer ${TOKEN}` } })).status).toBe(200);

    const page = await browser.page();
    const first = await page.goto(`${guarded.url}nights/${night.date}?token=${TOKEN}`);
    expect(first?.status()).toBe(200);
    // The token left the address bar; the page works live through the cookie.
    expect(page.url()).toBe(`${guarded.url}nights/${night.date}`);
    await expect.poll(() => page.locator('#live').textContent()).toBe('live');
    expect(await page.content()).not.toContain(TOKEN);
    const [response] = await Promise.all([page.waitForResponse(`${guarded.url}nights/${night.date}/builds/ok_3.12_cpu`), cell(page, 'ok_3.12_cpu').click()]);
    expect(response.status()).toBe(200);
    await page.waitForURL(`${guarded.url}nights/${night.date}/builds/ok_3.12_cpu`);
    await expect.poll(() => page.locator('#log').textContent()).toContain('written after the page opened');
    await page.close();
    expect(guarded.output()).not.toContain(TOKEN);
  });

  it('SIGTERM ends serve with 0 while an event stream is open', async () => {
    const stream = await openEvents(`${guarded.url}api/nights/${night.date}/events`, { authorization: `Bearer ${TOKEN}` });
    await stream.firstEvent;
    const started = Date.now();
    expect(await guarded.stop()).toBe(0);
    expect(Date.now() - started).toBeLessThan(5000);
    await stream.ended; // the stream ended with the server, cleanly
    expect(guarded.output()).not.toContain(TOKEN);
  });
});

describe('listening beyond this machine', () => {
  it('without a token is a usage error that names the fix', async () => {
    const result = await unguarded;
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toMatch(/no token is set.*Set NIGHTSHIFT_SERVE_TOKEN/);
    const bad = await badListen;
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toMatch(/--listen "localhost" is not HOST:PORT; e\.g\. --listen 127\.0\.0\.1:8080/);
  });
});

/** Two machines at work on the night's shared queue: m2 runs bad_3.12_cpu, m1 failed ok_3.11_cpu, ok_3.12_cpu waits. */
async function seedFleet(url: string): Promise<void> {
  const open = async (machine: string) => {
    const queue = await openNightQueue({ url, schedule: 'nightly', date: night.date, machine, leaseMs: 60_000 });
    queues.push(queue);
    return queue;
  };
  const [m1, m2] = [await open('m1'), await open('m2')];
  await m1.addNight([
    { id: 'bad_3.12_cpu', estimateS: 900, needs: {} },
    { id: 'ok_3.11_cpu', estimateS: 600, needs: {} },
    { id: 'ok_3.12_cpu', estimateS: 300, needs: {} },
  ]);
  await m2.take(() => true);
  const failed = await m1.take(() => true);
  await m1.fail(failed!, { status: 'failed', machine: 'm1', finished_at: new Date().toISOString() });
}

/** A loopback port nothing listens on (it was free a moment ago). */
async function closedPort(): Promise<number> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return port;
}

interface SseEvent {
  event: string;
  data: string;
}

/** The events of a stream until one named `until` (or the stream ends). */
async function readEvents(url: string, until: string): Promise<SseEvent[]> {
  const response = await fetch(url);
  expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
  const events: SseEvent[] = [];
  let text = '';
  const decoder = new TextDecoder();
  for await (const chunk of response.body!) {
    text += decoder.decode(chunk, { stream: true });
    let end: number;
    while ((end = text.indexOf('\n\n')) >= 0) {
      const block = text.slice(0, end);
      text = text.slice(end + 2);
      const event = /^event: (.*)$/m.exec(block)?.[1];
      if (!event) continue;
      events.push({ event, data: [...block.matchAll(/^data: (.*)$/gm)].map((m) => m[1]).join('\n') });
      if (event === until) return events;
    }
  }
  return events;
}

/** An event stream held open with node's http: resolves on its first event and on its end. */
function openEvents(url: string, headers: Record<string, string>): Promise<{ firstEvent: Promise<void>; ended: Promise<void> }> {
  return new Promise((resolve, reject) => {
    http
      .get(url, { headers }, (response) => {
        expect(response.statusCode).toBe(200);
        const firstEvent = new Promise<void>((seen) => response.on('data', (chunk: Buffer) => chunk.includes('event: night') && seen()));
        const ended = new Promise<void>((done) => response.on('close', done));
        resolve({ firstEvent, ended });
      })
      .on('error', reject);
  });
}
