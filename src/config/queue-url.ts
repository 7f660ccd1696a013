/**
 * The Redis URL of a schedule's shared queue (`queue: { url, lease }`). The schedule is committed and
 * copied to every machine, so its URL names only where Redis is; a password comes from
 * NIGHTSHIFT_REDIS_URL, which replaces the whole URL. Any URL shown in a message or log goes through
 * redactedRedisUrl() first.
 */
import { ExitCode, NightshiftError } from '../errors.js';

export const REDIS_URL_VAR = 'NIGHTSHIFT_REDIS_URL';
/** The shortest lease: a machine renews its builds well within it, so a busy event loop never loses one. */
export const MIN_LEASE_S = 10;
const EXAMPLE = 'redis://redis.example.com:6379/0';

/**
 * Why `url` is not a Redis URL nightshift can use (`redis://` or `rediss://`, a host, an optional port and
 * database number), or undefined when it is. `credentials: 'refused'` (a URL in a file) also refuses a
 * password. The message never holds the password.
 */
export function redisUrlProblem(url: string, credentials: 'allowed' | 'refused'): string | undefined {
  const parsed = parse(url);
  if (credentials === 'refused' && holdsPassword(url, parsed)) {
    const plain = parsed?.hostname ? `"${parsed.protocol}//${parsed.host}${parsed.pathname}"` : `"${EXAMPLE}"`;
    return `the url holds a password: credentials only from ${REDIS_URL_VAR}, which overrides this url; write ${plain} here and set ${REDIS_URL_VAR} with the password on each machine`;
  }
  const shape = `expected a redis:// or rediss:// URL like "${EXAMPLE}"`;
  const got = JSON.stringify(redactedRedisUrl(url));
  if (!parsed) return `${shape}, got ${got}`;
  if (parsed.protocol !== 'redis:' && parsed.protocol !== 'rediss:') return `${shape} (rediss:// for TLS), got ${got}`;
  if (!parsed.hostname) return `${shape}: it needs a host, got ${got}`;
  if (parsed.search || parsed.hash) return `${shape}: options after "?" or "#" are not read, got ${got}`;
  if (parsed.pathname !== '' && parsed.pathname !== '/' && !/^\/\d+$/.test(parsed.pathname)) {
    return `${shape}: after the host comes only a database number like /0, got ${got}`;
  }
  return undefined;
}

/** `url` with its password replaced by `***`; safe for messages and logs also when `url` is not a valid URL. */
export function redactedRedisUrl(url: string): string {
  const parsed = parse(url);
  if (parsed) {
    if (!parsed.password) return url;
    parsed.password = '***';
    return parsed.href;
  }
  // Not a URL: everything from the first ':' of the user part to the last '@' may be a password.
  return url.replace(/^([a-z][a-z0-9+.-]*:\/\/[^:/@]*:).*@/is, '$1***@');
}

export interface ResolvedRedisUrl {
  /** The URL to connect with; may hold a password: show redactedRedisUrl(url) instead. */
  url: string;
  /** Where it came from, for messages: `NIGHTSHIFT_REDIS_URL` or `queue.url in <schedule file>`. */
  source: string;
}

/**
 * The URL of the schedule's queue: NIGHTSHIFT_REDIS_URL when set (it holds the credentials), else the
 * schedule's `queue.url`. Undefined when the schedule has no `queue:` (the variable alone turns nothing
 * on). Throws a usage error (exit 2) when the variable is not a Redis URL, without showing its password.
 */
export function resolveRedisUrl(schedule: { file: string; queue?: { url: string } }, env: NodeJS.ProcessEnv = process.env): ResolvedRedisUrl | undefined {
  if (!schedule.queue) return undefined;
  const fromEnv = env[REDIS_URL_VAR]?.trim();
  if (!fromEnv) return { url: schedule.queue.url, source: `queue.url in ${schedule.file}` };
  const problem = redisUrlProblem(fromEnv, 'allowed');
  if (problem) throw new NightshiftError(`${REDIS_URL_VAR}: ${problem}; percent-encode special characters in the user and password`, ExitCode.usage);
  return { url: fromEnv, source: REDIS_URL_VAR };
}

function parse(url: string): URL | undefined {
  try {
    return new URL(url);
  } catch {
    return undefined;
  }
}

/** A password, also in text that is not a valid URL (`redis://:a/b@host`): a ':' in the part before the last '@'. */
function holdsPassword(url: string, parsed: URL | undefined): boolean {
  if (parsed) return parsed.password !== '';
  const rest = /^[a-z][a-z0-9+.-]*:\/\/(.*)$/is.exec(url)?.[1];
  if (rest === undefined) return false;
  const at = rest.lastIndexOf('@');
  return at >= 0 && rest.slice(0, at).includes(':');
}
