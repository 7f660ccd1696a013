import { readFile } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { countCells, type ReportCell, type ReportModel } from '../../src/report/model.js';
import { escapeHtml, LOG_TAIL_LINES, MAX_TAILS, renderReport, type RenderedReport } from '../../src/report/render.js';
import { sampleReportModel } from '../../src/report/sample.js';

const GOLDEN = '../fixtures/golden';

function render(model: ReportModel, when: 'always' | 'failures' = 'always'): RenderedReport {
  const report = renderReport(model, { when });
  if (!report) throw new Error('expected a report');
  return report;
}

/** Counts as history.ts would make them, after a test edited the cells. */
function recount(model: ReportModel): ReportModel {
  return { ...model, counts: countCells(model.cells) };
}

function edit(model: ReportModel, id: string, change: Partial<ReportCell>): ReportModel {
  if (!model.cells.some((cell) => cell.id === id)) throw new Error(`no cell ${id}`);
  return recount({ ...model, cells: model.cells.map((cell) => (cell.id === id ? { ...cell, ...change } : cell)) });
}

/** The sample night with every machine reporting and every cell green (the four that were not, fixed). */
function allGreen(): ReportModel {
  const model = sampleReportModel();
  return recount({
    ...model,
    machines: model.machines.map((machine) => ({ ...machine, reported: true, failed: 0 })),
    cells: model.cells.map((cell): ReportCell =>
      cell.status === 'succeeded'
        ? cell
        : {
            ...cell,
            status: 'succeeded',
            reason: null,
            exit_code: 0,
            duration_s: 3000,
            streak: 0,
            failing_since: null,
            change: cell.status === 'missing' ? 'still-good' : 'fixed',
          },
    ),
  });
}

/** The part of the text mail about one failure: from its heading to the next blank line. */
function textSection(text: string, id: string): string {
  const start = text.indexOf(`${id} -- `);
  expect(start).toBeGreaterThan(-1);
  return text.slice(start, text.indexOf('\n\n', start));
}

/** Every tag the HTML may contain; anything else (script, img, svg, iframe, link, style...) is injected. */
const ALLOWED_TAGS = new Set(['html', 'head', 'meta', 'title', 'body', 'table', 'tr', 'td', 'th', 'div', 'span', 'a', 'b', 'br', 'pre']);
const tagsOf = (html: string) => [...html.matchAll(/<\/?([a-zA-Z][a-zA-Z0-9]*)/g)].map((match) => match[1]!.toLowerCase());

