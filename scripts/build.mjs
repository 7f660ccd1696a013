// Builds dist/: src bundled by esbuild into a few ES modules. A bundle starts much faster than
// hundreds of separate files (zod alone is ~60): `nightshift status` is a cold start every time a
// person or a script asks. Commands stay lazily loaded (each is its own chunk), and the AWS SDK and
// nodemailer stay outside the bundle, loaded from node_modules only by the commands that send.
// Type checking is `npm run typecheck`; this only transpiles.
//   node scripts/build.mjs
import { readdirSync, rmSync } from 'node:fs';
import path from 'node:path';
import { build } from 'esbuild';

const repo = path.resolve(import.meta.dirname, '..');
const dist = path.join(repo, 'dist');

const result = await build({
  absWorkingDir: repo,
  // cli is the binary; the others are imported by scripts/ and bench/ (JSON Schemas, the sample report, uploads, the plan, the night queue).
  entryPoints: ['src/cli.ts', 'src/config/json-schema.ts', 'src/report/render.ts', 'src/report/sample.ts', 'src/store/open.ts', 'src/plan/plan.ts', 'src/queue/night-queue.ts'],
  outbase: 'src',
  outdir: dist,
  // Chunks one folder below dist/, like dist/commands/ was: src/commands/install.ts finds ../cli.js.
  chunkNames: 'chunks/[name]-[hash]',
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20.19',
  external: ['@aws-sdk/*', '@smithy/*', 'nodemailer'],
  // Bundled CommonJS packages (commander, picomatch) call require() for Node's built-ins.
  banner: { js: "import { createRequire as __nightshiftRequire } from 'node:module'; const require = __nightshiftRequire(import.meta.url);" },
  sourcemap: 'linked',
  logLevel: 'warning',
  metafile: true,
});

// Files of an earlier build go only after the new ones are in place, so a nightshift already running
// from dist/ keeps finding its chunks while this build writes.
const written = new Set(Object.keys(result.metafile.outputs).map((file) => path.resolve(repo, file)));
for (const file of readdirSync(dist, { recursive: true, withFileTypes: true })) {
  const full = path.join(file.parentPath, file.name);
  if (file.isFile() && !written.has(full)) rmSync(full);
}
