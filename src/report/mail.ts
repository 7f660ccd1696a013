/**
 * Sending one mail (the morning report) over SMTP with nodemailer: retried while the server or
 * network says "not now", failed at once when the server says "never", and failing with a message
 * that names the server and its answer but never the password.
 */
import { randomUUID } from 'node:crypto';
import { ExitCode, NightshiftError } from '../errors.js';
import { isTransientError, withRetry } from '../store/retry.js';
import { redactUrl } from './smtp-url.js';

export interface SendMailOptions {
  /** smtp://user:password@host:port (STARTTLS when offered) or smtps://... (TLS from the start). */
  smtpUrl: string;
  from: string;
  to: string | readonly string[];
  subject: string;
  html: string;
  text: string;
  /** Tries in all, the first included (default 4). */
  attempts?: number;
  /** Wait before the second try, doubling after (default 1000 ms). */
  baseDelayMs?: number;
  /** Extra header lines, e.g. `{ 'X-Nightshift-Night': '2026_11_22' }`. */
  headers?: Record<string, string>;
  /** Stops the waiting between tries and the send in flight. */
  signal?: AbortSignal;
  /** Called before each wait, for logging; `reason` is safe to print (no password). */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

export interface SentMail {
  messageId: string;
  accepted: string[];
  /** Recipients the server refused while it accepted others (when it refuses all, sendMail throws). */
  rejected: string[];
}

/**
 * How long to wait for the server before calling it unreachable. nodemailer's defaults (2 min to
 * connect, 10 min on an idle socket) would hold a retry for many minutes; a healthy server answers
 * in well under a second.
 */
const TIMEOUTS = { connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 } as const;

/** What nodemailer puts on the errors it throws (see nodemailer's NodemailerError). */
interface SmtpErrorFields {
  code?: string;
  originalCode?: string;
  response?: string;
  responseCode?: number;
  command?: string;
  timeoutType?: string;
  rejectedErrors?: Array<{ recipient?: string; response?: string }>;
}

/**
 * Sends one multipart/alternative mail (text and HTML). Resolves when the server accepted it for
 * at least one recipient; otherwise throws NightshiftError with exit code 4 (2 for a malformed URL).
 */
export async function sendMail(options: SendMailOptions): Promise<SentMail> {
  const { smtpUrl, attempts = 4, baseDelayMs = 1000, signal } = options;
  const server = serverOf(smtpUrl);
  // Loaded here, not at the top: only the report command mails, the others need not load nodemailer.
  const { createTransport } = await import('nodemailer');
  const transport = createTransport({ url: smtpUrl, ...TIMEOUTS });
  // One Message-ID and Date for every try: if a connection breaks after the server took the
  // message but before it said so, the retry is recognisably the same mail, not a second report.
  const messageId = `<${randomUUID()}@${domainOf(options.from)}>`;
  const date = new Date();
  const secrets = secretsOf(smtpUrl);
  let tries = 0;
  try {
    const info = await withRetry(
      async () => {
        tries++;
        const sent = await transport.sendMail({
          from: options.from,
          to: typeof options.to === 'string' ? options.to : [...options.to],
          subject: options.subject,
          text: options.text,
          html: options.html,
          messageId,
          date,
          headers: options.headers,
          signal,
        });
        // nodemailer already fails when every recipient is refused; this keeps that true whatever
        // the transport's version does, since a report that reached nobody was not sent.
        if (sent.accepted.length === 0) throw Object.assign(new Error('no recipient was accepted'), { code: 'EENVELOPE' });
        return sent;
      },
      {
        attempts,
        baseDelayMs,
        signal,
        isTransient: isTransientSmtpError,
        onRetry: ({ error, attempt, delayMs }) => options.onRetry?.({ attempt, delayMs, reason: scrub(describe(error), secrets) }),
      },
    );
    return { messageId: info.messageId, accepted: info.accepted.map(String), rejected: info.rejected.map(String) };
  } catch (error) {
    // The caller's own cancel is not an SMTP failure to explain.
    if (signal?.aborted) throw error;
    const tried = `${tries} attempt${tries === 1 ? '' : 's'}`;
    const message = `could not send mail through ${server.hostPort} (${redactUrl(smtpUrl)}) after ${tried}: ${describe(error)}. ${advice(error, server.hostPort)}`;
    throw new NightshiftError(scrub(message, secrets), ExitCode.serviceUnavailable, { cause: error });
  } finally {
    transport.close();
  }
}

/**
 * Worth another try: a 4xx answer (421 closing, 450/451/452 mailbox busy, local error, no space:
 * RFC 5321 calls all 4yz transient), a connection refused, reset, closed or timed out, and a DNS
 * lookup that could not be made just now. Not a 5xx answer (550 no such user, 553 bad address,
 * 535 bad credentials), an unknown host, a TLS failure or missing credentials: those repeat.
 */
export function isTransientSmtpError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const e = error as SmtpErrorFields;
  // The server's answer decides when there is one, even on a connection it then closed.
  if (typeof e.responseCode === 'number') return e.responseCode >= 400 && e.responseCode < 500;
  if (e.code === 'ECONNECTION' || e.code === 'ESOCKET' || e.code === 'ETIMEDOUT') return true;
  // nodemailer replaces Node's code (ECONNREFUSED, EAI_AGAIN, ...) with its own and keeps the
  // original aside; the shared rules know Node's codes (and call ENOTFOUND a typo, not transient).
  if (e.originalCode) return isTransientError({ code: e.originalCode });
  return false;
}

