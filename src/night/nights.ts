/** The nights under a root, and which of them a live process holds: the one answer every reader uses. */
import { readdir } from 'node:fs/promises';
import { nightLayout } from './layout.js';
import { readNightLock } from './lock.js';
import { isNightDate } from './night-date.js';

/**
 * The nights under root, oldest first: the real directories directly under it whose names are night
 * dates (a file or symlink with such a name is not a night and is left alone). A missing root simply
 * has no nights; any other trouble reading it is thrown.
 */
export async function listNights(root: string): Promise<string[]> {
  try {
    const entries = await readdir(root, { withFileTypes: true });
    return entries
      .filter((e) => e.isDirectory() && isNightDate(e.name))
      .map((e) => e.name)
      .sort();
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
}

/**
 * Nights whose lock a live process holds. A lock that cannot be read counts as held (keep what we
 * cannot judge) and is told to `unreadable`.
 */
export async function lockedNights(root: string, nights: readonly string[], unreadable: (night: string, why: string) => void = () => {}): Promise<Set<string>> {
  const locked = new Set<string>();
  for (const night of nights) {
    try {
      if ((await readNightLock(nightLayout(root, night).lock))?.alive) locked.add(night);
    } catch (error) {
      locked.add(night);
      unreadable(night, (error as Error).message);
    }
  }
  return locked;
}

/** True when a live process holds the night's lock, or the lock cannot be read (keep what we cannot judge). */
export async function nightInUse(root: string, night: string): Promise<boolean> {
  const holder = await readNightLock(nightLayout(root, night).lock).catch(() => ({ alive: true }));
  return holder?.alive ?? false;
}
