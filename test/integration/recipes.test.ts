import { mkdtemp, readFile, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { NightshiftError } from '../../src/errors.js';
import { fetchRecipes, maskCredentials } from '../../src/night/recipes.js';
import { git, makeRecipesRepo, type RecipesRepo } from '../helpers/git.js';

let repo: RecipesRepo;
let first: string;
let night: string;
let dest: string;

beforeAll(async () => {
  repo = await makeRecipesRepo({ files: { 'manywheel/build.sh': 'echo building\n' } });
  first = await git(repo.dir, ['rev-parse', 'main']);
});
afterAll(() => repo.cleanup());
beforeEach(async () => {
  night = await mkdtemp(path.join(tmpdir(), 'nightshift-night-'));
  dest = path.join(night, 'recipes');
});
afterEach(() => rm(night, { recursive: true, force: true }));

const head = (dir: string) => git(dir, ['rev-parse', 'HEAD']);
const failure = (promise: Promise<unknown>) =>
  promise.then(
    () => undefined,
    (error: unknown) => error as NightshiftError,
  );

describe('fetchRecipes', () => {
  it('clones the ref shallowly and records its commit', async () => {
    const result = await fetchRecipes({ repo: repo.url, ref: 'main', dest, refresh: false });
    expect(result).toEqual({ commit: first, reused: false });
    expect(await head(dest)).toBe(first);
    expect(await readFile(path.join(dest, 'manywheel/build.sh'), 'utf8')).toBe('echo building\n');
    expect(await git(dest, ['rev-parse', '--is-shallow-repository'])).toBe('true');
    expect(await readdir(night)).toEqual(['recipes']); // no staging folder left next to it
  });

  it('reuses the clone on a rerun even after the remote moved on, and refresh gets the new commit', async () => {
    const local = await makeRecipesRepo({ files: { 'a.sh': 'one\n' } });
    try {
      const one = await fetchRecipes({ repo: local.url, ref: 'main', dest, refresh: false });
      const two = await local.commit({ 'a.sh': 'two\n' }, 'second');
      expect(await fetchRecipes({ repo: local.url, ref: 'main', dest, refresh: false })).toEqual({ commit: one.commit, reused: true });
      expect(await fetchRecipes({ repo: local.url, ref: 'main', dest, refresh: true })).toEqual({ commit: two, reused: false });
      expect(await readFile(path.join(dest, 'a.sh'), 'utf8')).toBe('two\n');
      expect(await readdir(night)).toEqual(['recipes']);
    } finally {
      await local.cleanup();
    }
  });

  it('clones again when the folder holds another ref or something that is not its clone', async () => {
    await fetchRecipes({ repo: repo.url, ref: 'main', dest, refresh: false });
    expect((await fetchRecipes({ repo: repo.url, ref: first, dest, refresh: false })).reused).toBe(false);
    await rm(path.join(dest, '.git'), { recursive: true });
    expect(await fetchRecipes({ repo: repo.url, ref: 'main', dest, refresh: false })).toEqual({ commit: first, reused: false });
  });

  it('checks out a commit sha given as the ref', async () => {
    const local = await makeRecipesRepo({ files: { 'a.sh': 'one\n' } });
    try {
      const one = await git(local.dir, ['rev-parse', 'main']);
      await local.commit({ 'a.sh': 'two\n' });
      expect(await fetchRecipes({ repo: local.url, ref: one.slice(0, 12), dest, refresh: false })).toEqual({ commit: one, reused: false });
      expect(await readFile(path.join(dest, 'a.sh'), 'utf8')).toBe('one\n');
    } finally {
      await local.cleanup();
    }
  });

  it('checks out a tag', async () => {
    const local = await makeRecipesRepo({ files: { 'a.sh': 'one\n' } });
    try {
      await git(local.dir, ['tag', 'v1', 'main']);
      expect((await fetchRecipes({ repo: local.url, ref: 'v1', dest, refresh: false })).commit).toBe(await git(local.dir, ['rev-parse', 'v1']));
    } finally {
      await local.cleanup();
    }
  });

  it('fails with exit 4 naming a missing repository and what git said, leaving nothing at dest', async () => {
    const missing = `${repo.url}-missing`;
    const error = await failure(fetchRecipes({ repo: missing, ref: 'main', dest, refresh: false }));
    expect(error).toBeInstanceOf(NightshiftError);
    expect(error!.exitCode).toBe(4);
    expect(error!.message).toContain(missing);
    expect(error!.message).toMatch(/does not appear to be a git repository/);
    expect(error!.message).toMatch(/Check recipes\.repo and recipes\.ref/);
    expect(await readdir(night)).toEqual([]);
  });

  it('fails with exit 4 naming a missing ref, and keeps the earlier clone intact', async () => {
    await fetchRecipes({ repo: repo.url, ref: 'main', dest, refresh: false });
    const error = await failure(fetchRecipes({ repo: repo.url, ref: 'no-such-branch', dest, refresh: true }));
    expect(error).toBeInstanceOf(NightshiftError);
    expect(error!.exitCode).toBe(4);
    expect(error!.message).toContain(repo.url);
    expect(error!.message).toContain('"no-such-branch"');
    expect(error!.message).toMatch(/Remote branch no-such-branch not found/);
    expect(await head(dest)).toBe(first);
    expect(await readdir(night)).toEqual(['recipes']);
  });

  it('fails on a sha that is not in the repository, leaving no half clone', async () => {
    const error = await failure(fetchRecipes({ repo: repo.url, ref: 'deadbeefdeadbeef', dest, refresh: false }));
    expect(error!.exitCode).toBe(4);
    expect(error!.message).toContain('"deadbeefdeadbeef"');
    expect(error!.message).toMatch(/has no branch, tag or commit deadbeefdeadbeef/);
    await expect(stat(dest)).rejects.toThrow(/ENOENT/);
    expect(await readdir(night)).toEqual([]);
  });

  it('never shows a password from the URL', async () => {
    const secret = 'hunter2-s3cret';
    // Port 1 on loopback refuses at once: git fails without any network.
    const error = await failure(fetchRecipes({ repo: `https://builder:${secret}@127.0.0.1:1/example/builder.git`, ref: 'main', dest, refresh: false }));
    expect(error!.exitCode).toBe(4);
    expect(error!.message).not.toContain(secret);
    expect(error!.message).toContain('https://***@127.0.0.1:1/example/builder.git');
  });

  it('keeps credentials out of the clone it leaves behind, which is mounted into every build', async () => {
    const withToken = 'https://builder:hunter2-s3cret@git.example.invalid/builder.git';
    // git's own url.<base>.insteadOf sends that URL to the local bare repository.
    const env = { GIT_CONFIG_COUNT: '1', GIT_CONFIG_KEY_0: `url.${repo.url}.insteadOf`, GIT_CONFIG_VALUE_0: withToken };
    Object.assign(process.env, env);
    try {
      expect(await fetchRecipes({ repo: withToken, ref: 'main', dest, refresh: false })).toEqual({ commit: first, reused: false });
      expect(await fetchRecipes({ repo: withToken, ref: 'main', dest, refresh: false })).toEqual({ commit: first, reused: true });
    } finally {
      // eslint-disable-next-line @typescript-eslint/no-dynamic-delete -- process.env is the environment: delete unsets a variable
      for (const key of Object.keys(env)) delete process.env[key];
    }
    expect(await readFile(path.join(dest, '.git', 'config'), 'utf8')).not.toContain('hunter2');
    expect(await git(dest, ['remote', 'get-url', 'origin'])).toBe('https://git.example.invalid/builder.git');
  });

  it('masks user info in any URL of a message', () => {
    expect(maskCredentials("fatal: unable to access 'https://u:p@ss@host/x.git/' and ssh://git@host/y")).toBe(
      "fatal: unable to access 'https://***@host/x.git/' and ssh://***@host/y",
    );
    expect(maskCredentials('git@github.com:example/builder.git')).toBe('git@github.com:example/builder.git');
  });

  it('says so when git itself cannot be run', async () => {
    const error = await failure(fetchRecipes({ repo: repo.url, ref: 'main', dest, refresh: false, git: '/nonexistent/git' }));
    expect(error!.exitCode).toBe(4);
    expect(error!.message).toMatch(/ENOENT/);
  });
});
