/**
 * A host build's own copy of the night's recipes: the clone's files, listed once per clone and copied
 * for each build (cloned block by block where the file system can), and, instead of a copy of the
 * clone's `.git`, a `.git` file naming it (`gitdir: <recipes>/.git`), so `git describe`, `git rev-parse
 * HEAD` and `git log` in a build read the night's clone as before. Its object store, refs and index are
 * the clone's: a build that commits, checks out or fetches there changes them for the builds after it
 * (docker builds see the clone read-only at /recipes, .git included).
 */
import { constants } from 'node:fs';
import { copyFile, mkdir, readdir, readlink, stat, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';

interface Entry {
  /** Relative to the recipes folder; a folder comes before what it holds. */
  relative: string;
  kind: 'folder' | 'file' | 'symlink';
}

interface Listing {
  /** The clone it lists: a refreshed clone is a new folder (renamed into place), with another inode. */
  inode: number;
  entries: Entry[];
  hasGit: boolean;
}

const listings = new Map<string, Promise<Listing>>();
/** Files copied at once for one build; several builds copy at a time anyway. */
const PARALLEL_COPIES = 8;

/** Makes `workDir` (which must not exist) a copy of `recipesDir` for one build. */
export async function copyRecipes(recipesDir: string, workDir: string): Promise<void> {
  const listing = await listingOf(recipesDir);
  await mkdir(workDir, { recursive: true });
  const files: Entry[] = [];
  for (const entry of listing.entries) {
    const to = path.join(workDir, entry.relative);
    if (entry.kind === 'folder') await mkdir(to);
    // verbatim: a relative link must stay relative, not point back into the shared clone.
    else if (entry.kind === 'symlink') await symlink(await readlink(path.join(recipesDir, entry.relative)), to);
    else files.push(entry);
  }
  let next = 0;
  const worker = async () => {
    for (let entry = files[next++]; entry; entry = files[next++]) {
      // copyFile keeps the mode (an executable script stays executable).
      await copyFile(path.join(recipesDir, entry.relative), path.join(workDir, entry.relative), constants.COPYFILE_FICLONE);
    }
  };
  await Promise.all(Array.from({ length: Math.min(PARALLEL_COPIES, files.length) }, worker));
  if (listing.hasGit) await writeFile(path.join(workDir, '.git'), `gitdir: ${path.resolve(recipesDir, '.git')}\n`);
}

/** The clone's entries, walked once per clone this process sees (and again when it was replaced). */
async function listingOf(recipesDir: string): Promise<Listing> {
  const inode = (await stat(recipesDir)).ino;
  let listing = listings.get(recipesDir);
  if (!listing || (await listing.catch(() => undefined))?.inode !== inode) {
    listing = list(recipesDir, inode);
    // A daemon sees a new clone every night: only the latest few are kept.
    if (listings.size >= 4) listings.delete(listings.keys().next().value!);
    listings.set(recipesDir, listing);
  }
  return listing;
}

async function list(recipesDir: string, inode: number): Promise<Listing> {
  const entries: Entry[] = [];
  let hasGit = false;
  const walk = async (relative: string): Promise<void> => {
    for (const dirent of await readdir(path.join(recipesDir, relative), { withFileTypes: true })) {
      const child = path.join(relative, dirent.name);
      if (relative === '' && dirent.name === '.git' && dirent.isDirectory()) {
        hasGit = true;
        continue;
      }
      if (dirent.isDirectory()) {
        entries.push({ relative: child, kind: 'folder' });
        await walk(child);
      } else if (dirent.isSymbolicLink()) entries.push({ relative: child, kind: 'symlink' });
      else if (dirent.isFile()) entries.push({ relative: child, kind: 'file' });
      // Sockets and fifos have nothing to copy.
    }
  };
  await walk('');
  return { inode, entries, hasGit };
}
