/**
 * Selectors: cibuildwheel-style globs over build ids, with `{a,b}` braces — `manywheel_3.1{2,3}_cu12*`.
 * A selector string may hold several globs separated by spaces.
 */
import picomatch from 'picomatch';
import { ExitCode, NightshiftError } from '../errors.js';

export type Selector = (id: string) => boolean;

const globsOf = (globs: string | readonly string[]) => (typeof globs === 'string' ? [globs] : globs).flatMap((glob) => glob.split(/\s+/)).filter(Boolean);

export function selector(globs: string | readonly string[]): Selector {
  const matchers = globsOf(globs).map((glob) => picomatch(glob, { dot: true }));
  return (id) => matchers.some((match) => match(id));
}

// What a build id holds (letters, digits, . + - _) and what glob syntax adds.
const ID_OR_GLOB = /^[A-Za-z0-9.+_\-*?[\]{},!()|@^\\]*$/;

/** Why a glob is broken (an unclosed bracket, a character no build id holds), or undefined. */
export function globProblem(glob: string): string | undefined {
  if (!ID_OR_GLOB.test(glob)) {
    // eslint-disable-next-line @typescript-eslint/no-misused-spread -- code points are meant: the first character no build id holds, shown whole
    const bad = [...glob].find((char) => !ID_OR_GLOB.test(char))!;
    return `${JSON.stringify(bad)} never appears in a build id (letters, digits, ".", "+", "-", "_" joined by globs like * ? {a,b} [0-9])`;
  }
  try {
    picomatch.makeRe(glob, { strictBrackets: true });
    return undefined;
  } catch (error) {
    return (error as Error).message.replace(/ - use .*$/, '').toLowerCase();
  }
}

/** Cells kept by `--only` (when given) and not removed by `--skip`; a broken glob is a usage error. */
export function filterIds<T extends { id: string }>(items: readonly T[], options: { only?: readonly string[]; skip?: readonly string[] }): T[] {
  for (const [flag, globs] of [
    ['--only', options.only],
    ['--skip', options.skip],
  ] as const) {
    for (const glob of globsOf(globs ?? [])) {
      const why = globProblem(glob);
      if (why) throw new NightshiftError(`${flag} ${JSON.stringify(glob)} is not a usable glob: ${why}; see the build ids with nightshift plan --all-machines`, ExitCode.usage);
    }
  }
  const only = options.only?.length ? selector(options.only) : () => true;
  const skip = options.skip?.length ? selector(options.skip) : () => false;
  return items.filter((item) => only(item.id) && !skip(item.id));
}
