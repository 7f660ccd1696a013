import { describe, expect, it } from 'vitest';
import { DestinationError } from '../../src/store/destination.js';
import { backoffDelay, isTransientError, withRetry } from '../../src/store/retry.js';

/** An error shaped like the AWS SDK's service exceptions. */
const sdkError = (name: string, status: number, extra: Record<string, unknown> = {}) =>
  Object.assign(new Error(name), { name, Code: name, $fault: status >= 500 ? 'server' : 'client', $metadata: { httpStatusCode: status }, ...extra });
const netError = (code: string, message = `connect ${code} 127.0.0.1:9`) => Object.assign(new Error(message), { code });

describe('isTransientError', () => {
  it.each([
    ['500 InternalError', sdkError('InternalError', 500)],
    ['503 SlowDown', sdkError('SlowDown', 503)],
    ['502 without a name', Object.assign(new Error('UnknownError'), { $metadata: { httpStatusCode: 502 } })],
    ['429', sdkError('TooManyRequests', 429)],
    ['400 RequestTimeout', sdkError('RequestTimeout', 400)],
    ['throttling by name alone', Object.assign(new Error('x'), { name: 'ThrottlingException' })],
    ['$retryable', Object.assign(new Error('x'), { $retryable: { throttling: false } })],
    ['ECONNRESET', netError('ECONNRESET')],
    ['ECONNREFUSED', netError('ECONNREFUSED')],
    ['ETIMEDOUT', netError('ETIMEDOUT')],
    ['EPIPE', netError('EPIPE')],
    ['socket hang up', new Error('socket hang up')],
    ['TimeoutError', Object.assign(new Error('timed out'), { name: 'TimeoutError' })],
    ['a transient cause', new Error('wrapped', { cause: netError('ECONNRESET') })],
    ['AggregateError of refused connects', Object.assign(new AggregateError([netError('ECONNREFUSED')], ''), { code: undefined })],
    ['a transient DestinationError', new DestinationError('x', true)],
  ])('%s is transient', (_label, error) => {
    expect(isTransientError(error)).toBe(true);
  });

  it.each([
    ['403 AccessDenied', sdkError('AccessDenied', 403)],
    ['404 NoSuchBucket', sdkError('NoSuchBucket', 404)],
    ['403 InvalidAccessKeyId', sdkError('InvalidAccessKeyId', 403)],
    ['403 SignatureDoesNotMatch', sdkError('SignatureDoesNotMatch', 403)],
    ['400 with a transient-looking cause', sdkError('InvalidArgument', 400, { cause: netError('ECONNRESET') })],
    ['ENOTFOUND (a mistyped endpoint)', netError('ENOTFOUND', 'getaddrinfo ENOTFOUND s3.example.invalid')],
    ['an abort', Object.assign(new Error('aborted'), { name: 'AbortError' })],
    ['a plain bug', new TypeError('x is undefined')],
    ['a non-transient DestinationError', new DestinationError('x', false, { cause: netError('ECONNRESET') })],
    ['not an error at all', 'ECONNRESET'],
    ['undefined', undefined],
  ])('%s is not transient', (_label, error) => {
    expect(isTransientError(error)).toBe(false);
  });
});

describe('withRetry', () => {
  const fast = { baseDelayMs: 1, maxDelayMs: 2 };

  it('returns the first success, passing the try number', async () => {
    const seen: number[] = [];
    const result = await withRetry((attempt) => {
      seen.push(attempt);
      return attempt < 3 ? Promise.reject(netError('ECONNRESET')) : Promise.resolve('done');
    }, fast);
    expect(result).toBe('done');
    expect(seen).toEqual([1, 2, 3]);
  });

  it('stops at `attempts` and throws the last error unchanged', async () => {
    let calls = 0;
    const last = netError('ECONNREFUSED');
    const error = await withRetry(
      () => {
        calls++;
        return Promise.reject(calls === 4 ? last : netError('ECONNRESET'));
      },
      { ...fast, attempts: 4 },
    ).catch((e: unknown) => e);
    expect(calls).toBe(4);
    expect(error).toBe(last);
  });

  it('does not retry an error that is not transient', async () => {
    let calls = 0;
    const denied = sdkError('AccessDenied', 403);
    await expect(
      withRetry(() => {
        calls++;
        return Promise.reject(denied);
      }, fast),
    ).rejects.toBe(denied);
    expect(calls).toBe(1);
  });

  it('uses the given classifier', async () => {
    let calls = 0;
    await expect(
      withRetry(
        () => {
          calls++;
          return Promise.reject(new Error('flaky'));
        },
        { ...fast, attempts: 3, isTransient: () => true },
      ),
    ).rejects.toThrow('flaky');
    expect(calls).toBe(3);
  });

  it('waits with exponential backoff and reports each retry', async () => {
    const waits: number[] = [];
    const started = Date.now();
    await withRetry((attempt) => (attempt < 4 ? Promise.reject(netError('ETIMEDOUT')) : Promise.resolve()), {
      baseDelayMs: 20,
      maxDelayMs: 60,
      onRetry: ({ delayMs }) => waits.push(delayMs),
    });
    expect(waits).toHaveLength(3);
    // Equal jitter: each wait is between half and all of min(max, base * 2^(n-1)).
    const caps = [20, 40, 60];
    waits.forEach((wait, i) => {
      expect(wait).toBeGreaterThanOrEqual(caps[i]! / 2);
      expect(wait).toBeLessThanOrEqual(caps[i]!);
    });
    expect(Date.now() - started).toBeGreaterThanOrEqual(waits.reduce((a, b) => a + b, 0) - 5);
  });

  it('caps the delay at maxDelayMs however many tries', () => {
    for (let attempt = 1; attempt < 40; attempt++) expect(backoffDelay(attempt, 500, 8000)).toBeLessThanOrEqual(8000);
    expect(backoffDelay(30, 500, 8000)).toBeGreaterThanOrEqual(4000);
  });

  it('an abort stops the waiting at once and no further try starts', async () => {
    const controller = new AbortController();
    let calls = 0;
    const started = Date.now();
    const result = withRetry(
      () => {
        calls++;
        return Promise.reject(netError('ECONNRESET'));
      },
      { baseDelayMs: 10_000, maxDelayMs: 10_000, signal: controller.signal },
    );
    setTimeout(() => controller.abort(new Error('shutting down')), 50);
    await expect(result).rejects.toThrow('shutting down');
    expect(Date.now() - started).toBeLessThan(2000);
    expect(calls).toBe(1);
  });

  it('does not start when already aborted', async () => {
    let calls = 0;
    await expect(withRetry(() => Promise.resolve(calls++), { signal: AbortSignal.abort() })).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls).toBe(0);
  });
});
