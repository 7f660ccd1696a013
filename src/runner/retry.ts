/** Whether a failed attempt runs again: only what the package's `retry` names — pure. */
import type { RetrySpec } from '../config/model.js';
import type { Outcome } from '../build/outcome.js';

/**
 * Why the attempt runs again (`exit code 137`, `log matched /Connection reset/`), or undefined. Only
 * plain failures are retried: never a timeout, a cancel, a build not run, or a full disk (the machine's).
 */
export function retryReason(retry: RetrySpec | undefined, attempt: number, outcome: Outcome, exitCode: number | null, logText: string): string | undefined {
  if (retry === undefined || attempt >= retry.attempts || outcome.status !== 'failed') return undefined;
  if (outcome.reason.startsWith('no space left on device')) return undefined;
  if (exitCode !== null && retry.exitCodes.includes(exitCode)) return `exit code ${exitCode}`;
  const pattern = retry.patterns.find((source) => new RegExp(source, 'm').test(logText));
  return pattern === undefined ? undefined : `log matched /${pattern}/`;
}
