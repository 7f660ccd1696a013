/**
 * The recipes clone of a night. A fresh shallow clone is made next to `dest` and renamed into
 * place, so `dest` only ever holds a complete clone; a rerun of the night reuses it unless asked to
 * refresh, so every build of the night runs the same recipes.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { execa } from 'execa';
import { ExitCode, NightshiftError } from '../errors.js';

export interface FetchRecipesOptions {
  repo: string;
  /** A branch, a tag or a commit sha. */
  ref: string;
  dest: string;
  /** Clone again even when `dest` already holds this repository at this ref. */
  refresh: boolean;
  /** The git executable; default `git` from PATH. */
  git?: string;
  signal?: AbortSignal;
}

export interface FetchedRecipes {
  /** The full sha checked out at `dest`. */
  commit: string;
  reused: boolean;
}

export async function fetchRecipes(options: FetchRecipesOptions): Promise<FetchedRecipes> {
  const git = gitRunner(options.git ?? 'git', options.signal);
  if (!options.refresh) {
    const commit = await reusableCommit(git, options);
    if (commit) return { commit, reused: true };
  }
  const parent = path.dirname(options.dest);
  await mkdir(parent, { recursive: true });
  // Next to dest: same file system, so the final rename is atomic.
  const staging = await mkdtemp(path.join(parent, `.${path.basename(options.dest)}.clone-`));
  try {
    const clone = path.join(staging, 'clone');
    await cloneAt(git, options, clone);
    const commit = (await git.must(['-C', clone, 'rev-parse', '--verify', 'HEAD^{commit}'], options)).trim();
    await markClone(git, options, clone);
    await moveInto(clone, options.dest, path.join(staging, 'previous'));
    return { commit, reused: false };
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

/** Masks the user-info part of URLs (`https://user:token@host` → `https://***@host`) anywhere in text. */
export function maskCredentials(text: string): string {
  return text.replace(/\b([a-z][a-z0-9+.-]*:\/\/)[^\s/'"]*@/gi, '$1***@');
}

interface GitResult {
  ok: boolean;
  stdout: string;
  stderr: string;
}

interface Git {
  run(args: readonly string[]): Promise<GitResult>;
  /** Runs git; a failure becomes the user-facing clone error. */
  must(args: readonly string[], options: FetchRecipesOptions): Promise<string>;
}

function gitRunner(executable: string, signal: AbortSignal | undefined): Git {
  const run = async (args: readonly string[]): Promise<GitResult> => {
    const r = await execa(executable, args, {
      reject: false,
      stdin: 'ignore',
      // Never wait for someone to type a password: a night runs unattended.
      env: { GIT_TERMINAL_PROMPT: '0' },
      cancelSignal: signal,
    });
    signal?.throwIfAborted();
    // stderr is empty when git could not even start (ENOENT); the spawn error says why.
    const stderr = r.stderr || (r.failed ? (r.originalMessage ?? '') : '');
    return { ok: !r.failed, stdout: r.stdout, stderr };
  };
  return {
    run,
    async must(args, options) {
      const r = await run(args);
      if (!r.ok) throw cloneError(options, r.stderr);
      return r.stdout;
    },
  };
}

/** HEAD of `dest` when it is a clone this function made of the same repo and ref. */
async function reusableCommit(git: Git, options: FetchRecipesOptions): Promise<string | undefined> {
  // Read the clone's own config file: `git -C dest config` would fall through to an enclosing repo.
  const config = path.join(options.dest, '.git', 'config');
  const repo = await git.run(['config', '--file', config, '--get', 'nightshift.repo']);
  const ref = await git.run(['config', '--file', config, '--get', 'nightshift.ref']);
  if (!repo.ok || !ref.ok || repo.stdout.trim() !== fingerprint(options.repo) || ref.stdout.trim() !== options.ref) return undefined;
  const head = await git.run(['-C', options.dest, 'rev-parse', '--verify', 'HEAD^{commit}']);
  return head.ok ? head.stdout.trim() : undefined;
}

async function cloneAt(git: Git, options: FetchRecipesOptions, dir: string): Promise<void> {
  const { repo, ref } = options;
  const shallow = await git.run(['clone', '--quiet', '--depth', '1', '--branch', ref, '--single-branch', '--', repo, dir]);
  if (shallow.ok) return;
  // --branch only takes branch and tag names; a commit needs the history to check it out from.
  if (!/^[0-9a-f]{7,40}$/i.test(ref)) throw cloneError(options, shallow.stderr);
  await rm(dir, { recursive: true, force: true });
  await git.must(['clone', '--quiet', '--no-checkout', '--', repo, dir], options);
  const commit = await git.run(['-C', dir, 'rev-parse', '--verify', '--quiet', `${ref}^{commit}`]);
  if (!commit.ok) throw cloneError(options, `the repository has no branch, tag or commit ${ref}`);
  await git.must(['-C', dir, 'checkout', '--quiet', '--detach', commit.stdout.trim()], options);
}

/**
 * Records what the clone is of, for reuse, and drops credentials from its remote URL: the clone is
 * mounted into every build and must not hand a token to build scripts.
 */
async function markClone(git: Git, options: FetchRecipesOptions, dir: string): Promise<void> {
  await git.must(['-C', dir, 'config', 'nightshift.repo', fingerprint(options.repo)], options);
  await git.must(['-C', dir, 'config', 'nightshift.ref', options.ref], options);
  await git.must(['-C', dir, 'remote', 'set-url', 'origin', stripCredentials(options.repo)], options);
}

/** Renames `clone` to `dest`, moving an existing `dest` to `previous` first (and back on failure). */
async function moveInto(clone: string, dest: string, previous: string): Promise<void> {
  const hadPrevious = await rename(dest, previous).then(
    () => true,
    (error: unknown) => {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return false;
      throw error;
    },
  );
  try {
    await rename(clone, dest);
  } catch (error) {
    if (hadPrevious) await rename(previous, dest).catch(() => undefined);
    throw error;
  }
}

/** A hash, not the URL itself, so no credential is stored in the clone. */
function fingerprint(repo: string): string {
  return createHash('sha256').update(repo).digest('hex');
}

function stripCredentials(repo: string): string {
  return repo.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^\s/]*@/i, '$1');
}

function cloneError(options: FetchRecipesOptions, stderr: string): NightshiftError {
  const said = gitReason(stderr);
  return new NightshiftError(
    `could not fetch the recipes ${maskCredentials(options.repo)} at ref "${options.ref}": ${maskCredentials(said) || 'git failed without saying why'}. ` +
      `Check recipes.repo and recipes.ref in matrix.yaml, and that this machine can reach the repository and may read it (network, proxy, credentials).`,
    ExitCode.serviceUnavailable,
  );
}

/** git's own words, short: its fatal/error lines (the first says why), else its last lines. */
function gitReason(stderr: string): string {
  const lines = stderr
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '');
  const errors = lines.filter((line) => /^(fatal|error):/.test(line));
  return (errors.length > 0 ? errors.slice(0, 3) : lines.slice(-3)).join(' | ').replace(/\.+$/, '');
}