/** host:port as nodemailer will connect (587 for smtp://, 465 for smtps:// when no port is given). */
function serverOf(smtpUrl: string): { hostPort: string } {
  let url: URL;
  try {
    url = new URL(smtpUrl);
  } catch {
    throw new NightshiftError(`the SMTP URL is not a URL: ${redactUrl(smtpUrl)}`, ExitCode.usage);
  }
  if (url.protocol !== 'smtp:' && url.protocol !== 'smtps:') {
    throw new NightshiftError(`the SMTP URL must start with smtp:// or smtps://, got ${redactUrl(smtpUrl)}`, ExitCode.usage);
  }
  return { hostPort: `${url.hostname}:${url.port || (url.protocol === 'smtps:' ? 465 : 587)}` };
}

/** The sender's domain, for the Message-ID (as nodemailer would build it). */
function domainOf(from: string): string {
  return /@([A-Za-z0-9.-]+)/.exec(from)?.[1] ?? 'nightshift.invalid';
}

/** The password as it may appear in text: decoded (as nodemailer sends it) and as written. */
function secretsOf(smtpUrl: string): string[] {
  const raw = new URL(smtpUrl).password;
  if (!raw) return [];
  let decoded = raw;
  try {
    decoded = decodeURIComponent(raw);
  } catch {
    // a stray '%': nodemailer keeps it as written too
  }
  return [...new Set([raw, decoded])];
}

/**
 * Belt and braces: no message nightshift builds should contain the password, but a server may
 * echo what it was sent, so any occurrence is masked before the text leaves this module.
 */
function scrub(text: string, secrets: readonly string[]): string {
  return secrets.reduce((out, secret) => out.split(secret).join('***'), text);
}

/** What went wrong, in one line: the server's answer to which command, or the network failure. */
function describe(error: unknown): string {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SmtpErrorFields & { message?: string };
  const rejected = e.rejectedErrors?.filter((r) => r.recipient);
  if (e.code === 'EENVELOPE' && rejected?.length) {
    return `the server rejected every recipient: ${rejected.map((r) => `${r.recipient!} (${r.response ?? 'no answer'})`).join(', ')}`;
  }
  if (e.response) {
    // CONN is nodemailer's name for the greeting and anything else outside a command.
    const when = !e.command ? '' : e.command === 'CONN' ? ' on connecting' : ` to ${e.command}`;
    return `the server answered "${e.response}"${when}`;
  }
  switch (e.originalCode ?? e.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens on that port)';
    case 'ENOTFOUND':
      return 'unknown host';
    case 'ETIMEDOUT':
      return `timed out${e.timeoutType ? ` (${e.timeoutType.toLowerCase().replace(/_/g, ' ')})` : ''}`;
  }
  const code = e.originalCode ?? e.code;
  return `${e.message ?? String(error)}${code && !e.message?.includes(code) ? ` (${code})` : ''}`;
}

/** What to do about it. */
function advice(error: unknown, hostPort: string): string {
  const e = (typeof error === 'object' && error !== null ? error : {}) as SmtpErrorFields;
  const where = 'the SMTP URL (NIGHTSHIFT_SMTP_URL or the env file)';
  const code = e.responseCode;
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH' || code === 530 || code === 534 || code === 535 || code === 538) {
    return `Check the user and password in ${where}; percent-encode special characters in them.`;
  }
  if (e.code === 'ETLS') return `Check the scheme and port in ${where}: smtps:// for port 465, smtp:// (STARTTLS) for 587 or 25.`;
  if (e.code === 'EDNS' || e.originalCode === 'ENOTFOUND') return `Check the host name in ${where}.`;
  if (typeof code === 'number' && code >= 500) {
    if (e.command === 'MAIL FROM') return 'The server refused the sender: check report.from in the schedule and that this account may send as it.';
    if (e.command === 'RCPT TO' || e.code === 'EENVELOPE') {
      return 'Check report.to in the schedule, and that the server accepts (relays) mail from this machine or account to those addresses.';
    }
    return 'The server refused the message for good; its answer says why (size, content or policy).';
  }
  if (typeof code === 'number') return 'The server deferred the mail every time; it may accept it later: send the report again.';
  return `Check that the SMTP server at ${hostPort} is running and reachable from this machine, and the host and port in ${where}.`;
}
