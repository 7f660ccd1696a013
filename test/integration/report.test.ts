/**
 * The morning report end to end: several nights of manifests from 3 machines in a real S3-protocol
 * server, `nightshift report --send` through a real SMTP server, read back with mailparser.
 */
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';
import { runCli } from '../helpers/run-cli.js';
import { s3Env, startS3rver, type S3rver } from '../helpers/s3rver.js';
import { startSmtpServer } from '../helpers/smtp.js';
import { openDestination } from '../../src/store/open.js';
import type { Destination } from '../../src/store/destination.js';
import type { Manifest } from '../../src/store/manifest.js';
import { mkdtemp } from 'node:fs/promises';
import os from 'node:os';
import { storyManifest } from '../helpers/story-manifest.js';

const NIGHTS = ['2026_11_19', '2026_11_20', '2026_11_21', '2026_11_22'] as const;
const TONIGHT = '2026_11_22';

let s3: S3rver;
let root: string;
let configDir: string;
let destination: Destination;
let plan: { id: string; machine: string; package: string; [axis: string]: string | number | null }[];

/** What each cell did on each night (index = NIGHTS); default succeeded. Filled from the plan. */
const STORY: Record<string, string[]> = {};
/** The cells of the story, picked among those of the machines that do report tonight. */
const role = { stillFailing: '', newlyBroken: '', fixed: '', timedOut: '' };
const INJECTION = '</pre><script>alert("owned")</script><img src=x onerror=alert(1)>';

function manifestFor(date: string, night: number, machine: string): Manifest {
  return storyManifest({ date, night, machine, plan, story: STORY, destination: destination.url });
}

async function put(key: string, body: string): Promise<void> {
  await destination.putBytes(key, body, { sha256: createHash('sha256').update(body).digest('hex') });
}

beforeAll(async () => {
  Object.assign(process.env, s3Env);
  s3 = await startS3rver();
  root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-report-'));
  const matrix = `recipes: { repo: "https://example.com/recipes.git" }
axes:
  python: ["3.11", "3.12"]
  cuda: [cpu, cu126]
packages:
  wheel: { image: "img:{cuda}", command: [build] }
  lib: { image: "lib:{cuda}", command: [build], axes: { python: [], abi: [new, old] } }
`;
  const schedule = `cron: "5 0 * * *"
root: "${root}"
machines:
  m0: { slots: 2 }
  m1: { slots: 2 }
  m2: { slots: 2, builds: ["lib_*_old"] }
upload:
  to: "s3://${s3.bucket}/nightlies/{date}"
  endpoint: "${s3.endpoint}"
  attempts: 2
report:
  cron: "0 7 * * *"
  to: [builds@example.com, leads@example.com]
  from: nightshift@example.com
  log_url: "https://nightlies.example.com/{key}"
`;
  configDir = writeConfigDir({ matrix, schedules: { nightly: schedule } });
  destination = await openDestination({ url: `s3://${s3.bucket}/nightlies/`, endpoint: s3.endpoint, pathStyle: true });
  plan = (JSON.parse((await runCli(['plan', '--all-machines', '--json', '--config', configDir])).stdout) as { builds: typeof plan }).builds;

  const reporting = plan.filter((b) => b.machine !== 'm2');
  const wheels = reporting.filter((b) => b.package === 'wheel');
  role.stillFailing = wheels[0]!.id;
  role.newlyBroken = wheels[1]!.id;
  role.fixed = wheels[2]!.id;
  role.timedOut = reporting.find((b) => b.package === 'lib')!.id;
  STORY[role.stillFailing] = ['succeeded', 'failed', 'failed', 'failed']; // failing since the 20th: 3 nights
  STORY[role.newlyBroken] = ['succeeded', 'succeeded', 'succeeded', 'failed'];
  STORY[role.fixed] = ['succeeded', 'succeeded', 'failed', 'succeeded'];
  STORY[role.timedOut] = ['succeeded', 'succeeded', 'succeeded', 'timed_out'];

  // m2 published every night but tonight: it is the missing machine.
  for (const [night, date] of NIGHTS.entries()) {
    for (const machine of night === NIGHTS.length - 1 ? ['m0', 'm1'] : ['m0', 'm1', 'm2']) {
      await put(`nightshift/nights/${date}/${machine}/manifest.json`, JSON.stringify(manifestFor(date, night, machine)));
    }
  }
  for (const id of Object.keys(STORY)) {
    const machine = plan.find((b) => b.id === id)!.machine;
    const lines = Array.from({ length: 60 }, (_, i) => `step ${i} of ${id}`);
    await put(`nightshift/nights/${TONIGHT}/${machine}/logs/${id}.log`, [...lines, INJECTION, `error: ${id} broke`, ''].join('\n'));
  }
}, 60_000);

