/**
 * Retrying what may succeed a moment later (a 503, a reset connection, throttling) and nothing else:
 * an access denied or a missing bucket fails the same way every time, so retrying it only delays the
 * message the user needs.
 */

export interface RetryOptions {
  /** Tries in all, the first included (default 5). */
  attempts?: number;
  /** Wait before the second try; doubles on each further try (default 500 ms). */
  baseDelayMs?: number;
  /** Longest wait between two tries (default 8000 ms). */
  maxDelayMs?: number;
  /** Stops the waiting (and no further try starts); the operation itself should watch it too. */
  signal?: AbortSignal;
  /** Which errors are worth another try (default: isTransientError). */
  isTransient?: (error: unknown) => boolean;
  /** Called before each wait, for logging; `attempt` is the try that just failed (1-based). */
  onRetry?: (info: { error: unknown; attempt: number; delayMs: number }) => void;
}

/**
 * Runs `operation` until it succeeds, fails with an error that is not transient, or has been tried
 * `attempts` times; then throws the last error unchanged. `operation` gets the 1-based try number.
 */
export async function withRetry<T>(operation: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  const { attempts = 5, baseDelayMs = 500, maxDelayMs = 8000, signal, isTransient = isTransientError, onRetry } = options;
  for (let attempt = 1; ; attempt++) {
    signal?.throwIfAborted();
    try {
      return await operation(attempt);
    } catch (error) {
      if (attempt >= attempts || signal?.aborted || !isTransient(error)) throw error;
      const delayMs = backoffDelay(attempt, baseDelayMs, maxDelayMs);
      onRetry?.({ error, attempt, delayMs });
      await sleep(delayMs, signal);
    }
  }
}

/**
 * Exponential backoff with "equal jitter": half the exponential delay is fixed, half random, so
 * machines that failed together (the whole fleet uploads at the same hour) spread out their retries
 * while each still waits long enough for the service to recover.
 */
export function backoffDelay(attempt: number, baseDelayMs: number, maxDelayMs: number): number {
  const exponential = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
  return Math.round(exponential / 2 + Math.random() * (exponential / 2));
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    // The caller's own abort reason is handed back as it is, whatever it is (see withRetry's callers).
    if (signal?.aborted) {
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's abort reason, unchanged
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- the caller's abort reason, unchanged
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

// Node's codes for a connection that failed or broke on the way; the request may well pass on a retry.
const NETWORK_CODES = new Set([
  'ECONNRESET',
  'ECONNREFUSED',
  'ECONNABORTED',
  'ETIMEDOUT',
  'EPIPE',
  'EAI_AGAIN', // DNS temporarily unavailable (ENOTFOUND is not here: that is usually a mistyped endpoint)
  'ENETUNREACH',
  'EHOSTUNREACH',
  'ENETDOWN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

// Error names/codes AWS services (and S3-compatible stores) use for "slow down" and "try again".
const TRANSIENT_NAMES = new Set([
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  'Throttling',
  'ThrottlingException',
  'ThrottledException',
  'TooManyRequestsException',
  'RequestThrottled',
  'RequestThrottledException',
  'RequestLimitExceeded',
  'SlowDown',
  'BandwidthLimitExceeded',
  'ProvisionedThroughputExceededException',
  'PriorRequestNotComplete',
  'InternalError',
  'ServiceUnavailable',
  'OperationAborted', // S3: a conflicting operation on the same bucket is in progress
]);

/**
 * True for failures that may pass on a retry: 5xx, 408/429 and throttling, errors the AWS SDK marks
 * `$retryable`, broken or refused connections and timeouts. False for everything else, notably 4xx
 * answers (AccessDenied, NoSuchBucket, InvalidAccessKeyId, SignatureDoesNotMatch) and aborts.
 * Looks through `cause` chains and AggregateError (Node reports a failed multi-address connect so).
 */
export function isTransientError(error: unknown): boolean {
  return check(error, 0);
}

function check(error: unknown, depth: number): boolean {
  if (typeof error !== 'object' || error === null || depth > 5) return false;
  const e = error as {
    name?: unknown;
    code?: unknown;
    Code?: unknown;
    message?: unknown;
    transient?: unknown;
    $retryable?: unknown;
    $metadata?: { httpStatusCode?: unknown };
    errors?: unknown;
    cause?: unknown;
  };
  // An abort is the caller's decision, never something to retry.
  if (e.name === 'AbortError') return false;
  // Our own DestinationError (or anything shaped like it) already knows.
  if (typeof e.transient === 'boolean') return e.transient;
  if (e.$retryable) return true;
  // By name first: S3 answers RequestTimeout, and some services throttle, with a 400.
  for (const name of [e.name, e.code, e.Code]) {
    if (typeof name !== 'string') continue;
    if (NETWORK_CODES.has(name) || TRANSIENT_NAMES.has(name)) return true;
  }
  const status = e.$metadata?.httpStatusCode;
  if (typeof status === 'number') {
    if (status >= 500 || status === 429 || status === 408) return true;
    if (status >= 400) return false; // a real answer from the service: it will say the same again
  }
  if (typeof e.message === 'string' && /socket hang up|other side closed/i.test(e.message)) return true;
  if (Array.isArray(e.errors) && e.errors.some((inner) => check(inner, depth + 1))) return true;
  return check(e.cause, depth + 1);
}
