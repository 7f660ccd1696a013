import { describe, expect, it } from 'vitest';
import { retryReason } from '../../src/runner/retry.js';

const retry = { attempts: 3, exitCodes: [137], patterns: ['Connection reset', '^E: Unable to fetch'] };
const failed = (reason = 'exit code 1') => ({ status: 'failed' as const, reason });

describe('retryReason: only what the package names runs again', () => {
  it('an exit code or a log pattern named in `on`', () => {
    expect(retryReason(retry, 1, failed('exit code 137'), 137, '')).toBe('exit code 137');
    expect(retryReason(retry, 2, failed(), 1, 'curl: (56) Connection reset by peer\n')).toBe('log matched /Connection reset/');
    expect(retryReason(retry, 1, failed(), 100, 'Get:1 ...\nE: Unable to fetch some archives\n')).toBe('log matched /^E: Unable to fetch/');
  });

  it('nothing else: other failures, the last attempt, timeouts, cancels, builds not run, a full disk, no retry', () => {
    expect(retryReason(retry, 1, failed(), 1, 'error: undefined reference\n')).toBeUndefined();
    expect(retryReason(retry, 3, failed('exit code 137'), 137, '')).toBeUndefined();
    expect(retryReason(retry, 1, { status: 'timed_out', reason: 'timed out' }, null, 'Connection reset')).toBeUndefined();
    expect(retryReason(retry, 1, { status: 'canceled', reason: 'canceled' }, null, 'Connection reset')).toBeUndefined();
    expect(retryReason(retry, 1, { status: 'not_run', reason: 'not run' }, null, 'Connection reset')).toBeUndefined();
    expect(retryReason(retry, 1, failed('no space left on device: free space under /srv (exit code 137)'), 137, '')).toBeUndefined();
    expect(retryReason(undefined, 1, failed('exit code 137'), 137, 'Connection reset')).toBeUndefined();
  });
});
