/**
 * Folders that can never be a schedule's root: prune removes dated folders and caches under root, so a
 * root of `/` or a home folder put the system's (or a person's) own files in reach. Pure.
 */
import os from 'node:os';
import path from 'node:path';

/** The folder and everything under it belong to the system. */
const SYSTEM_TREES = ['/bin', '/boot', '/dev', '/etc', '/lib', '/lib32', '/lib64', '/libx32', '/proc', '/sbin', '/sys', '/usr'];
/** Shared folders: a folder of its own under them is fine (the default root is /var/lib/nightshift), they themselves are not. */
const SHARED_FOLDERS = ['/', '/home', '/media', '/mnt', '/opt', '/root', '/run', '/srv', '/tmp', '/var', '/var/cache', '/var/lib', '/var/log', '/var/spool', '/var/tmp'];

/** Why `dir` (absolute) cannot be a root, or undefined when it can. `home` is the user's home folder. */
export function systemFolderReason(dir: string, home: string = os.homedir()): string | undefined {
  const folder = path.resolve(dir);
  const tree = SYSTEM_TREES.find((top) => folder === top || folder.startsWith(`${top}/`));
  if (tree) return `${folder} is ${folder === tree ? 'a system folder' : `inside the system folder ${tree}`}`;
  if (SHARED_FOLDERS.includes(folder)) return `${folder} is a system folder`;
  if (path.dirname(folder) === '/home') return `${folder} is a home folder`;
  if (home && folder === path.resolve(home)) return `${folder} is the home folder of the user running nightshift`;
  return undefined;
}

/** The fix to say with it. */
export const ROOT_FIX = 'give nightshift a folder of its own, e.g. /var/lib/nightshift (prune removes old night folders and caches under root)';
