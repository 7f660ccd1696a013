/**
 * sendMail against a real SMTP server (smtp-server on 127.0.0.1): what arrives, what is retried and
 * what is not, and that the password never shows in a failure.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { NightshiftError } from '../../src/errors.js';
import { sendMail, type SendMailOptions } from '../../src/report/mail.js';
import { closedPort, startSmtpServer, type TestSmtpServer, type TestSmtpServerOptions } from '../helpers/smtp.js';

const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => expect.fail('expected a failure'),
    (error: unknown) => error,
  );

const servers: TestSmtpServer[] = [];
afterEach(async () => {
  await Promise.all(servers.splice(0).map((server) => server.close()));
});
async function server(options?: TestSmtpServerOptions) {
  const started = await startSmtpServer(options);
  servers.push(started);
  return started;
}

const mail = (smtpUrl: string, extra: Partial<SendMailOptions> = {}): SendMailOptions => ({
  smtpUrl,
  from: 'Nightshift <nightshift@example.com>',
  to: ['builds@example.com'],
  subject: 'nightly 2026_11_22: 41 succeeded, 1 failed',
  html: '<h1>Nightly</h1><p>1 failed: <b>manywheel_3.12_cu126</b></p>',
  text: 'Nightly\n1 failed: manywheel_3.12_cu126\n',
  baseDelayMs: 10,
  ...extra,
});

describe('sendMail', () => {
  it('delivers a multipart mail with subject, text and HTML, from and to as given', async () => {
    const smtp = await server();
    const sent = await sendMail(mail(smtp.url, { headers: { 'X-Nightshift-Night': '2026_11_22' } }));

    expect(sent.accepted).toEqual(['builds@example.com']);
    expect(sent.rejected).toEqual([]);
    expect(smtp.messages).toHaveLength(1);
    const { parsed, envelope } = smtp.messages[0]!;
    expect(parsed.subject).toBe('nightly 2026_11_22: 41 succeeded, 1 failed');
    expect(parsed.text?.trim()).toBe('Nightly\n1 failed: manywheel_3.12_cu126');
    expect(parsed.html).toContain('<b>manywheel_3.12_cu126</b>');
    expect(parsed.from?.value).toEqual([{ address: 'nightshift@example.com', name: 'Nightshift' }]);
    expect(parsed.headers.get('content-type')).toMatchObject({ value: 'multipart/alternative' });
    expect(parsed.headers.get('x-nightshift-night')).toBe('2026_11_22');
    expect(parsed.messageId).toBe(sent.messageId);
    expect(envelope).toEqual({ from: 'nightshift@example.com', to: ['builds@example.com'] });
  });

  it('sends one mail to several recipients', async () => {
    const smtp = await server();
    const to = ['a@example.com', 'b@example.com', 'c@example.org'];
    const sent = await sendMail(mail(smtp.url, { to }));

    expect(sent.accepted).toEqual(to);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.envelope.to).toEqual(to);
    const header = smtp.messages[0]!.parsed.to;
    expect((Array.isArray(header) ? header : [header]).flatMap((h) => h!.value.map((v) => v.address))).toEqual(to);
  });

  it('retries a transient 451 and delivers on the third try, with one Message-ID', async () => {
    const smtp = await server({ reject: { code: 451, message: 'Local error in processing, try later', times: 2 } });
    const retries: Array<{ attempt: number; reason: string }> = [];
    const sent = await sendMail(mail(smtp.url, { onRetry: ({ attempt, reason }) => retries.push({ attempt, reason }) }));

    expect(smtp.counts.data).toBe(3);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.parsed.messageId).toBe(sent.messageId);
    expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
    expect(retries[0]!.reason).toContain('451 Local error in processing, try later');
  });

  it('fails at once on a permanent 550: exit 4, the server and its answer in the message', async () => {
    const smtp = await server({ reject: { code: 550, message: 'Message rejected by policy' } });
    const error = await failure(sendMail(mail(smtp.url)));

    expect(error).toBeInstanceOf(NightshiftError);
    const { exitCode, message } = error as NightshiftError;
    expect(exitCode).toBe(4);
    expect(message).toContain(`127.0.0.1:${smtp.port}`);
    expect(message).toContain('550 Message rejected by policy');
    expect(message).toContain('after 1 attempt:');
    expect(smtp.counts.data).toBe(1);
    expect(smtp.messages).toHaveLength(0);
  });

  it('fails when the server refuses every recipient, naming them, without retrying', async () => {
    const smtp = await server({ reject: 'recipients' });
    const error = (await failure(sendMail(mail(smtp.url, { to: ['x@example.com', 'y@example.com'] })))) as NightshiftError;

    expect(error.exitCode).toBe(4);
    expect(error.message).toContain('rejected every recipient');
    expect(error.message).toContain('x@example.com (550 No such user here)');
    expect(error.message).toContain('report.to');
    expect(smtp.counts.connections).toBe(1);
  });

  it('retries a refused connection, then fails with exit 4 and never shows the password', async () => {
    const port = await closedPort();
    const retries: string[] = [];
    const started = Date.now();
    const error = (await failure(sendMail(mail(`smtp://user:s3cret@127.0.0.1:${port}`, { attempts: 3, onRetry: ({ reason }) => retries.push(reason) })))) as NightshiftError;

    expect(error).toBeInstanceOf(NightshiftError);
    expect(error.exitCode).toBe(4);
    expect(error.message).toContain(`127.0.0.1:${port}`);
    expect(error.message).toContain('connection refused');
    expect(error.message).toContain('after 3 attempts');
    expect(error.message).toContain(`smtp://user:***@127.0.0.1:${port}`);
    expect(error.message).not.toContain('s3cret');
    expect(retries).toHaveLength(2);
    expect(retries.join('\n')).not.toContain('s3cret');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('logs in with the user and password from the URL', async () => {
    const smtp = await server({ auth: { user: 'nightshift', pass: 'p@ss:w/rd' } });
    const url = `smtp://nightshift:${encodeURIComponent('p@ss:w/rd')}@127.0.0.1:${smtp.port}`;
    await sendMail(mail(url));

    expect(smtp.users).toEqual(['nightshift']);
    expect(smtp.messages).toHaveLength(1);
    expect(smtp.messages[0]!.user).toBe('nightshift');
  });

  it('fails at once on a wrong password (535), naming neither password', async () => {
    const smtp = await server({ auth: { user: 'nightshift', pass: 'right-one' } });
    const error = (await failure(sendMail(mail(`smtp://nightshift:wrong-one@127.0.0.1:${smtp.port}`)))) as NightshiftError;

    expect(error.exitCode).toBe(4);
    expect(error.message).toContain('535');
    expect(error.message).toContain('user and password');
    expect(error.message).not.toMatch(/wrong-one|right-one/);
    expect(smtp.counts.logins).toBe(1);
    expect(smtp.messages).toHaveLength(0);
  });

  it('retries a server that answers 421 to every connection, then fails with exit 4', async () => {
    const smtp = await server({ reject: 'connection' });
    const error = (await failure(sendMail(mail(smtp.url, { attempts: 2 })))) as NightshiftError;

    expect(error.exitCode).toBe(4);
    expect(error.message).toContain('421 Too busy');
    expect(error.message).toContain('send the report again');
    expect(smtp.counts.connections).toBe(2);
  });

  it('calls a malformed URL a usage error (exit 2) without showing its password', async () => {
    const error = (await failure(sendMail(mail('http://user:s3cret@127.0.0.1:25')))) as NightshiftError;
    expect(error.exitCode).toBe(2);
    expect(error.message).not.toContain('s3cret');
  });
});
