/**
 * Whether git can take a text as a ref to fetch — pure, the rules of git-check-ref-format(1), so that
 * a recipes `ref: "main branch"` is a configuration error at validate time, not a failed night.
 */

/** Why git would refuse `ref` (a branch, tag or commit), or undefined when it is fine. */
export function gitRefProblem(ref: string): string | undefined {
  // eslint-disable-next-line no-control-regex -- control characters are what git refuses here
  if (/[\x00-\x20\x7f]/.test(ref)) return 'it holds a space or control character';
  if (/[~^:?*[\\]/.test(ref)) return 'it holds one of ~ ^ : ? * [ \\';
  if (ref.includes('..')) return 'it holds ".."';
  if (ref.includes('@{') || ref === '@') return 'it holds "@{" or is "@"';
  if (ref.startsWith('-')) return 'it starts with "-"';
  if (ref.startsWith('/') || ref.endsWith('/') || ref.includes('//')) return 'it has an empty path component ("/" at the start or end, or "//")';
  if (ref.endsWith('.')) return 'it ends with "."';
  for (const component of ref.split('/')) {
    if (component.startsWith('.')) return `its component "${component}" starts with "."`;
    if (component.endsWith('.lock')) return `its component "${component}" ends with ".lock"`;
  }
  return undefined;
}
