/** Real git repositories for tests: a bare repository (cloned by file:// URL) fed from a work tree. */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { execa } from 'execa';

export interface RecipesRepo {
  /** file:// URL of the bare repository. */
  url: string;
  /** The bare repository's folder. */
  dir: string;
  /** Writes `files` (path → content), commits and pushes them; returns the new commit's sha. */
  commit: (files: Record<string, string>, message?: string) => Promise<string>;
  cleanup(): Promise<void>;
}

// Independent of whoever runs the tests: no global config, no signing, a fixed author.
const GIT_ENV = { GIT_CONFIG_GLOBAL: '/dev/null', GIT_CONFIG_NOSYSTEM: '1', GIT_TERMINAL_PROMPT: '0' };
const IDENTITY = ['-c', 'user.name=nightshift tests', '-c', 'user.email=tests@nightshift.invalid', '-c', 'commit.gpgsign=false'];

export async function git(cwd: string, args: readonly string[]): Promise<string> {
  const r = await execa('git', [...IDENTITY, ...args], { cwd, env: GIT_ENV, stdin: 'ignore' });
  return r.stdout.trim();
}

export async function makeRecipesRepo(options: { files: Record<string, string>; branch?: string }): Promise<RecipesRepo> {
  const branch = options.branch ?? 'main';
  const base = await mkdtemp(path.join(tmpdir(), 'nightshift-git-'));
  const work = path.join(base, 'work');
  const bare = path.join(base, 'recipes.git');
  await mkdir(work);
  await git(base, ['init', '--quiet', '--bare', '-b', branch, bare]);
  await git(base, ['init', '--quiet', '-b', branch, work]);
  await git(work, ['remote', 'add', 'origin', bare]);

  const commit = async (files: Record<string, string>, message = 'recipes'): Promise<string> => {
    for (const [name, content] of Object.entries(files)) {
      const file = path.join(work, name);
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
    }
    await git(work, ['add', '--all']);
    await git(work, ['commit', '--quiet', '--allow-empty', '-m', message]);
    await git(work, ['push', '--quiet', 'origin', `HEAD:refs/heads/${branch}`]);
    return git(work, ['rev-parse', 'HEAD']);
  };
  await commit(options.files, 'first recipes');
  return { url: pathToFileURL(bare).href, dir: bare, commit, cleanup: () => rm(base, { recursive: true, force: true }) };
}
