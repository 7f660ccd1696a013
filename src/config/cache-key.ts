/**
 * What a rendered `cache.key` may be: one folder name under `<root>/cache`. Validation refuses other
 * keys; the executors and prune check again before they touch the disk.
 */

// One folder name: it must not climb out of <root>/cache or reach into another cache. A leading
// "." is kept for nightshift's own temporary folders (a cache being removed).
const CACHE_KEY = /^[A-Za-z0-9][A-Za-z0-9._+-]*$/;

/** Why `name` cannot be a cache folder, or undefined when it can. */
export function unsafeCacheKey(name: string): string | undefined {
  if (name === '') return 'it is empty';
  if (name.includes('/')) return 'it holds "/"';
  if (name.includes('..')) return 'it holds ".."';
  if (!CACHE_KEY.test(name)) return 'only letters, digits, ".", "_", "+" and "-" may be used, starting with a letter or digit';
  return undefined;
}
