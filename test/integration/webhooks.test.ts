/**
 * The morning summary to incoming webhooks end to end: two nights of manifests from three machines at a
 * file:// destination, `nightshift report --send` posting to a real HTTP server on 127.0.0.1 (the way
 * Slack and Mattermost take it), the webhook URLs from the environment and from a mode-600 env file.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { runCli, type CliResult } from '../helpers/run-cli.js';
import { closedPort, startSmtpServer } from '../helpers/smtp.js';
import { NightshiftError } from '../../src/errors.js';
import { postWebhook } from '../../src/report/webhook-post.js';
import type { Destination } from '../../src/store/destination.js';
import type { Manifest } from '../../src/store/manifest.js';
import { openDestination } from '../../src/store/open.js';
import { storyManifest } from '../helpers/story-manifest.js';

const NIGHTS = ['2026_11_21', '2026_11_22'] as const;
const TONIGHT = '2026_11_22';
const SECRET_PATH = '/hooks/T000/B000/s3cr3t-t0ken';

interface Received {
  path: string;
  contentType: string | undefined;
  body: string;
}

/** An incoming-webhook endpoint: answers each POST with the next scripted status (200 "ok" once the script is used up). */
interface Hook {
  url: string;
  host: string;
  received: Received[];
  /** Statuses for the next requests, in order. */
  script: number[];
  close(): Promise<void>;
}

async function startHook(): Promise<Hook> {
  const received: Received[] = [];
  const script: number[] = [];
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      received.push({ path: request.url ?? '', contentType: request.headers['content-type'], body: Buffer.concat(chunks).toString('utf8') });
      const status = script.shift() ?? 200;
      response.writeHead(status, { 'content-type': 'text/plain' }).end(status === 200 ? 'ok' : status === 403 ? 'invalid_token' : 'internal error');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}${SECRET_PATH}`,
    host: `127.0.0.1:${port}`,
    received,
    script,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

let work: string;
let root: string;
let envFile: string;
let configDir: string;
let destination: Destination;
let plan: { id: string; machine: string; package: string }[];
const role = { stillFailing: '', newlyBroken: '', fixed: '' };
const hooks: Hook[] = [];

const MATRIX = `recipes: { repo: "https://example.com/recipes.git" }
axes:
  python: ["3.11", "3.12"]
  cuda: [cpu, cu126]
packages:
  wheel: { image: "img:{cuda}", command: [build] }
`;

const schedule = (nightRoot: string, report: string) => `cron: "5 0 * * *"
root: "${nightRoot}"
machines:
  m0: { slots: 2 }
  m1: { slots: 2 }
  m2: { slots: 2 }
upload:
  to: "file://${work}/published/"
report:
  cron: "0 7 * * *"
  log_url: "https://nightlies.example.com/{key}"
${report}`;

function manifestFor(date: string, night: number, machine: string, story: Record<string, string[]>): Manifest {
  return storyManifest({ date, night, machine, plan, story, destination: destination.url });
}

beforeAll(async () => {
  work = await mkdtemp(path.join(os.tmpdir(), 'nightshift-webhooks-'));
  root = path.join(work, 'nights');
  envFile = path.join(work, 'env');
  // Hermetic: never the machine's own /etc/nightshift/env.
  await writeFile(envFile, '# nightshift secrets\n', { mode: 0o600 });
  process.env.NIGHTSHIFT_ENV_FILE = envFile;
  configDir = writeConfigDir({ matrix: MATRIX, schedules: { nightly: schedule(root, '  webhooks: [NIGHTSHIFT_TEST_HOOK]\n') } });
  destination = await openDestination({ url: `file://${work}/published/` });
  plan = (JSON.parse((await runCli(['plan', '--all-machines', '--json', '--config', configDir])).stdout) as { builds: typeof plan }).builds;

  // m2 published last night but not tonight: the machine that did not report.
  const reporting = plan.filter((b) => b.machine !== 'm2');
  expect(reporting.length).toBeGreaterThanOrEqual(3);
  [role.stillFailing, role.newlyBroken, role.fixed] = reporting.slice(0, 3).map((b) => b.id) as [string, string, string];
  const story: Record<string, string[]> = { [role.stillFailing]: ['failed', 'failed'], [role.newlyBroken]: ['succeeded', 'failed'], [role.fixed]: ['failed', 'succeeded'] };
  for (const [night, date] of NIGHTS.entries()) {
    for (const machine of date === TONIGHT ? ['m0', 'm1'] : ['m0', 'm1', 'm2']) {
      const body = JSON.stringify(manifestFor(date, night, machine, story));
      await destination.putBytes(`nightshift/nights/${date}/${machine}/manifest.json`, body, { sha256: createHash('sha256').update(body).digest('hex') });
    }
  }
}, 60_000);