describe('renderReport on a realistic night', () => {
  const report = render(sampleReportModel(), 'failures');

  it('matches the golden HTML and text', async () => {
    await expect(report.html).toMatchFileSnapshot(`${GOLDEN}/report.sample.html`);
    await expect(report.text).toMatchFileSnapshot(`${GOLDEN}/report.sample.txt`);
  });

  it('is what docs/sample-report.* show (else run: npm run build && node scripts/render-sample-report.mjs)', async () => {
    const docs = new URL('../../docs/', import.meta.url);
    expect(await readFile(new URL('sample-report.html', docs), 'utf8')).toBe(report.html);
    expect(await readFile(new URL('sample-report.txt', docs), 'utf8')).toBe(report.text);
  });

  it('counts failures and the silent machine in the subject', () => {
    expect(report.subject).toBe('nightshift 2026_11_22: 3 of 45 builds failed, 1 machine missing');
  });

  it('is a self-contained mail body: no scripts, stylesheets, classes or remote resources', () => {
    expect(report.html.startsWith('<!DOCTYPE html>')).toBe(true);
    for (const forbidden of ['<script', '<link', '<style', '<img', 'src=', 'class=', 'url(']) expect(report.html).not.toContain(forbidden);
    expect(tagsOf(report.html).filter((tag) => !ALLOWED_TAGS.has(tag))).toEqual([]);
  });

  it('lists newly broken, still failing (since when, how long) and fixed cells', () => {
    const changes = report.text.slice(0, report.text.indexOf('Build matrix'));
    expect(changes).toContain('Newly broken tonight (1):\n  manywheel_3.14_cu130');
    expect(changes).toContain('libtorch_cu128_cxx11-abi  since 2026_11_20 (3 nights) — failed: exit code 2 on linux-1');
    expect(changes).toContain('Fixed tonight (1):\n  manywheel_3.13t_cu128');
    expect(report.html).toContain('since 2026_11_20 (3 nights)');
    expect(textSection(report.text, 'libtorch_cu128_cxx11-abi')).toContain('failing 3 nights, since 2026_11_20');
    expect(textSection(report.text, 'manywheel_3.14_cu130')).toContain('newly broken tonight');
  });

  it('shows a timeout as a timeout, never as a plain failure', () => {
    const section = textSection(report.text, 'conda_3.12_cu128');
    expect(section).toContain('conda_3.12_cu128 -- TIMED OUT');
    expect(section).toContain('timed out after 3h and was killed');
    expect(section).not.toMatch(/FAILED|failed:/);
    expect(report.text).toMatch(/conda 3\.12 .*TIMEOUT 3h/);
    // Its grid cell is orange with the clock, not red with a cross (a clock DejaVu and Liberation have, not the emoji ⏱).
    expect(report.html).toMatch(/<td title="conda_3\.12_cu128 · timed out after 3h and was killed[^"]*" style="[^"]*background:#ea580c;[^"]*">◷ 3h<br>/);
    expect(report.html + report.text).not.toContain('⏱');
    expect(report.html).toContain('1 timed out');
  });

  it('names the machine that never reported, in both parts', () => {
    expect(report.html).toContain('<b>linux-2 did not report.</b>');
    expect(report.text).toContain('!! linux-2 DID NOT REPORT: it published nothing for this night (down, still running, or its upload failed); its 15 builds are missing.');
  });

  it('lays the grid out as package + python/abi rows and cuda columns, blank where the matrix has no cell', () => {
    const lines = report.text.split('\n');
    const header = lines.find((line) => /^\s+cpu\s+cu126\s+cu128\s+cu130$/.test(line));
    expect(header).toBeDefined();
    const rows = lines.filter((line) => /^ {2}(manywheel|conda|libtorch) /.test(line)).map((line) => line.trim().split(/\s{2,}/)[0]);
    expect(rows).toEqual([
      ...['3.10', '3.11', '3.12', '3.13', '3.14', '3.13t', '3.14t'].map((python) => `manywheel ${python}`),
      ...['3.10', '3.11', '3.12', '3.13'].map((python) => `conda ${python}`),
      'libtorch cxx11-abi',
      'libtorch pre-cxx11',
    ]);
    expect(lines.find((line) => line.includes('libtorch pre-cxx11'))!.trim()).toBe('libtorch pre-cxx11  ok 49m     ok 2h30m');
    expect(report.html).toContain('<span style="color:#6b7280;">manywheel</span> <b>3.13t</b>');
  });

  it('puts every failure, its facts and its log tail in the text part', () => {
    const model = sampleReportModel();
    for (const cell of model.cells.filter((c) => c.status === 'failed' || c.status === 'timed_out')) {
      const section = textSection(report.text, cell.id);
      expect(section).toMatch(new RegExp(`Machine: +${cell.machine}\n`));
      expect(section).toMatch(new RegExp(`Full log: +${cell.log.url!.replaceAll('.', '\\.')}\n`));
      for (const line of cell.log.tail) expect(section).toContain(`      ${line}`.trimEnd());
    }
  });

  it('escapes the markup that real compiler output is full of', () => {
    expect(report.html).toContain('&quot;at::native::reduce_kernel&lt;512, 1, R&gt;&quot;');
    expect(report.html).toContain('recursion_remaining &lt; 0 &amp;&amp; x &lt; y &amp;&amp; y &gt; 0');
  });
});

