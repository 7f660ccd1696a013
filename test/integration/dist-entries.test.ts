// bench/ and scripts/ import modules of the built dist/ by path; dist/ is a bundle
// (scripts/build.mjs), so each such module must be one of its entry points.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const repo = path.resolve(import.meta.dirname, '../..');
const importers = ['bench', 'scripts'].flatMap((dir) =>
  readdirSync(path.join(repo, dir))
    .filter((file) => file.endsWith('.mjs'))
    .map((file) => path.join(dir, file)),
);

describe('dist modules that bench/ and scripts/ import', () => {
  const uses = importers.flatMap((file) => [...readFileSync(path.join(repo, file), 'utf8').matchAll(/['"]\.\.\/(dist\/[\w/.-]+\.js)['"]/g)].map((m) => ({ file, module: m[1]! })));

  it('are found in the scripts', () => {
    expect(uses.map((u) => u.module)).toContain('dist/plan/plan.js');
  });

  it.each(uses)('$file imports $module, which the build writes', ({ module }) => {
    expect(existsSync(path.join(repo, module))).toBe(true);
  });
});