afterEach(async () => {
  delete process.env.NIGHTSHIFT_TEST_HOOK;
  delete process.env.NIGHTSHIFT_SMTP_URL;
  await Promise.all(hooks.splice(0).map((hook) => hook.close()));
});

afterAll(async () => {
  delete process.env.NIGHTSHIFT_ENV_FILE;
  await rm(work, { recursive: true, force: true });
  removeConfigDirs();
});

async function hook(): Promise<Hook> {
  const started = await startHook();
  hooks.push(started);
  return started;
}

const report = (dir: string, ...args: string[]) => runCli(['report', '--config', dir, '--machine', 'm0', '--date', TONIGHT, ...args]);

/** Everything nightshift wrote about the night: its output and every file of the night folder. */
async function everythingSaid(nightRoot: string, ...results: CliResult[]): Promise<string> {
  const dir = path.join(nightRoot, TONIGHT);
  const files = existsSync(dir) ? await readdir(dir) : [];
  const contents = await Promise.all(files.map((file) => readFile(path.join(dir, file), 'utf8')));
  return [...results.flatMap((result) => [result.stdout, result.stderr]), ...contents].join('\n');
}

describe('nightshift report --send to webhooks', () => {
  it('posts the summary once as JSON { text }; a second --send does not post again, --resend does; the URL is never shown', async () => {
    const endpoint = await hook();
    process.env.NIGHTSHIFT_TEST_HOOK = endpoint.url;

    const first = await report(configDir, '--send');
    expect(first.stderr).toBe('');
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toContain(`posted to webhook NIGHTSHIFT_TEST_HOOK (${endpoint.host})`);
    expect(endpoint.received).toHaveLength(1);
    const { path: posted, contentType, body } = endpoint.received[0]!;
    expect(posted).toBe(SECRET_PATH);
    expect(contentType).toBe('application/json');
    const payload = JSON.parse(body) as { text: string };
    expect(Object.keys(payload)).toEqual(['text']);
    expect(payload.text).toMatch(new RegExp(`^nightshift nightly ${TONIGHT}: 2 of ${plan.length} builds failed, 1 machine did not report`));
    expect(payload.text).toMatch(
      new RegExp(
        `Newly broken \\(1\\):\\n• \`${role.newlyBroken}\` failed: exit code 2 on m\\d <https://nightlies\\.example\\.com/nightshift/nights/${TONIGHT}/m\\d/logs/${role.newlyBroken}\\.log\\|log>`,
      ),
    );
    expect(payload.text).toContain(`\`${role.stillFailing}\` since ${NIGHTS[0]} (2 nights)`);
    expect(payload.text).toMatch(new RegExp(`Fixed \\(1\\):\\n• \`${role.fixed}\``));
    expect(payload.text).toMatch(/Machines that did not report \(1\):\n• m2 \(\d+ builds? missing\)/);

    const again = await report(configDir, '--send');
    expect(again.exitCode).toBe(0);
    expect(again.stdout).toMatch(/webhook NIGHTSHIFT_TEST_HOOK: already posted at \S+; --resend posts it again/);
    expect(endpoint.received).toHaveLength(1);

    const resent = await report(configDir, '--resend');
    expect(resent.exitCode).toBe(0);
    expect(endpoint.received).toHaveLength(2);
    expect(endpoint.received[1]!.body).toBe(body);

    const said = await everythingSaid(root, first, again, resent);
    expect(said).toContain('NIGHTSHIFT_TEST_HOOK');
    expect(said).not.toContain('s3cr3t');
    expect(said).not.toContain(SECRET_PATH);
  });

  it('retries a 500 and delivers once; a 403 fails at once with exit 4, naming the variable and host but not the URL', async () => {
    await rm(path.join(root, TONIGHT), { recursive: true, force: true });
    const endpoint = await hook();
    process.env.NIGHTSHIFT_TEST_HOOK = endpoint.url;
    endpoint.script.push(500);

    const retried = await report(configDir, '--send');
    expect(retried.exitCode).toBe(0);
    expect(retried.stderr).toContain('warning: webhook NIGHTSHIFT_TEST_HOOK: attempt 1 failed (HTTP 500 (internal error)), trying again');
    expect(endpoint.received).toHaveLength(2);
    expect(endpoint.received[1]!.body).toBe(endpoint.received[0]!.body);
    const record = JSON.parse(await readFile(path.join(root, TONIGHT, 'report.webhooks.json'), 'utf8')) as Record<string, { sent_at: string; host: string }>;
    expect(Object.keys(record)).toEqual(['NIGHTSHIFT_TEST_HOOK']);
    expect(record.NIGHTSHIFT_TEST_HOOK!.host).toBe(endpoint.host);
    expect(Date.parse(record.NIGHTSHIFT_TEST_HOOK!.sent_at)).toBeGreaterThan(Date.now() - 60_000);

    endpoint.script.push(403);
    const refused = await report(configDir, '--resend');
    expect(refused.exitCode).toBe(4);
    expect(refused.stderr).toContain(`could not post the report to the webhook in NIGHTSHIFT_TEST_HOOK (${endpoint.host}) after 1 attempt: HTTP 403 (invalid_token)`);
    expect(endpoint.received).toHaveLength(3);
    expect(await everythingSaid(root, retried, refused)).not.toContain('s3cr3t');
  });

  it('takes a URL from the env file, warns about an unset variable and still posts to the others', async () => {
    const endpoint = await hook();
    await writeFile(envFile, `# nightshift secrets\nNIGHTSHIFT_FILE_HOOK="${endpoint.url}?from=file"\n`);
    const nightRoot = path.join(work, 'env-file-nights');
    const dir = writeConfigDir({ matrix: MATRIX, schedules: { nightly: schedule(nightRoot, '  webhooks: [NIGHTSHIFT_UNSET_HOOK, NIGHTSHIFT_FILE_HOOK]\n') } });
    try {
      const result = await report(dir, '--send');
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toBe(`nightshift: warning: webhook NIGHTSHIFT_UNSET_HOOK is not set in the environment or in ${envFile}: the summary was not posted to it\n`);
      expect(result.stdout).toContain(`posted to webhook NIGHTSHIFT_FILE_HOOK (${endpoint.host})`);
      expect(endpoint.received.map((r) => r.path)).toEqual([`${SECRET_PATH}?from=file`]);
      expect(await everythingSaid(nightRoot, result)).not.toContain('s3cr3t');
    } finally {
      await writeFile(envFile, '# nightshift secrets\n');
    }
  });

  it('refuses an env file others can read, naming it and the chmod', async () => {
    const dir = writeConfigDir({ matrix: MATRIX, schedules: { nightly: schedule(path.join(work, 'open-env-nights'), '  webhooks: [NIGHTSHIFT_FILE_HOOK]\n') } });
    await chmod(envFile, 0o644);
    try {
      const result = await report(dir, '--send');
      expect(result.exitCode).toBe(2);
      expect(result.stderr).toContain(`refusing to read ${envFile}`);
      expect(result.stderr).toContain(`chmod 600 ${envFile}`);
    } finally {
      await chmod(envFile, 0o600);
    }
  });

  it('the mail and the webhooks do not stop each other: either one failing still lets the other go, and exits 4', async () => {
    const nightRoot = path.join(work, 'mail-nights');
    const dir = writeConfigDir({ matrix: MATRIX, schedules: { nightly: schedule(nightRoot, '  to: [builds@example.com]\n  webhooks: [NIGHTSHIFT_TEST_HOOK]\n') } });
    const endpoint = await hook();
    process.env.NIGHTSHIFT_TEST_HOOK = endpoint.url;

    // The webhook refuses: the mail goes all the same.
    const smtp = await startSmtpServer();
    endpoint.script.push(403);
    try {
      process.env.NIGHTSHIFT_SMTP_URL = smtp.url;
      const hookDown = await report(dir, '--send');
      expect(hookDown.exitCode).toBe(4);
      expect(hookDown.stdout).toContain('sent to builds@example.com');
      expect(hookDown.stderr).toContain('HTTP 403');
      expect(smtp.messages).toHaveLength(1);
      expect(existsSync(path.join(nightRoot, TONIGHT, 'report.webhooks.json'))).toBe(false);

      // The next --send posts what did not go, and does not mail again.
      const caughtUp = await report(dir, '--send');
      expect(caughtUp.exitCode).toBe(0);
      expect(caughtUp.stdout).toMatch(/already sent at .*--resend sends it again/);
      expect(caughtUp.stdout).toContain('posted to webhook NIGHTSHIFT_TEST_HOOK');
      expect(smtp.messages).toHaveLength(1);
      expect(endpoint.received).toHaveLength(2);
    } finally {
      await smtp.close();
    }

    // The mail server refuses: the webhook is posted all the same.
    await rm(path.join(nightRoot, TONIGHT), { recursive: true, force: true });
    const refusing = await startSmtpServer({ reject: { code: 550, message: 'relaying denied' } });
    try {
      process.env.NIGHTSHIFT_SMTP_URL = refusing.url;
      // With --json the JSON still says what went (the webhook) and what did not (the mail), then the error.
      const mailDown = await report(dir, '--send', '--json');
      expect(mailDown.exitCode).toBe(4);
      expect(mailDown.stderr).toMatch(/550/);
      expect(mailDown.stderr).toContain('posted to webhook NIGHTSHIFT_TEST_HOOK');
      const answer = JSON.parse(mailDown.stdout) as { sent: { mail: unknown; webhooks: unknown } };
      expect(answer.sent.mail).toBeNull();
      expect(JSON.stringify(answer.sent.webhooks)).toContain('NIGHTSHIFT_TEST_HOOK');
      expect(endpoint.received).toHaveLength(3);
      expect(existsSync(path.join(nightRoot, TONIGHT, 'report.sent.json'))).toBe(false);
    } finally {
      await refusing.close();
    }
  });

  it('calls a URL written in the schedule a configuration error (exit 2) that says where it goes, without showing it', async () => {
    const dir = writeConfigDir({
      matrix: MATRIX,
      schedules: { nightly: schedule(path.join(work, 'bad-nights'), `  webhooks:\n    - NIGHTSHIFT_TEST_HOOK\n    - "https://hooks.slack.com/services/T000/B000/s3cr3t-t0ken"\n`) },
    });
    for (const result of [await runCli(['validate', '--config', dir]), await report(dir, '--send')]) {
      expect(result.exitCode).toBe(2);
      const said = `${result.stdout}${result.stderr}`;
      expect(said).toMatch(
        /schedules\/nightly\.yaml:14:7 report\.webhooks\[1\]: a webhook URL is a secret and does not belong in the schedule: put it in the environment or in \/etc\/nightshift\/env/,
      );
      expect(said).not.toContain('s3cr3t');
    }
  });
});

