/**
 * Selectors: cibuildwheel-style globs over build ids, with `{a,b}` braces — `manywheel_3.1{2,3}_cu12*`.
 * A selector string may hold several globs separated by spaces.
 */
import picomatch from 'picomatch';

export type Selector = (id: string) => boolean;

export function selector(globs: string | readonly string[]): Selector {
  const list = (typeof globs === 'string' ? [globs] : globs).flatMap((glob) => glob.split(/\s+/)).filter(Boolean);
  const matchers = list.map((glob) => picomatch(glob, { dot: true }));
  return (id) => matchers.some((match) => match(id));
}

/** Cells kept by `--only` (when given) and not removed by `--skip`. */
export function filterIds<T extends { id: string }>(items: readonly T[], options: { only?: readonly string[]; skip?: readonly string[] }): T[] {
  const only = options.only?.length ? selector(options.only) : () => true;
  const skip = options.skip?.length ? selector(options.skip) : () => false;
  return items.filter((item) => only(item.id) && !skip(item.id));
}
