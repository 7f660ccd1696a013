/** Temporary config folders for loader tests: a matrix.yaml and schedules/<name>.yaml written from text. */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

export interface ConfigFiles {
  /** The text of matrix.yaml; undefined = no matrix.yaml at all. */
  matrix?: string;
  /** Schedule name to the text of schedules/<name>.yaml; undefined = no schedules/ folder. */
  schedules?: Record<string, string>;
}

const made: string[] = [];

/** Writes the files into a new temporary folder and returns its absolute path. */
export function writeConfigDir(files: ConfigFiles): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'nightshift-config-'));
  made.push(dir);
  if (files.matrix !== undefined) writeFileSync(path.join(dir, 'matrix.yaml'), files.matrix);
  if (files.schedules !== undefined) {
    mkdirSync(path.join(dir, 'schedules'));
    for (const [name, text] of Object.entries(files.schedules)) writeFileSync(path.join(dir, 'schedules', `${name}.yaml`), text);
  }
  return dir;
}

/** Removes every folder writeConfigDir made (call from afterAll). */
export function removeConfigDirs(): void {
  for (const dir of made.splice(0)) rmSync(dir, { recursive: true, force: true });
}