describe('postWebhook', () => {
  const payload = { text: 'nightshift nightly 2026_11_22: 1 of 4 builds failed' };
  const failure = (promise: Promise<unknown>) =>
    promise.then(
      () => expect.fail('expected a failure'),
      (error: unknown) => error as NightshiftError,
    );

  it('retries a refused connection, then fails with exit 4 naming the host and never the path', async () => {
    const port = await closedPort();
    const retries: string[] = [];
    const error = await failure(
      postWebhook({
        url: `http://127.0.0.1:${port}${SECRET_PATH}`,
        name: 'NIGHTSHIFT_TEST_HOOK',
        payload,
        attempts: 3,
        baseDelayMs: 10,
        onRetry: ({ reason }) => retries.push(reason),
      }),
    );
    expect(error).toBeInstanceOf(NightshiftError);
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain(`the webhook in NIGHTSHIFT_TEST_HOOK (127.0.0.1:${port}) after 3 attempts`);
    expect(error.message).toContain('ECONNREFUSED');
    expect(retries).toHaveLength(2);
    expect([error.message, ...retries].join('\n')).not.toContain('s3cr3t');
  });

  it('gives up on a server that does not answer in time, and retries a 429', async () => {
    const sockets = new Set<Socket>();
    const silent = createServer(() => undefined); // takes the request, never answers
    silent.on('connection', (socket) => sockets.add(socket));
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const { port } = silent.address() as AddressInfo;
    try {
      const error = await failure(postWebhook({ url: `http://127.0.0.1:${port}/hook`, name: 'NIGHTSHIFT_TEST_HOOK', payload, attempts: 2, baseDelayMs: 10, timeoutMs: 200 }));
      expect(error.exitCode).toBe(4);
      expect(error.message).toContain('after 2 attempts: no answer in time');
    } finally {
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => silent.close(() => resolve()));
    }

    const endpoint = await hook();
    endpoint.script.push(429, 503);
    expect(await postWebhook({ url: endpoint.url, name: 'NIGHTSHIFT_TEST_HOOK', payload, baseDelayMs: 10 })).toEqual({ attempts: 3 });
    expect(endpoint.received.map((r) => JSON.parse(r.body) as unknown)).toEqual([payload, payload, payload]);
  });
});
