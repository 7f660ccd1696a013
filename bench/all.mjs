// Every bench, one after another (they time things: never at once), each printing its own figures;
// then their summary lines together. A bench that misses its target exits 1: the others still run,
// and this exits 1 at the end.
//   node bench/all.mjs          (npm run bench builds dist/ first)
import { spawn } from 'node:child_process';
import path from 'node:path';

const benches = [
  ['schedule.mjs'],
  ['queue-scale.mjs'],
  ['fleet.mjs'],
  ['takeover.mjs'],
  ['log-stream.mjs'],
  ['log-stream.mjs', '--docker'],
  ['upload.mjs'],
  ['overhead.mjs'],
  ['per-build.mjs'],
  ['logs.mjs'],
  ['cli.mjs'],
  ['fleet-status.mjs'],
];

const recap = [];
let failed = 0;
for (const [script, ...args] of benches) {
  const name = [script.replace(/\.mjs$/, ''), ...args].join(' ');
  console.log(`\n== bench ${name}`);
  const { code, summaries } = await run(path.join(import.meta.dirname, script), args);
  if (code !== 0) failed++;
  const mark = code === 0 ? 'ok  ' : 'MISS';
  recap.push(...(summaries.length ? summaries : ['summary: (none printed)']).map((line) => `${mark} ${name.padEnd(19)} ${line.replace(/^summary: /, '')}`));
}
console.log(`\n== all benches (${benches.length - failed} of ${benches.length} on target)\n${recap.join('\n')}`);
process.exitCode = failed ? 1 : 0;

/** Runs one bench with its output shown as it comes, keeping its summary lines. */
function run(script, args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] });
    const summaries = [];
    let pending = '';
    child.stdout.on('data', (chunk) => {
      process.stdout.write(chunk);
      const lines = (pending + chunk).split('\n');
      pending = lines.pop();
      summaries.push(...lines.filter((line) => line.startsWith('summary:')));
    });
    child.on('close', (code, signal) => {
      if (pending.startsWith('summary:')) summaries.push(pending);
      resolve({ code: code ?? (signal ? 1 : 0), summaries });
    });
  });
}
