/** What a build left in its output folder: every regular file with its size and sha256. */
import { lstat, readdir } from 'node:fs/promises';
import path from 'node:path';
import { sha256File } from '../files.js';

export interface Artifact {
  /** Path relative to the output folder, with '/' separators. */
  file: string;
  size: number;
  sha256: string;
}

/** Sorted by path; an output folder that does not exist holds nothing. */
export async function listArtifacts(outDir: string): Promise<Artifact[]> {
  const files = (await regularFiles(outDir, '')).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const artifacts: Artifact[] = [];
  for (const file of files) {
    const full = path.join(outDir, ...file.split('/'));
    artifacts.push({ file, size: (await lstat(full)).size, sha256: await sha256File(full) });
  }
  return artifacts;
}

// Symlinks are not followed: a build could point one at any file of the host.
async function regularFiles(root: string, relative: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(path.join(root, relative), { withFileTypes: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && relative === '') return [];
    throw error;
  }
  const files: string[] = [];
  for (const entry of entries) {
    const child = relative === '' ? entry.name : `${relative}/${entry.name}`;
    if (entry.isDirectory()) files.push(...(await regularFiles(root, child)));
    else if (entry.isFile()) files.push(child);
  }
  return files;
}