afterAll(async () => {
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
  await s3?.close();
  await rm(root, { recursive: true, force: true });
  removeConfigDirs();
});

const cli = (...args: string[]) => runCli(['report', '--config', configDir, '--machine', 'm0', '--date', TONIGHT, ...args]);

describe('nightshift report', () => {
  it('--print shows the text report: counts, streaks, fixed cells, the missing machine', async () => {
    const missing = plan.filter((b) => b.machine === 'm2').length;
    const result = await cli('--print');
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`^Subject: nightshift ${TONIGHT}: 3 of ${plan.length} builds failed, 1 machine missing`, 'm'));
    expect(result.stdout).toMatch(/m2/);
    expect(result.stdout).toMatch(new RegExp(`${role.stillFailing}[\\s\\S]*2026_11_20`));
    expect(result.stdout).toContain(`error: ${role.newlyBroken} broke`);
    expect(result.stdout).toContain(role.fixed);
    expect(missing).toBeGreaterThan(0);
    expect(existsSync(path.join(root, TONIGHT, 'report.html'))).toBe(true);
    expect(await readFile(path.join(root, TONIGHT, 'report.txt'), 'utf8')).toContain(`error: ${role.timedOut} broke`);
  });

  it('--send mails one report with subject, HTML and text; a second --send needs --resend', async () => {
    const smtp = await startSmtpServer();
    process.env.NIGHTSHIFT_SMTP_URL = smtp.url;
    try {
      const result = await cli('--send');
      expect(result.stderr).toBe('');
      expect(result.exitCode).toBe(0);
      expect(result.stdout).toMatch(/sent to builds@example\.com, leads@example\.com/);
      expect(smtp.messages).toHaveLength(1);
      const { parsed, envelope } = smtp.messages[0]!;
      expect(envelope.to.sort()).toEqual(['builds@example.com', 'leads@example.com']);
      expect(parsed.subject).toBe(`nightshift ${TONIGHT}: 3 of ${plan.length} builds failed, 1 machine missing`);
      const html = String(parsed.html);
      const text = parsed.text ?? '';
      for (const part of [html, text]) {
        expect(part).toContain(role.stillFailing);
        expect(part).toContain('2026_11_20'); // ... since the 20th
        expect(part).toContain(role.newlyBroken);
        expect(part).toContain(role.fixed);
        expect(part).toContain(role.timedOut);
        expect(part).toContain('m2');
      }
      expect(text).toMatch(/timed out/i);
      expect(html).toContain('https://nightlies.example.com/nightshift/nights/2026_11_22/');
      // The log line with markup arrives as text, not as markup.
      expect(html).not.toMatch(/<script|<img/i);
      expect(html).toContain('&lt;script&gt;');
      expect(text).toContain('<script>alert("owned")</script>');

      const again = await cli('--send');
      expect(again.exitCode).toBe(0);
      expect(again.stdout).toMatch(/already sent at .*--resend sends it again/);
      expect(smtp.messages).toHaveLength(1);
      expect((await cli('--resend')).exitCode).toBe(0);
      expect(smtp.messages).toHaveLength(2);
    } finally {
      delete process.env.NIGHTSHIFT_SMTP_URL;
      await smtp.close();
    }
  });

  it('--json: the report model and the records of what was sent, as report.sent.json says; --print --json shows the text on stderr', async () => {
    interface ReportJson {
      date: string;
      subject: string;
      counts: { total: number; failed: number; missing: number };
      machines: { name: string; reported: boolean }[];
      cells: { id: string; status: string; streak: number; failing_since: string | null; change: string; first_error: string | null }[];
      written: { html: string; text: string };
      sent: { mail: { sent_at: string; to: string[]; subject: string } | null; webhooks: Record<string, unknown> };
    }
    const result = await cli('--json');
    expect(result.exitCode).toBe(0);
    const report = JSON.parse(result.stdout) as ReportJson;
    expect(report.date).toBe(TONIGHT);
    expect(report.subject).toBe(`nightshift ${TONIGHT}: 3 of ${plan.length} builds failed, 1 machine missing`);
    expect(report.counts).toMatchObject({ total: plan.length, failed: 3 });
    expect(report.machines.map((m) => [m.name, m.reported])).toEqual([
      ['m0', true],
      ['m1', true],
      ['m2', false],
    ]);
    const cell = (id: string) => report.cells.find((c) => c.id === id)!;
    expect(cell(role.stillFailing)).toMatchObject({ status: 'failed', streak: 3, failing_since: '2026_11_20', change: 'still-failing' });
    expect(cell(role.newlyBroken)).toMatchObject({ status: 'failed', streak: 1, change: 'newly-failed' });
    expect(cell(role.fixed)).toMatchObject({ status: 'succeeded', streak: 0, change: 'fixed' });
    expect(cell(role.timedOut).status).toBe('timed_out');
    expect(report.cells.filter((c) => c.status === 'missing').length).toBe(plan.filter((b) => b.machine === 'm2').length);
    // The --send before mailed it: the record is the file's.
    const record = JSON.parse(await readFile(path.join(root, TONIGHT, 'report.sent.json'), 'utf8')) as unknown;
    expect(report.sent.mail).toEqual(record);
    expect(report.sent.webhooks).toEqual({});
    expect(await readFile(report.written.text, 'utf8')).toContain(`error: ${role.timedOut} broke`);
    expect(result.stderr).toMatch(/written to .*report\.html/);

    const printed = await cli('--print', '--json');
    expect(printed.exitCode).toBe(0);
    expect((JSON.parse(printed.stdout) as ReportJson).subject).toBe(report.subject);
    expect(printed.stderr).toMatch(new RegExp(`^Subject: nightshift ${TONIGHT}: 3 of`, 'm'));
  });

  it('an SMTP server that refuses leaves the report on disk and exits 4', async () => {
    await rm(path.join(root, TONIGHT), { recursive: true, force: true });
    const smtp = await startSmtpServer({ reject: { code: 550, message: 'relaying denied' } });
    process.env.NIGHTSHIFT_SMTP_URL = smtp.url;
    try {
      const result = await cli('--send');
      expect(result.exitCode).toBe(4);
      expect(result.stderr).toMatch(/550/);
      expect(await readFile(path.join(root, TONIGHT, 'report.html'), 'utf8')).toContain(role.stillFailing);
      expect(existsSync(path.join(root, TONIGHT, 'report.sent.json'))).toBe(false);
    } finally {
      delete process.env.NIGHTSHIFT_SMTP_URL;
      await smtp.close();
    }
  });

  it("names a manifest it cannot read (tonight's or an earlier night's) and reports the rest of the fleet", async () => {
    // What a newer or broken nightshift might write.
    await put(`nightshift/nights/${TONIGHT}/m2/manifest.json`, '{"version":2,"builds":"nope"}');
    await put(`nightshift/nights/${NIGHTS[0]}/m1/manifest.json`, '{"version":1,"builds":"nope"}');
    const result = await cli('--print');
    expect(result.exitCode).toBe(0);
    expect(result.stderr).toContain(`nightshift: warning: ${destination.url}nightshift/nights/${NIGHTS[0]}/m1/manifest.json is not a manifest this nightshift can read (`);
    expect(result.stderr).toContain(
      `${destination.url}nightshift/nights/${TONIGHT}/m2/manifest.json is not a manifest this nightshift can read (version 2, but this nightshift reads version 1); it is left out: its builds are shown as missing`,
    );
    expect(result.stdout).toMatch(/PARTIAL REPORT: .*m2\/manifest\.json is not a manifest/);
    // m0 and m1 are reported as before.
    expect(result.stdout).toMatch(new RegExp(`^Subject: nightshift ${TONIGHT}: 3 of ${plan.length} builds failed, 1 machine missing`, 'm'));
    expect(result.stdout).toContain(`error: ${role.newlyBroken} broke`);
  });

  it("without the destination, reports this machine's own night and says so", async () => {
    await s3.stop();
    try {
      const result = await cli('--print');
      expect(result.exitCode).toBe(0);
      expect(result.stderr).toMatch(/could not be read.*only m0's own night/);
    } finally {
      await s3.start();
    }
  });
});
