/**
 * Posting one message to an incoming webhook (Slack, Mattermost) with Node's fetch: retried on network
 * errors, timeouts, 5xx, 408 and 429, failed at once on any other answer. The URL is the webhook's
 * secret (whoever has it can post), so messages name the variable it came from and its host, never it.
 */
import { ExitCode, NightshiftError } from '../errors.js';
import { isTransientError, withRetry } from '../store/retry.js';
import type { WebhookPayload } from './webhook-summary.js';

export interface PostWebhookOptions {
  /** The webhook's URL, http(s). */
  url: string;
  /** How the webhook is named in messages: the variable that holds its URL. */
  name: string;
  payload: WebhookPayload;
  /** Tries in all, the first included (default 4). */
  attempts?: number;
  /** Wait before the second try, doubling after (default 1000 ms). */
  baseDelayMs?: number;
  /** Longest wait for one answer (default 15 s): chat services answer within a second when they are well. */
  timeoutMs?: number;
  /** Called before each wait, for logging; `reason` names no URL. */
  onRetry?: (info: { attempt: number; delayMs: number; reason: string }) => void;
}

/** An answer that was not 2xx, kept with its status so the retry rule can read it. */
class WebhookAnswer extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`HTTP ${status}${body ? ` (${body})` : ''}`);
  }
}

/** The webhook's host (and port), the most of its URL a message shows. */
export function webhookHost(url: string): string {
  return new URL(url).host;
}

/** Posts `payload` as JSON; resolves with the number of tries once the service answered 2xx, else throws NightshiftError (exit 4). */
export async function postWebhook(options: PostWebhookOptions): Promise<{ attempts: number }> {
  const { url, name, attempts = 4, baseDelayMs = 1000, timeoutMs = 15_000 } = options;
  const host = webhookHost(url);
  const body = JSON.stringify(options.payload);
  let tries = 0;
  try {
    await withRetry(
      async () => {
        tries++;
        const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body, signal: AbortSignal.timeout(timeoutMs) });
        // Slack answers "ok", Mattermost "ok" too; an error answer is short text worth showing.
        const text = (await response.text()).trim().slice(0, 200);
        if (!response.ok) throw new WebhookAnswer(response.status, text);
      },
      {
        attempts,
        baseDelayMs,
        isTransient: isTransientWebhookError,
        onRetry: ({ error, attempt, delayMs }) => options.onRetry?.({ attempt, delayMs, reason: scrub(describe(error), url) }),
      },
    );
    return { attempts: tries };
  } catch (error) {
    const tried = `${tries} attempt${tries === 1 ? '' : 's'}`;
    const message = `could not post the report to the webhook in ${name} (${host}) after ${tried}: ${describe(error)}. ${advice(error, name)}`;
    throw new NightshiftError(scrub(message, url), ExitCode.serviceUnavailable, { cause: error });
  }
}

/** Worth another try: the service is down or busy (5xx, 408, 429), the network failed, or it did not answer in time. */
export function isTransientWebhookError(error: unknown): boolean {
  if (error instanceof WebhookAnswer) return error.status >= 500 || error.status === 408 || error.status === 429;
  return isTransientError(error);
}

function describe(error: unknown): string {
  if (error instanceof WebhookAnswer) return error.message;
  if (error instanceof Error && error.name === 'TimeoutError') return 'no answer in time';
  // fetch says "fetch failed" and keeps the reason (refused, reset, unknown host) in `cause`.
  const cause = (error as { cause?: unknown }).cause;
  const reason = cause instanceof Error ? cause.message : undefined;
  return [(error as Error).message, reason].filter(Boolean).join(': ');
}

function advice(error: unknown, name: string): string {
  if (error instanceof WebhookAnswer && (error.status === 403 || error.status === 404 || error.status === 410)) {
    return `The webhook may have been removed or its URL mistyped: check ${name} (the environment or /etc/nightshift/env), then send the report again with --resend.`;
  }
  return 'The mail is not affected; send the report again later (nightshift report --send posts what did not go).';
}

/** The URL, and its path alone (where the secret is), replaced wherever an answer or a library echoed them. */
function scrub(text: string, url: string): string {
  const parsed = new URL(url);
  const secretParts = [url, parsed.href, `${parsed.pathname}${parsed.search}`].filter((part) => part.length > 1);
  return secretParts.reduce((result, part) => result.replaceAll(part, '***'), text);
}
