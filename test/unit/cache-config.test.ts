/**
 * `cache: { key, path }` in matrix.yaml and `cache_size` in a schedule: each mistake reported as
 * `file:line:col key: message` with a fix; the valid form reaches the model, the docker arguments and
 * the build's environment.
 */
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cacheMount } from '../../src/build/cache.js';
import { unsafeCacheKey } from '../../src/config/cache-key.js';
import { cacheMountArgs, containerEnv, dockerRunArgs } from '../../src/build/docker-executor.js';
import type { ExecuteOptions } from '../../src/build/executor.js';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { formatIssue, sortIssues } from '../../src/config/issues.js';
import { removeConfigDirs, writeConfigDir } from '../helpers/config-dir.js';

afterAll(removeConfigDirs);

// Line numbers below are those of this text; each case changes a line or two.
const MATRIX = `recipes: { repo: https://example.com/recipes.git, ref: main }
axes:
  python: ["3.11", "3.12"]
  cuda:
    - cpu
    - { value: cu126, image_tag: cuda12.6 }
packages:
  manywheel:
    image: "example/manywheel:{cuda.image_tag|cpu}"
    command: ["bash", "/recipes/build.sh"]
    cache: { key: "{package}-{cuda}", path: /cache }
  wheel-mac:
    executor: host
    command: ["bash", "mac/build.sh"]
    axes: { cuda: [cpu] }
    cache: { key: "mac-{python}" }
`;

const SCHEDULE = `cron: "5 0 * * *"
root: /tmp/nightshift-cache-config-root
machines:
  linux-0: { slots: 2 }
`;

function edit(text: string, from: string, to: string): string {
  if (text.split(from).length !== 2) throw new Error(`test setup: ${JSON.stringify(from)} must occur once`);
  return text.replace(from, to);
}

/** The formatted problems (file name only) of a configuration that must fail. */
async function problems(matrix: string, schedule = SCHEDULE): Promise<string[]> {
  const dir = writeConfigDir({ matrix, schedules: { nightly: schedule } });
  const error = await loadConfig({ dir }).then(
    () => undefined,
    (thrown: unknown) => thrown,
  );
  expect(error).toBeInstanceOf(ConfigError);
  return sortIssues((error as ConfigError).issues).map((issue) => formatIssue({ ...issue, file: path.basename(issue.file) }));
}

const CACHE_LINE = '    cache: { key: "{package}-{cuda}", path: /cache }';
const withCache = (cache: string) => edit(MATRIX, CACHE_LINE, `    cache: ${cache}`);

