#!/usr/bin/env node
// Writes docs/sample-report.{html,txt} from the sample night (src/report/sample.ts, the same model the
// render snapshot tests use) and, unless --no-screenshot, docs/sample-report.png with headless Chromium
// (Debian: apt-get install chromium). Run `npm run build` first: this imports the built dist/.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CHROMIUM_FLAGS, CHROMIUM_PATH } from './chromium.mjs';
import { renderReport } from '../dist/report/render.js';
import { sampleReportModel } from '../dist/report/sample.js';

const docs = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', 'docs');
const report = renderReport(sampleReportModel(), { when: 'failures' });
if (!report) throw new Error('the sample night has failures; renderReport returned nothing');
writeFileSync(path.join(docs, 'sample-report.html'), report.html);
writeFileSync(path.join(docs, 'sample-report.txt'), report.text);
console.log(`subject: ${report.subject}`);
console.log(`wrote docs/sample-report.html (${report.html.length} bytes) and docs/sample-report.txt`);

if (!process.argv.includes('--no-screenshot')) {
  const png = path.join(docs, 'sample-report.png');
  const profile = mkdtempSync(path.join(tmpdir(), 'nightshift-chromium-'));
  try {
    // Everything that would reach the network or a GPU is off: the report must render from the file alone.
    execFileSync(
      CHROMIUM_PATH,
      [
        '--headless',
        ...CHROMIUM_FLAGS,
        '--hide-scrollbars',
        `--user-data-dir=${profile}`,
        `--screenshot=${png}`,
        `--window-size=${process.env.WINDOW_SIZE ?? '1100,1900'}`,
        pathToFileURL(path.join(docs, 'sample-report.html')).href,
      ],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
  } finally {
    rmSync(profile, { recursive: true, force: true });
  }
  console.log(`wrote docs/sample-report.png (${Math.round(statSync(png).size / 1024)} KB)`);
}