describe('renderReport keeps build output inert', () => {
  const attacks = [
    '<script>alert(1)</script>',
    '</pre><img src=x onerror=alert(1)>',
    '</td></tr></table><iframe src="https://evil.example/">',
    `" onmouseover="alert(1)" x='`,
    '<!-- <style>body{display:none}</style> -->',
  ];
  const model = recount({
    ...sampleReportModel(),
    machines: [...sampleReportModel().machines, { name: '<svg onload=alert(1)>', reported: false, builds: 0, failed: 0 }],
  });
  const injected = edit(model, 'manywheel_3.14_cu130', {
    reason: 'exit code 1 <b onclick="x()">',
    log: { key: 'logs/<x>.log', url: 'javascript:alert(1)', tail: ['make: ok', ...attacks] },
  });
  const report = render(injected);

  it('lets no tag or event handler through from a log line, a reason, a machine name or a URL', () => {
    expect(tagsOf(report.html).filter((tag) => !ALLOWED_TAGS.has(tag))).toEqual([]);
    // Quoted values may hold escaped text like `onclick=&quot;`; what matters is the attribute names.
    for (const tag of report.html.match(/<[^>]*>/g)!) expect(tag.replace(/"[^"]*"/g, '""')).not.toMatch(/\son[a-z]+\s*=/i);
    expect(report.html).not.toContain('<!--');
    expect(report.html.match(/<pre /g)).toHaveLength(3);
    expect(report.html.match(/<\/pre>/g)).toHaveLength(3);
  });

  it('shows the attacks as text', () => {
    expect(report.html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;');
    expect(report.html).toContain('&lt;/pre&gt;&lt;img src=x onerror=alert(1)&gt;');
    expect(report.html).toContain('&quot; onmouseover=&quot;alert(1)&quot; x=&#39;');
    expect(report.html).toContain('&lt;svg onload=alert(1)&gt; did not report.');
    expect(report.text).toContain('      <script>alert(1)</script>');
  });

  it('links only http(s) log URLs', () => {
    expect(report.html).not.toMatch(/href="javascript/i);
    expect(report.html).toContain('javascript:alert(1)</span>');
    const keyOnly = render(
      edit(sampleReportModel(), 'manywheel_3.14_cu130', { log: { key: 'nightshift/nights/2026_11_22/linux-1/logs/manywheel_3.14_cu130.log', url: null, tail: [] } }),
    );
    expect(keyOnly.html).toContain('nightshift/nights/2026_11_22/linux-1/logs/manywheel_3.14_cu130.log</span>');
    expect(textSection(keyOnly.text, 'manywheel_3.14_cu130')).toMatch(/Full log: +nightshift\/nights\/2026_11_22\/linux-1\/logs\/manywheel_3\.14_cu130\.log/);
    expect(keyOnly.html).toContain('The log is empty.');
  });

  it('escapes the five characters', () => {
    expect(escapeHtml(`<a href="x">'&'</a>`)).toBe('&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;');
  });
});

describe('renderReport log tails', () => {
  it(`shows the last ${LOG_TAIL_LINES} lines, without terminal colours, with long lines cut`, () => {
    const tail = Array.from({ length: 100 }, (_, i) => `line ${i + 1}`);
    tail[98] = '\u001b[1;31merror:\u001b[0m linker failed';
    tail[97] = `progress 10%\rprogress 50%\rprogress 100%`;
    tail[96] = 'x'.repeat(5000);
    const report = render(edit(sampleReportModel(), 'manywheel_3.14_cu130', { log: { key: null, url: null, tail } }));
    const section = textSection(report.text, 'manywheel_3.14_cu130');
    expect(section).toContain(`Last ${LOG_TAIL_LINES} lines of the log:`);
    expect(section).toContain('      line 61\n');
    expect(section).not.toContain('line 60\n');
    expect(section).toContain('      error: linker failed\n');
    expect(section).toContain('      progress 100%\n');
    expect(section).not.toContain('progress 50%');
    expect(section).toContain(`${'x'.repeat(400)} … (4600 more characters)`);
    expect(report.html).not.toContain('\u001b');
    expect(section).toMatch(/Full log: +no log was published/);
  });
});

describe('renderReport on cells that had not finished', () => {
  it('lists a running build as not finished, not as broken', () => {
    const report = render(
      edit(sampleReportModel(), 'libtorch_cpu_cxx11-abi', { status: 'running', reason: null, exit_code: null, duration_s: null, streak: 1, change: 'newly-failed' }),
    );
    expect(report.subject).toBe('nightshift 2026_11_22: 4 of 45 builds failed, 1 machine missing');
    expect(report.text).toContain('Not finished at report time (1):\n  libtorch_cpu_cxx11-abi  still running on linux-0');
    expect(report.text).toContain('Newly broken tonight (1):\n  manywheel_3.14_cu130');
    expect(textSection(report.text, 'libtorch_cpu_cxx11-abi')).toMatch(/Streak: +had not finished when the report was made/);
  });
});

describe('renderReport on a good night', () => {
  it('sends nothing with when: failures', () => {
    expect(renderReport(allGreen(), { when: 'failures' })).toBeUndefined();
  });

  it('sends a short "all N builds succeeded" with when: always, still naming what got fixed', async () => {
    const report = render(allGreen(), 'always');
    expect(report.subject).toBe('nightshift 2026_11_22: all 45 builds succeeded');
    expect(report.html).toContain('All 45 builds succeeded');
    expect(report.html).not.toContain('Build matrix');
    expect(report.text).toContain('Fixed tonight (4):');
    expect(report.text.split('\n').length).toBeLessThan(15);
    await expect(report.html).toMatchFileSnapshot(`${GOLDEN}/report.all-green.html`);
    await expect(report.text).toMatchFileSnapshot(`${GOLDEN}/report.all-green.txt`);
  });

  it('still sends when nothing failed but cells are missing, counting them', () => {
    const model = edit(edit(allGreen(), 'conda_3.10_cpu', { status: 'missing' }), 'conda_3.11_cpu', { status: 'missing' });
    expect(renderReport(model, { when: 'failures' })?.subject).toBe('nightshift 2026_11_22: 0 of 45 builds failed, 2 missing');
    const report = render(edit(model, 'libtorch_cpu_cxx11-abi', { status: 'failed', reason: 'exit code 1', streak: 1, change: 'newly-failed' }));
    expect(report.subject).toBe('nightshift 2026_11_22: 1 of 45 builds failed, 2 missing');
    expect(report.text).toContain('!! No result for 2 builds: conda_3.10_cpu (linux-2), conda_3.11_cpu (linux-0)');
  });

  it('still sends a degraded report, with the warning on top', () => {
    const report = renderReport({ ...allGreen(), degraded: 'could not read s3://pytorch-nightlies-example/: AccessDenied' }, { when: 'failures' });
    expect(report?.subject).toBe('nightshift 2026_11_22: 0 of 45 builds failed, partial report');
    expect(report?.html).toContain('<b>⚠ Partial report.</b> could not read s3://pytorch-nightlies-example/: AccessDenied');
    expect(report?.text).toContain('!! PARTIAL REPORT: could not read s3://pytorch-nightlies-example/: AccessDenied');
  });
});

describe('renderReport grid without a cuda axis', () => {
  it('uses the last axis as the columns', () => {
    const cell = (python: string, numpy: string): ReportCell => ({
      ...sampleReportModel().cells[0]!,
      id: `conda_${python}_${numpy}`,
      package: 'conda',
      axes: { python, numpy },
      machine: 'mac-0',
    });
    const model = recount({
      ...sampleReportModel(),
      axes: ['python', 'numpy'],
      machines: [{ name: 'mac-0', reported: true, builds: 3, failed: 0 }],
      cells: [cell('3.12', '1.26'), { ...cell('3.12', '2.1'), status: 'failed' }, cell('3.13', '2.1')],
    });
    const lines = render(model).text.split('\n');
    expect(lines).toContain('Build matrix (columns: numpy)');
    expect(lines).toContain('              1.26    2.1');
    expect(lines).toContain('  conda 3.13          ok 21m');
  });
});

describe('a night where everything breaks', () => {
  it(`keeps the mail small: only the first ${MAX_TAILS} failures carry their log tail`, () => {
    const model = sampleReportModel();
    const longLine = 'x'.repeat(300);
    const broken: ReportModel = {
      ...model,
      cells: model.cells.map((cell) => ({
        ...cell,
        status: 'failed',
        change: 'newly-failed',
        streak: 1,
        reason: 'exit code 1',
        log: { ...cell.log, tail: Array.from({ length: 40 }, (_, i) => `${cell.id} line ${i} ${longLine}`) },
      })),
      counts: { ...model.counts, succeeded: 0, failed: model.cells.length, not_run: 0, missing: 0 },
    };
    const mail = renderReport(broken, { when: 'always' })!;
    const withTail = broken.cells.filter((cell) => mail.text.includes(`${cell.id} line 39`));
    expect(withTail).toHaveLength(MAX_TAILS);
    expect(mail.text.match(/Log tail left out to keep this mail small/g)).toHaveLength(broken.cells.length - MAX_TAILS);
    expect(mail.html.match(/Log tail left out to keep this mail small/g)).toHaveLength(broken.cells.length - MAX_TAILS);
    // Every failure is still listed with its full log link.
    for (const cell of broken.cells) expect(mail.text).toContain(cell.id);
  });
});

describe('renderReport: builds not run because of the machine', () => {
  it('names them apart from failures, in the subject and in the grid, with their reason', () => {
    const reason = 'not run: the Docker engine on linux-1 was down (Cannot connect to the Docker daemon)';
    const green = allGreen();
    const [first, second] = green.cells;
    let model = edit(green, first!.id, { status: 'not_run', reason, exit_code: null, change: 'newly-failed', streak: 1, failing_since: green.date });
    expect(render(model).subject).toMatch(/: 1 of \d+ builds not run$/);
    model = edit(model, second!.id, { status: 'failed', reason: 'exit code 2', exit_code: 2, change: 'newly-failed', streak: 1, failing_since: green.date });
    const report = render(model);
    expect(report.subject).toMatch(/: 1 of \d+ builds failed, 1 not run$/);
    expect(report.text).toContain(reason);
    expect(report.html).toContain('⚠ not run');
    expect(report.text).toContain(`${first!.id} -- NOT RUN`);
  });
});

describe('renderReport: the fleet with the shared queue', () => {
  /** The sample night as a queue night: linux-2 silent, two cells no machine ran, one cell that ended on two machines. */
  function queueNight(): ReportModel {
    const green = allGreen();
    const [missed, alsoMissed, twice, failedTwice] = green.cells;
    const reason = 'no machine ran it (linux-0 and linux-1 reported without it; linux-2 published nothing)';
    const missing: Partial<ReportCell> = {
      status: 'missing',
      machine: '',
      reason,
      duration_s: null,
      exit_code: null,
      change: 'newly-failed',
      streak: 1,
      failing_since: green.date,
    };
    let model: ReportModel = {
      ...green,
      queue: true,
      machines: green.machines.map((machine) => (machine.name === 'linux-2' ? { ...machine, reported: false, builds: 0 } : machine)),
    };
    model = edit(model, missed!.id, missing);
    model = edit(model, alsoMissed!.id, missing);
    model = edit(model, twice!.id, { machine: 'linux-1', also_ran_on: [{ machine: 'linux-0', status: 'failed' }] });
    model = edit(model, failedTwice!.id, {
      status: 'failed',
      reason: 'exit code 2',
      exit_code: 2,
      change: 'newly-failed',
      streak: 1,
      failing_since: green.date,
      machine: 'linux-0',
      also_ran_on: [{ machine: 'linux-1', status: 'timed_out' }],
    });
    return model;
  }
  const model = queueNight();
  const [missed, alsoMissed, twice, failedTwice] = model.cells;
  const report = render(model);

  it('lists the cells no machine ran once, with the reason, and no planned machine', () => {
    expect(report.subject).toBe(`nightshift ${model.date}: 1 of 45 builds failed, 1 machine missing, 2 missing`);
    const line = `!! No result for 2 builds, missing: no machine ran it (linux-0 and linux-1 reported without it; linux-2 published nothing): ${missed!.id}, ${alsoMissed!.id}`;
    expect(report.text).toContain(line);
    expect(report.html).toContain(
      `<b>No result for 2 builds</b>, missing: no machine ran it (linux-0 and linux-1 reported without it; linux-2 published nothing): <span style="font-family:Menlo,Consolas,'DejaVu Sans Mono','Courier New',monospace;">${missed!.id}</span>`,
    );
  });

  it("does not call a silent machine's share missing: it had none", () => {
    expect(report.text).toContain(
      '!! linux-2 DID NOT REPORT: it published nothing for this night (down, still running, or its upload failed); the other machines could take its builds from the shared queue, and what none of them ran is listed as missing.',
    );
    expect(report.text).not.toMatch(/linux-2 .*builds are missing/);
    expect(report.html).toContain('<b>linux-2</b>: <b style="color:#7e22ce;">did not report</b><br>');
    expect(report.html).not.toContain('builds planned');
  });

  it('says which other machine a cell also ran on', () => {
    expect(textSection(report.text, failedTwice!.id)).toMatch(/Machine: +linux-0 \(also ran on linux-1: timed out\)/);
    expect(report.text).toContain(`${failedTwice!.id}  failed: exit code 2 on linux-0 (also ran on linux-1: timed out)`);
    expect(report.html).toMatch(new RegExp(`<td title="${twice!.id} · succeeded · [^"]* · linux-1 \\(also ran on linux-0: failed\\)"`));
  });
});
