/**
 * The queue's Redis URL: NIGHTSHIFT_REDIS_URL replaces the schedule's (it holds the credentials), and a
 * password is masked wherever a URL is shown.
 */
import { describe, expect, it } from 'vitest';
import { redactedRedisUrl, redisUrlProblem, resolveRedisUrl } from '../../src/config/queue-url.js';
import { ExitCode, NightshiftError } from '../../src/errors.js';

const schedule = { file: 'schedules/nightly.yaml', queue: { url: 'redis://redis.example.com:6379/0' } };

describe('resolveRedisUrl', () => {
  it('takes the schedule’s url when NIGHTSHIFT_REDIS_URL is not set or empty', () => {
    const fromFile = { url: 'redis://redis.example.com:6379/0', source: 'queue.url in schedules/nightly.yaml' };
    expect(resolveRedisUrl(schedule, {})).toEqual(fromFile);
    expect(resolveRedisUrl(schedule, { NIGHTSHIFT_REDIS_URL: '  ' })).toEqual(fromFile);
  });

  it('lets NIGHTSHIFT_REDIS_URL, credentials included, override the schedule’s url', () => {
    const env = { NIGHTSHIFT_REDIS_URL: ' rediss://builder:s3cret@redis.internal:6380/2 ' };
    expect(resolveRedisUrl(schedule, env)).toEqual({ url: 'rediss://builder:s3cret@redis.internal:6380/2', source: 'NIGHTSHIFT_REDIS_URL' });
  });

  it('turns nothing on without queue: in the schedule, even with NIGHTSHIFT_REDIS_URL set', () => {
    expect(resolveRedisUrl({ file: 'schedules/nightly.yaml' }, { NIGHTSHIFT_REDIS_URL: 'redis://redis.internal' })).toBeUndefined();
  });

  it('refuses a NIGHTSHIFT_REDIS_URL that is no Redis URL (exit 2), without showing its password', () => {
    for (const bad of ['http://u:s3cret@redis.internal', 'redis://:s3cret@', 'redis://:s3cret@redis.internal/x', 'redis://:s3/cret@redis.internal:99999']) {
      let thrown: unknown;
      try {
        resolveRedisUrl(schedule, { NIGHTSHIFT_REDIS_URL: bad });
      } catch (error) {
        thrown = error;
      }
      expect(thrown, bad).toBeInstanceOf(NightshiftError);
      expect((thrown as NightshiftError).exitCode).toBe(ExitCode.usage);
      expect((thrown as NightshiftError).message).toMatch(/^NIGHTSHIFT_REDIS_URL: expected a redis:\/\/ or rediss:\/\/ URL/);
      expect((thrown as NightshiftError).message, bad).not.toMatch(/s3|cret/);
    }
  });
});

describe('redisUrlProblem', () => {
  it.each(['redis://redis.example.com', 'redis://redis.example.com:6379', 'redis://redis.example.com:6379/0', 'rediss://10.0.0.5/15', 'redis://[::1]:6380/', 'redis://user@host'])(
    'accepts %s',
    (url) => {
      expect(redisUrlProblem(url, 'refused')).toBeUndefined();
      expect(redisUrlProblem(url, 'allowed')).toBeUndefined();
    },
  );

  it('refuses a password only where credentials are refused, and never quotes it', () => {
    for (const url of ['redis://:hunter2@host:6379/0', 'redis://user:hunter2@host', 'redis://:hun/ter2@host']) {
      const problem = redisUrlProblem(url, 'refused');
      expect(problem, url).toMatch(/^the url holds a password: credentials only from NIGHTSHIFT_REDIS_URL/);
      expect(problem, url).not.toMatch(/hun|ter2/);
    }
    expect(redisUrlProblem('redis://user:hunter2@host:6379/0', 'allowed')).toBeUndefined();
  });

  it.each([
    ['redis.example.com:6379', /expected a redis:\/\/ or rediss:\/\/ URL like "redis:\/\/redis\.example\.com:6379\/0" \(rediss:\/\/ for TLS\), got "redis\.example\.com:6379"$/],
    ['tcp://host:6379', /\(rediss:\/\/ for TLS\), got "tcp:\/\/host:6379"$/],
    ['redis://', /it needs a host, got "redis:\/\/"$/],
    ['redis://host:6379/zero', /only a database number like \/0, got "redis:\/\/host:6379\/zero"$/],
    ['redis://host/0/1', /only a database number like \/0/],
    ['redis://host#x', /options after "\?" or "#" are not read/],
  ])('refuses %s', (url, message) => expect(redisUrlProblem(url, 'allowed')).toMatch(message));
});

describe('redactedRedisUrl', () => {
  it.each([
    ['redis://redis.example.com:6379/0', 'redis://redis.example.com:6379/0'],
    ['redis://user@host', 'redis://user@host'],
    ['redis://:hunter2@host:6379/0', 'redis://:***@host:6379/0'],
    ['rediss://builder:hunter2@host/1', 'rediss://builder:***@host/1'],
    // Not valid URLs: the text from the user's ':' to the last '@' goes.
    ['redis://:hun/ter2@host:99999', 'redis://:***@host:99999'],
    ['redis://u:p@ss@word@host:99999', 'redis://u:***@host:99999'],
    ['not a url', 'not a url'],
  ])('%s -> %s', (url, shown) => expect(redactedRedisUrl(url)).toBe(shown));
});
