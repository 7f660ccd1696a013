/** What a build left in its output folder: every regular file with its size and sha256. */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { openInside, sha256Of, UnsafeFileError } from '../store/local-file.js';

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
    // Opened without following links, inside the folder, and measured and hashed through that one
    // descriptor: a name a process left behind swapped for a link meanwhile is not recorded.
    const source = await openInside(outDir, file).catch((error: unknown) => {
      if (error instanceof UnsafeFileError) return undefined;
      throw error;
    });
    if (!source) continue;
    try {
      artifacts.push({ file, size: source.info.size, sha256: await sha256Of(source) });
    } finally {
      await source.handle.close();
    }
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
