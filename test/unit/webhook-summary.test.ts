/** The morning report as a chat message: what it says, in what order, how long it may get, and what it escapes. */
import { describe, expect, it } from 'vitest';
import { countCells, type ReportCell, type ReportModel } from '../../src/report/model.js';
import { sampleReportModel } from '../../src/report/sample.js';
import { webhookPayload, webhookSummary } from '../../src/report/webhook-summary.js';

const failedCell = (base: ReportCell, id: string, extra: Partial<ReportCell> = {}): ReportCell => ({
  ...base,
  id,
  status: 'failed',
  reason: 'exit code 1',
  change: 'newly-failed',
  streak: 1,
  failing_since: '2026_11_22',
  ...extra,
});

describe('webhookSummary', () => {
  it('says the night in one headline, then newly broken, still failing, fixed and the silent machine, with log links', () => {
    const model = sampleReportModel();
    const text = webhookSummary(model);
    const lines = text.split('\n');
    const silent = model.machines.find((machine) => !machine.reported)!;

    expect(lines[0]).toBe(
      `nightshift nightly 2026_11_22: ${model.counts.failed} of ${model.counts.total} builds failed, 1 machine did not report, ${model.counts.missing} missing`,
    );
    const section = (title: string) => {
      const start = lines.findIndex((line) => line.startsWith(`${title} (`));
      expect(start, title).toBeGreaterThan(0);
      const end = lines.indexOf('', start);
      return lines.slice(start, end === -1 ? undefined : end);
    };
    expect(section('Newly broken')).toEqual([
      'Newly broken (1):',
      expect.stringMatching(/^• `manywheel_3\.14_cu130` failed: exit code 1 on linux-\d <https:\/\/\S+manywheel_3\.14_cu130\.log\|log>$/),
    ]);
    // Longest streak first, each with the night it started failing.
    expect(section('Still failing')).toEqual([
      'Still failing (2):',
      expect.stringMatching(/^• `libtorch_cu128_cxx11-abi` since 2026_11_20 \(3 nights\): failed: exit code 2 <https:\S+\|log>$/),
      expect.stringMatching(/^• `conda_3\.12_cu128` since 2026_11_21 \(2 nights\): timed out after 3h and was killed <https:\S+\|log>$/),
    ]);
    expect(section('Fixed')).toEqual(['Fixed (1):', expect.stringMatching(/^• `manywheel_3\.13t_cu128` on linux-\d$/)]);
    expect(section('Machines that did not report')).toEqual(['Machines that did not report (1):', `• linux-2 (${silent.builds} builds missing)`]);
    // The silent machine's cells are said once, as the machine, not one by one.
    expect(text).not.toContain('Missing (');
  });

  it('caps each list and says how many more there are', () => {
    const model = sampleReportModel();
    const base = model.cells.find((cell) => cell.status === 'succeeded')!;
    const broken = Array.from({ length: 25 }, (_, i) => failedCell(base, `wheel_${String(i).padStart(2, '0')}`));
    const text = webhookSummary({ ...model, cells: [...broken, ...model.cells] }, { maxPerList: 10 });

    expect(text).toContain('Newly broken (26):');
    expect(text).toContain('`wheel_09`');
    expect(text).not.toContain('`wheel_10`');
    expect(text).toContain('… and 16 more');
    // A chat message, not the mail: well under Mattermost's 16383 characters even with 3 full lists.
    expect(text.length).toBeLessThan(4000);
  });

  it('is one line for a green night', () => {
    const model = sampleReportModel();
    const cells = model.cells.map((cell): ReportCell => ({ ...cell, status: 'succeeded', reason: null, change: 'still-good', streak: 0, failing_since: null }));
    const green: ReportModel = {
      ...model,
      cells,
      machines: model.machines.map((machine) => ({ ...machine, reported: true, failed: 0 })),
      counts: { total: cells.length, succeeded: cells.length, failed: 0, not_run: 0, missing: 0 },
    };
    expect(webhookSummary(green)).toBe(`nightshift nightly 2026_11_22: all ${cells.length} builds succeeded`);
  });

  it("names builds the machine could not run apart from the builds' failures, as the mail's subject does", () => {
    const model = sampleReportModel();
    const [first, second, ...rest] = model.cells.map((cell): ReportCell => ({ ...cell, status: 'succeeded', reason: null }));
    const night = (cells: ReportCell[]): ReportModel => ({ ...model, cells, machines: model.machines.map((m) => ({ ...m, reported: true })), counts: countCells(cells) });
    const engineDown = night([{ ...first!, status: 'not_run', reason: 'not run: the Docker engine on linux-1 was down' }, second!, ...rest]);
    expect(engineDown.counts).toMatchObject({ failed: 0, not_run: 1 });
    expect(webhookSummary(engineDown).split('\n')[0]).toBe(`nightshift nightly 2026_11_22: 1 of ${model.cells.length} builds not run`);
    const both = night([{ ...first!, status: 'not_run' }, { ...second!, status: 'failed', reason: 'exit code 1' }, ...rest]);
    expect(webhookSummary(both).split('\n')[0]).toBe(`nightshift nightly 2026_11_22: 1 of ${model.cells.length} builds failed, 1 not run`);
  });

  it("escapes Slack's control characters in reasons and keeps a link's label its own", () => {
    const model = sampleReportModel();
    const base = model.cells.find((cell) => cell.status === 'succeeded')!;
    const odd = failedCell(base, 'wheel_odd', {
      reason: 'exit code 1 <!channel> & <https://evil.example|click>',
      log: { key: 'k', url: 'https://logs.example.com/a|b>c.log', tail: [] },
    });
    const text = webhookSummary({ ...model, cells: [odd] });

    expect(text).toContain('failed: exit code 1 &lt;!channel&gt; &amp; &lt;https://evil.example|click&gt;');
    expect(text).toContain('<https://logs.example.com/a%7Cb%3Ec.log|log>');
    expect(text).not.toContain('<!channel>');
  });

  it('lists the missing cells of machines that did report, and says when the report is partial', () => {
    const model = sampleReportModel();
    const reporter = model.machines.find((machine) => machine.reported)!.name;
    const index = model.cells.findIndex((cell) => cell.machine === reporter && cell.status === 'succeeded');
    const cells = model.cells.map((cell, i): ReportCell => (i === index ? { ...cell, status: 'missing', reason: 'no result', change: 'newly-failed' } : cell));
    const text = webhookSummary({ ...model, cells, degraded: 'the destination could not be read' });

    expect(text.split('\n')[1]).toBe('Partial report: the destination could not be read');
    expect(text).toContain(`Missing (no machine reported a result) (1):\n• \`${cells[index]!.id}\` on ${reporter}`);
  });
});

describe('webhookPayload', () => {
  it('is the JSON both Slack and Mattermost take: { text }', () => {
    const model = sampleReportModel();
    expect(JSON.parse(JSON.stringify(webhookPayload(model)))).toEqual({ text: webhookSummary(model) });
  });
});
