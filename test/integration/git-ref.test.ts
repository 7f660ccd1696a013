/**
 * A recipes ref nightshift accepts is one git accepts: `gitRefProblem` against `git check-ref-format`
 * itself, ref by ref (a bad one is a configuration error, exit 2, before any night starts).
 */
import { execa } from 'execa';
import { describe, expect, it } from 'vitest';
import { gitRefProblem } from '../../src/config/git-ref.js';

describe('recipes ref', () => {
  // The same verdict as git itself: check-ref-format with --allow-onelevel, as a branch, tag or sha may be given.
  const refs = [
    'main',
    'release/2.6',
    'v2.6.0',
    'abc123def0',
    'feature-x',
    'main branch',
    'a..b',
    'a~1',
    'a^',
    'a:b',
    'a?',
    'a*',
    'a[b',
    'a\\b',
    '-main',
    '/main',
    'main/',
    'a//b',
    'main.',
    '.hidden',
    'a/.b',
    'x.lock',
    'a/b.lock/c',
    '@',
    'a@{1}',
    'tab\there',
  ];
  it.each(refs)('%j: nightshift and git check-ref-format agree', async (ref) => {
    const git = await execa('git', ['check-ref-format', '--allow-onelevel', ref], { reject: false });
    expect(gitRefProblem(ref) === undefined, `nightshift: ${gitRefProblem(ref) ?? 'ok'}`).toBe(git.exitCode === 0);
  });
});