describe('cache configuration errors', () => {
  it.each([
    [
      'a key naming no axis',
      '{ key: "{package}-{cdua}", path: /cache }',
      /^matrix\.yaml:11:19 packages\.manywheel\.cache\.key: \{cdua\} names no axis or variable; did you mean "cuda"\?$/,
    ],
    [
      'a key holding "/"',
      '{ key: "{package}/{cuda}", path: /cache }',
      /^matrix\.yaml:11:19 packages\.manywheel\.cache\.key: "\{package\}\/\{cuda\}" gives "manywheel\/cpu" for manywheel_3\.11_cpu, which is not one folder name under <root>\/cache: it holds "\/"; build the key from axes and literal text, like "\{package\}-\{cuda\}"$/,
    ],
    ['a key holding ".."', '{ key: "..{cuda}", path: /cache }', /cache\.key: "\.\.\{cuda\}" gives "\.\.cpu" .*it holds "\.\."/],
    ['a key rendering empty', '{ key: "{cuda.tag|}", path: /cache }', /cache\.key: "\{cuda\.tag\|\}" gives "" for manywheel_3\.11_cpu, .*it is empty/],
    ['a key with a space', '{ key: "ccache {cuda}", path: /cache }', /gives "ccache cpu" .*only letters, digits/],
    [
      'an attribute some values lack',
      '{ key: "{cuda.image_tag}", path: /cache }',
      /cache\.key: \{cuda\.image_tag\}: cuda value "cpu" has no attribute image_tag; add it to that value or give a fallback like \{cuda\.image_tag\|default\}/,
    ],
    [
      'a docker cache without path',
      '{ key: "{package}" }',
      /^matrix\.yaml:11:12 packages\.manywheel\.cache: a docker build needs the path where its cache is mounted in the container; add path: \/cache$/,
    ],
    [
      'a relative path',
      '{ key: "{package}", path: cache }',
      /^matrix\.yaml:11:38 packages\.manywheel\.cache\.path: expected an absolute path inside the container like \/cache, got "cache"$/,
    ],
    ['the path /out', '{ key: "{package}", path: /out }', /cache\.path: \/out is \/out, where nightshift mounts the build's artifact folder; choose another path like \/cache/],
    [
      'a path inside /recipes',
      '{ key: "{package}", path: /recipes/cache }',
      /cache\.path: \/recipes\/cache is inside \/recipes, where nightshift mounts the recipes; choose another path/,
    ],
    ['the path /', '{ key: "{package}", path: / }', /cache\.path: mounting the cache at \/ would hide the whole container/],
    ['a path with ..', '{ key: "{package}", path: /cache/../out }', /cache\.path: write the path plainly, without "\/\/", "\." or "\.\." parts or a trailing "\/": "\/out"/],
    ['a path with a trailing /', '{ key: "{package}", path: /cache/ }', /write the path plainly.*"\/cache"/],
    ['an unknown key', '{ key: "{package}", path: /cache, size: 5g }', /cache\.size: unknown key "size"/],
    ['no key', '{ path: /cache }', /cache\.key: missing required key "key"/],
  ])('%s', async (_name, cache, message) => {
    const found = await problems(withCache(cache));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(message);
  });

  it('refuses a path for a host build, which has no container', async () => {
    expect(await problems(edit(MATRIX, 'cache: { key: "mac-{python}" }', 'cache: { key: "mac-{python}", path: /cache }'))).toEqual([
      'matrix.yaml:16:41 packages.wheel-mac.cache.path: a host build has no container to mount the cache in: it finds the folder in NIGHTSHIFT_CACHE; remove path',
    ]);
  });

  it('reports a key that is unsafe for one cell only once, naming that cell', async () => {
    const matrix = edit(MATRIX, CACHE_LINE, '    cache: { key: "{package}-{cuda.image_tag|x y}", path: /cache }');
    const found = await problems(matrix);
    expect(found).toHaveLength(1);
    expect(found[0]).toMatch(/gives "manywheel-x y" for manywheel_3\.11_cpu/);
  });

  it('refuses a cache_size that is not a size', async () => {
    expect(await problems(MATRIX, `${SCHEDULE}cache_size: lots\n`)).toEqual(['nightly.yaml:5:13 cache_size: expected a size like 512m or 32g, got "lots"']);
  });
});

describe('a valid cache', () => {
  it('reaches the model, with cache_size (default 50g, or as written with binary units)', async () => {
    const config = await loadConfig({ dir: writeConfigDir({ matrix: MATRIX, schedules: { nightly: SCHEDULE, big: `${SCHEDULE}cache_size: 100GiB\n` } }), schedule: 'all' });
    expect(config.matrix.packages.map((p) => p.cache)).toEqual([
      { key: '{package}-{cuda}', path: '/cache' },
      { key: 'mac-{python}', path: undefined },
    ]);
    expect(Object.fromEntries(config.schedules.map((s) => [s.name, s.cacheSizeBytes]))).toEqual({ nightly: 50 * 1024 ** 3, big: 100 * 1024 ** 3 });
  });

  it('gives each cell its folder under <root>/cache, and a host build no container path', async () => {
    const config = await loadConfig({ dir: writeConfigDir({ matrix: MATRIX, schedules: { nightly: SCHEDULE } }) });
    const mount = (id: string) =>
      cacheMount(
        config.cells.find((c) => c.id === id)!,
        '/srv/ns',
        '2026_11_22',
        'm1',
      );
    expect(mount('manywheel_3.12_cu126')).toEqual({ hostDir: '/srv/ns/cache/manywheel-cu126', path: '/cache' });
    expect(mount('manywheel_3.11_cu126')).toEqual({ hostDir: '/srv/ns/cache/manywheel-cu126', path: '/cache' });
    expect(mount('wheel-mac_3.11_cpu')).toEqual({ hostDir: '/srv/ns/cache/mac-3.11' });
  });
});

describe('the cache in docker run', () => {
  const options = {
    id: 'manywheel_3.12_cu126',
    date: '2026_11_22',
    machine: 'm1',
    root: '/srv/ns',
    command: ['true'],
    env: { A: '1' },
    image: 'img',
    resources: {},
    recipesDir: '/srv/ns/2026_11_22/recipes',
    outDir: '/srv/ns/2026_11_22/artifacts/x',
    workDir: '/srv/ns/2026_11_22/work/x',
    logFd: 1,
    timeoutMs: 1000,
    signal: new AbortController().signal,
  } satisfies ExecuteOptions;

  it('bind-mounts the folder read-write at the path and names the path in NIGHTSHIFT_CACHE', () => {
    const cache = { hostDir: '/srv/ns/cache/manywheel-cu126', path: '/cache' };
    const args = dockerRunArgs({ ...options, cache }, 'name', '/tmp/env');
    expect(args.join(' ')).toContain('--mount type=bind,src=/srv/ns/cache/manywheel-cu126,dst=/cache');
    expect(args.indexOf('--mount')).toBeLessThan(args.indexOf('img'));
    expect(containerEnv({ env: {}, cache })).toMatchObject({ NIGHTSHIFT_CACHE: '/cache' });
  });

  it('adds nothing without a cache', () => {
    expect(dockerRunArgs(options, 'name', '/tmp/env')).not.toContain('--mount');
    expect(containerEnv({ env: {} })).not.toHaveProperty('NIGHTSHIFT_CACHE');
  });

  it('quotes a folder holding a comma, as --mount reads CSV', () => {
    expect(cacheMountArgs({ hostDir: '/srv/a,b "c"/cache/k', path: '/cache' })).toEqual(['--mount', 'type=bind,"src=/srv/a,b ""c""/cache/k",dst=/cache']);
  });
});

describe('unsafeCacheKey', () => {
  it.each([
    ['manywheel-cu126', undefined],
    ['py3.12_cu126+x', undefined],
    ['', 'empty'],
    ['a/b', '"/"'],
    ['..', '".."'],
    ['a..b', '".."'],
    ['.hidden', 'letters'],
    ['a b', 'letters'],
  ])('%j', (key, why) => {
    const found = unsafeCacheKey(key);
    if (why === undefined) expect(found).toBeUndefined();
    else expect(found).toContain(why);
  });
});
