/**
 * Removing one night's folder, under its lock: a run or build starting on that night meanwhile finds it
 * busy instead of losing its folder. Only a real YYYY_MM_DD name is ever removed.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { removeTree } from '../files.js';
import { nightLayout } from '../night/layout.js';
import { acquireNightLock } from '../night/lock.js';
import { isNightDate } from '../night/night-date.js';
import { nightInUse } from '../night/nights.js';

export type RemoveOutcome = 'removed' | 'locked' | { error: string };

/**
 * Removes `<root>/<night>` holding its lock meanwhile, so a run or build starting on that night right
 * now cannot have its folder deleted under it: it finds the night busy instead.
 */
export async function removeNightFolder(root: string, night: string): Promise<RemoveOutcome> {
  if (!isNightDate(night)) throw new Error(`not a night folder name: ${JSON.stringify(night)}`);
  const layout = nightLayout(root, night);
  const lock = await acquireNightLock(layout.lock, { purpose: 'prune' }).catch((error: unknown) => error as Error);
  if (lock instanceof Error) return (await nightInUse(root, night)) ? 'locked' : { error: `could not remove night ${night}: ${lock.message}` };
  try {
    // The lock goes last: until the folder is empty, whoever tries to start this night finds it busy.
    const failures: NodeJS.ErrnoException[] = [];
    for (const name of await readdir(layout.dir)) {
      const entry = path.join(layout.dir, name);
      if (entry !== layout.lock) failures.push(...(await removeTree(entry)));
    }
    if (failures.length === 0) {
      await lock.release();
      failures.push(...(await removeTree(layout.dir)));
    }
    return failures.length ? { error: removalError(night, layout.dir, failures) } : 'removed';
  } catch (error) {
    return { error: `could not remove night ${night} (${layout.dir}): ${(error as Error).message}` };
  } finally {
    await lock.release().catch(() => {});
  }
}

function removalError(night: string, dir: string, failures: readonly NodeJS.ErrnoException[]): string {
  const first = failures[0]!;
  const more = failures.length > 1 ? ` and ${failures.length - 1} more` : '';
  if (first.code === 'EACCES' || first.code === 'EPERM') {
    // Containers run as root by default, so a build's artifacts and caches often belong to root.
    return (
      `could not remove night ${night}: no permission to delete ${first.path ?? dir}${more} (likely written as root by a build container); ` +
      `remove it as root (sudo rm -rf ${dir}) or run nightshift as a user allowed to, then prune again`
    );
  }
  return `could not remove night ${night} (${dir}): ${first.message}${more}`;
}
