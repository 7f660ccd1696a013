import { describe, expect, it } from 'vitest';
import { compareUrl, rangeText } from '../../src/report/commit-range.js';
import { logLink, servePageUrl } from '../../src/report/log-link.js';
import { scheduleSchema } from '../../src/config/schema.js';

const build = { key: 'nightshift/nights/2026_11_22/gpu-1/logs/torch_3.12_cu128.log', machine: 'gpu-1', id: 'torch_3.12_cu128' };

describe('logLink: where "Full log" points', () => {
  const s3 = { destinationUrl: 's3://nightlies/', date: '2026_11_22' };

  it('prefers log_url, then the serve page, then a file:// object, else nothing', () => {
    const all = { ...s3, logUrl: 'https://logs.example.com/{key}', serveUrl: 'http://{machine}.example.com:8080' };
    expect(logLink(all, build)).toBe(`https://logs.example.com/${build.key}`);
    expect(logLink({ ...all, logUrl: undefined }, build)).toBe('http://gpu-1.example.com:8080/nights/2026_11_22/builds/torch_3.12_cu128');
    expect(logLink({ destinationUrl: 'file:///srv/night%20builds/', date: s3.date }, build)).toBe(`file:///srv/night%20builds/${build.key}`);
    expect(logLink(s3, build)).toBeNull();
  });

  it('does not name a serve page for a cell without a machine (the shared queue)', () => {
    expect(logLink({ ...s3, serveUrl: 'http://{machine}:8080' }, { ...build, machine: '' })).toBeNull();
  });

  it('builds the serve route with the parts encoded and no doubled slash', () => {
    expect(servePageUrl('https://ci.example.com/nightshift/{machine}/', 'mac 1', '2026_11_22', 'a/b')).toBe(
      'https://ci.example.com/nightshift/mac%201/nights/2026_11_22/builds/a%2Fb',
    );
  });
});

describe('compareUrl and rangeText: the recipes commits a cell broke between', () => {
  const [good, bad] = ['1111111aaaaaaa', '2222222bbbbbbb'];

  it('links GitHub and GitLab compare views, credentials dropped', () => {
    expect(compareUrl('https://github.com/org/recipes.git', good, bad)).toBe(`https://github.com/org/recipes/compare/${good}...${bad}`);
    expect(compareUrl('https://x-access-token:s3cret@github.com/org/recipes', good, bad)).toBe(`https://github.com/org/recipes/compare/${good}...${bad}`);
    expect(compareUrl('https://gitlab.example.com/group/sub/recipes.git/', good, bad)).toBe(`https://gitlab.example.com/group/sub/recipes/-/compare/${good}...${bad}`);
  });

  it('gives no link for ssh, file, plain http or unknown hosts', () => {
    for (const repo of [
      'git@github.com:org/recipes.git',
      'file:///srv/git/recipes.git',
      'http://github.com/org/recipes',
      'https://git.example.com/org/recipes',
      'https://github.com/org',
      '/srv/recipes',
    ]) {
      expect(compareUrl(repo, good, bad)).toBeNull();
    }
  });

  it('says the range with short hashes, or why there is none', () => {
    expect(rangeText({ tonight: bad, lastGood: good, firstBad: bad, compareUrl: null })).toBe('1111111..2222222');
    expect(rangeText({ tonight: bad, lastGood: null, firstBad: bad, compareUrl: null })).toBe('first failing night at 2222222 (no good night in the history)');
    expect(rangeText({ tonight: bad, lastGood: bad, firstBad: bad, compareUrl: null })).toMatch(/^2222222 on both nights .*cause is elsewhere/);
    expect(rangeText({ tonight: null, lastGood: null, firstBad: null, compareUrl: null })).toBeNull();
  });
});

describe('report.serve_url in a schedule', () => {
  const serveUrl = scheduleSchema.shape.report.unwrap().shape.serve_url;

  it('takes an http(s) URL, with {machine} for the machine', () => {
    for (const url of ['http://{machine}.example.com:8080', 'https://ci.example.com/nightshift/{machine}', 'http://127.0.0.1:8080'])
      expect(serveUrl.safeParse(url).success).toBe(true);
  });

  it('refuses other schemes, spaces and credentials (the link ends up in mail)', () => {
    for (const url of [
      'ftp://{machine}.example.com',
      '{machine}.example.com:8080',
      'http://user:pw@{machine}.example.com',
      'http://a b.example.com',
      'http://x.example.com/?q=1',
    ]) {
      const parsed = serveUrl.safeParse(url);
      expect(parsed.success).toBe(false);
      expect(parsed.error?.issues[0]?.message).toMatch(/expected an http\(s\) URL .*like http:\/\/\{machine\}\.example\.com:8080/);
    }
  });
});
