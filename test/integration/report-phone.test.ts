// The morning report as read on a phone at 7am: rendered in Chromium at 390 px, nothing may be cut
// off or widen the page (only the build grid scrolls, inside its own box), and every character it uses
// must be in the fonts a Debian reader has (DejaVu or Liberation), not drawn as an empty box.
import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PHONE, startBrowser, type TestBrowser } from '../helpers/browser.js';
import type { ReportCell, ReportModel } from '../../src/report/model.js';
import { renderReport, type RenderedReport } from '../../src/report/render.js';
import { sampleReportModel } from '../../src/report/sample.js';

// The test never changes the checkout: it writes docs/sample-report-phone.png only when asked to
// (NIGHTSHIFT_WRITE_DOCS=1 npx vitest run test/integration/report-phone.test.ts), else into its own temp folder.
const DOCS_SCREENSHOT = fileURLToPath(new URL('../../docs/sample-report-phone.png', import.meta.url));

function render(model: ReportModel): RenderedReport {
  const report = renderReport(model, { when: 'always' });
  if (!report) throw new Error('expected a report');
  return report;
}

/** The sample night with what stretches a layout: a long id, machine, reason, first error and unbroken log lines. */
function longModel(): ReportModel {
  const model = sampleReportModel();
  const longId = 'manywheel_3.14_cu130_with_an_experimental_allocator_and_a_very_long_variant_name';
  const stretch = (cell: ReportCell): ReportCell => ({
    ...cell,
    id: longId,
    machine: 'gpu-builder-with-a-long-hostname-07.datacenter.example.internal',
    reason: `exit code 1 after ${'a-very-long-reason-without-spaces-'.repeat(6)}`,
    first_error: `/opt/build/${'deeply/nested/'.repeat(20)}file.cpp:12:3: error: ${'x'.repeat(250)}`,
    log: {
      ...cell.log,
      url: `https://logs.example.com/${'a'.repeat(200)}/${longId}.log`,
      tail: ['0123456789'.repeat(60), `https://example.com/${'path/'.repeat(60)}`, ...cell.log.tail],
    },
  });
  return { ...model, cells: model.cells.map((cell) => (cell.id === 'manywheel_3.14_cu130' ? stretch(cell) : cell)) };
}

/** What sticks out of a 390 px screen: elements whose box passes the viewport, outside a sideways-scrolling box. */
async function overflowing(page: Page): Promise<string[]> {
  return page.evaluate(() => {
    const width = window.innerWidth;
    const scrollsSideways = (element: Element) => ['auto', 'scroll'].includes(getComputedStyle(element).overflowX);
    const insideScrollBox = (element: Element) => {
      for (let parent = element.parentElement; parent; parent = parent.parentElement) if (scrollsSideways(parent)) return true;
      return false;
    };
    const out: string[] = [];
    for (const element of document.body.querySelectorAll('table, tr, td, th, div, pre, span, a, b')) {
      if (insideScrollBox(element)) continue;
      const box = element.getBoundingClientRect();
      if (box.width === 0) continue;
      if (box.left < -0.5 || box.right > width + 0.5)
        out.push(`<${element.tagName.toLowerCase()}> ${Math.round(box.left)}..${Math.round(box.right)}: ${element.textContent.slice(0, 60)}`);
    }
    return out;
  });
}

const exec = promisify(execFile);

/** The font families fontconfig has for a character. */
async function familiesWith(char: string): Promise<string> {
  const { stdout } = await exec('fc-list', [`:charset=${char.codePointAt(0)!.toString(16)}`, 'family']);
  return stdout;
}

describe('the morning report on a phone (390 px)', () => {
  let browser: TestBrowser;
  let dir: string;
  const reports = { sample: render(sampleReportModel()), long: render(longModel()) };
  const pages = new Map<keyof typeof reports, Page>();

  beforeAll(async () => {
    browser = await startBrowser();
    dir = await mkdtemp(path.join(tmpdir(), 'nightshift-phone-'));
    for (const [name, report] of Object.entries(reports) as [keyof typeof reports, RenderedReport][]) {
      const file = path.join(dir, `${name}.html`);
      await writeFile(file, report.html);
      const page = await browser.page(PHONE);
      await page.goto(pathToFileURL(file).href);
      pages.set(name, page);
    }
  });

  afterAll(async () => {
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-condition -- unset when the before-hook failed
    await browser?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  for (const name of ['sample', 'long'] as const) {
    it(`${name}: the page does not scroll sideways and nothing sticks out past the screen`, async () => {
      const page = pages.get(name)!;
      expect(await page.evaluate(() => window.innerWidth)).toBe(PHONE.width);
      expect(await page.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(PHONE.width);
      expect(await overflowing(page)).toEqual([]);
    });
  }

  it('the grid is wider than the phone and scrolls inside its own box', async () => {
    const page = pages.get('sample')!;
    const box = await page.evaluate(() => {
      const grid = [...document.querySelectorAll('div')].find((div) => getComputedStyle(div).overflowX === 'auto' && div.querySelector('table'));
      return grid && { scrollWidth: grid.scrollWidth, clientWidth: grid.clientWidth, right: grid.getBoundingClientRect().right, text: grid.textContent };
    });
    expect(box).toBeDefined();
    expect(box!.text).toContain('manywheel');
    expect(box!.right).toBeLessThanOrEqual(PHONE.width);
    expect(box!.scrollWidth).toBeGreaterThan(box!.clientWidth);
  });

  it('every failure card fits the width, its first error and commit range shown', async () => {
    const page = pages.get('long')!;
    const cards = await page.evaluate(() =>
      [...document.querySelectorAll('td[id^="f-"]')].map((td) => ({ right: td.closest('table')!.getBoundingClientRect().right, text: td.textContent })),
    );
    expect(cards).toHaveLength(3);
    for (const card of cards) expect(card.right).toBeLessThanOrEqual(PHONE.width);
    expect(cards[0]!.text).toContain('First error');
    expect(cards[0]!.text).toMatch(/Commit range[0-9a-f]{7}\.\.[0-9a-f]{7}/);
  });

  it('takes a screenshot of the sample as a phone shows it (docs/sample-report-phone.png)', async () => {
    const page = pages.get('sample')!;
    const png = await page.screenshot({ fullPage: true });
    // A PNG as wide as the phone and as tall as the report; written only when it is one.
    expect(png.subarray(1, 4).toString('latin1')).toBe('PNG');
    expect(png.readUInt32BE(16)).toBe(PHONE.width);
    expect(png.readUInt32BE(20)).toBeGreaterThan(PHONE.height);
    await writeFile(process.env.NIGHTSHIFT_WRITE_DOCS ? DOCS_SCREENSHOT : path.join(dir, 'sample-report-phone.png'), png);
  });

  it('uses only characters that DejaVu or Liberation fonts have', async () => {
    const chars = new Set<string>();
    for (const report of Object.values(reports)) for (const char of report.subject + report.html + report.text) if (char.codePointAt(0)! > 0x7e) chars.add(char);
    expect(chars.size).toBeGreaterThan(0);
    const missing: string[] = [];
    for (const char of chars) {
      if (!/DejaVu|Liberation/.test(await familiesWith(char))) missing.push(`${char} U+${char.codePointAt(0)!.toString(16).toUpperCase()}`);
    }
    expect(missing).toEqual([]);
  });
});
