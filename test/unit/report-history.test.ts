import { describe, expect, it } from 'vitest';
import { stringMatching } from '../helpers/expect.js';
import { buildReportModel, type PlannedCell, type ReportInput } from '../../src/report/history.js';
import type { Manifest, ManifestBuild } from '../../src/store/manifest.js';

const build = (id: string, status: string, extra: Partial<ManifestBuild> = {}): ManifestBuild => ({
  id,
  package: id.split('_')[0]!,
  axes: { python: id.split('_')[1]! },
  status,
  started_at: null,
  finished_at: null,
  duration_s: 60,
  exit_code: status === 'succeeded' ? 0 : 1,
  reason: status === 'succeeded' ? null : 'exit code 1',
  log: `nightshift/nights/x/logs/${id}.log`,
  artifacts: [],
  published: status === 'succeeded',
  ...extra,
});
const manifest = (date: string, machine: string, builds: ManifestBuild[]): Manifest => ({
  version: 1,
  date,
  machine,
  schedule: 'nightly',
  finished_at: null,
  destination: 's3://b/',
  recipes: null,
  builds,
});
const planned = (id: string, machine: string): PlannedCell => ({ id, package: id.split('_')[0]!, axes: { python: id.split('_')[1]! }, machine });

const D = '2026_11_22';
const input = {
  date: D,
  schedule: 'nightly',
  destination: 's3://b/',
  axes: ['python'],
  planned: [planned('a_1', 'm0'), planned('b_1', 'm0'), planned('c_1', 'm1'), planned('f_1', 'm1'), planned('e_1', 'm2'), planned('g_1', 'm1')],
  tonight: [
    { machine: 'm0', manifest: manifest(D, 'm0', [build('a_1', 'failed'), build('b_1', 'timed_out', { reason: 'timed out after 3h' })]) },
    { machine: 'm1', manifest: manifest(D, 'm1', [build('c_1', 'succeeded'), build('f_1', 'failed')]) },
    { machine: 'm2', manifest: undefined },
  ],
  earlier: [
    { date: '2026_11_21', manifests: [manifest('2026_11_21', 'm0', [build('a_1', 'failed'), build('b_1', 'succeeded')]), manifest('2026_11_21', 'm1', [build('c_1', 'failed')])] },
    {
      date: '2026_11_20',
      manifests: [
        manifest('2026_11_20', 'm0', [build('a_1', 'failed'), build('b_1', 'succeeded')]),
        manifest('2026_11_20', 'm1', [build('c_1', 'succeeded'), build('f_1', 'failed')]),
      ],
    },
    { date: '2026_11_19', manifests: [manifest('2026_11_19', 'm0', [build('a_1', 'succeeded')])] },
  ],
  tails: new Map([['a_1', ['error: boom']]]),
  logUrl: (key: string) => `https://logs.example.com/${key}`,
};

describe('buildReportModel', () => {
  const model = buildReportModel(input);
  const cell = (id: string) => model.cells.find((c) => c.id === id)!;

  it('counts streaks back to the last success, and says since when', () => {
    expect(cell('a_1')).toMatchObject({ status: 'failed', streak: 3, failing_since: '2026_11_20', last_success: '2026_11_19', change: 'still-failing' });
  });

  it('marks what broke tonight and what got fixed', () => {
    expect(cell('b_1')).toMatchObject({ status: 'timed_out', streak: 1, failing_since: D, change: 'newly-failed', last_success: '2026_11_21', reason: 'timed out after 3h' });
    expect(cell('c_1')).toMatchObject({ status: 'succeeded', streak: 0, failing_since: null, change: 'fixed' });
  });

  it('stops a streak at a night the cell has no result for', () => {
    expect(cell('f_1')).toMatchObject({ streak: 1, failing_since: D, change: 'first-night' });
  });

  it('reports planned cells without a result as missing, never drops them', () => {
    expect(cell('e_1')).toMatchObject({ status: 'missing', machine: 'm2', reason: stringMatching(/never ran: m2 published nothing/) });
    expect(cell('g_1')).toMatchObject({ status: 'missing', machine: 'm1', reason: 'planned on m1, which reported no result for it' });
    expect(model.machines.map((m) => [m.name, m.reported])).toEqual([
      ['m0', true],
      ['m1', true],
      ['m2', false],
    ]);
    expect(model.counts).toEqual({ total: 6, succeeded: 1, failed: 3, not_run: 0, missing: 2 });
  });

  it('carries log tails and links', () => {
    expect(cell('a_1').log).toEqual({ key: 'nightshift/nights/x/logs/a_1.log', url: 'https://logs.example.com/nightshift/nights/x/logs/a_1.log', tail: ['error: boom'] });
    expect(model.history).toEqual(['2026_11_21', '2026_11_20', '2026_11_19']);
  });
});

describe('buildReportModel with a cell that ended on two machines', () => {
  const at = (time: string) => `2026-11-22T${time}:00.000Z`;
  const twoMachines = (m0: ManifestBuild[], m1: ManifestBuild[], earlier: ReportInput['earlier'] = []) =>
    buildReportModel({
      ...input,
      planned: [planned('a_1', 'm0'), planned('b_1', 'm1')],
      tonight: [
        { machine: 'm0', manifest: manifest(D, 'm0', m0) },
        { machine: 'm1', manifest: manifest(D, 'm1', m1) },
      ],
      earlier,
      tails: new Map(),
    });

  it('shows it once, with the succeeded build over the failed one whichever finished later', () => {
    const model = twoMachines(
      [build('a_1', 'succeeded', { finished_at: at('02:00'), duration_s: 3600 })],
      [build('a_1', 'failed', { finished_at: at('03:00') }), build('b_1', 'succeeded', { finished_at: at('01:00') })],
    );
    expect(model.cells.map((c) => c.id)).toEqual(['a_1', 'b_1']);
    expect(model.cells[0]).toMatchObject({ status: 'succeeded', machine: 'm0', duration_s: 3600, reason: null, also_ran_on: [{ machine: 'm1', status: 'failed' }] });
    expect(model.cells[1]!.also_ran_on).toBeUndefined();
    expect(model.counts).toEqual({ total: 2, succeeded: 2, failed: 0, not_run: 0, missing: 0 });
    // Each machine's summary counts what it built, the overlap included.
    expect(model.machines.map((m) => [m.name, m.builds, m.failed])).toEqual([
      ['m0', 1, 0],
      ['m1', 2, 1],
    ]);
  });

  it('between two successes (or two failures) shows the one that finished later', () => {
    const successes = twoMachines(
      [build('a_1', 'succeeded', { finished_at: at('04:30'), duration_s: 100, log: 'm0/a_1.log' })],
      [build('a_1', 'succeeded', { finished_at: at('04:10'), duration_s: 200, log: 'm1/a_1.log' })],
    );
    expect(successes.cells[0]).toMatchObject({ machine: 'm0', duration_s: 100, log: { key: 'm0/a_1.log' }, also_ran_on: [{ machine: 'm1', status: 'succeeded' }] });
    const failures = twoMachines(
      [build('a_1', 'failed', { finished_at: at('01:00'), reason: 'exit code 1' })],
      [build('a_1', 'timed_out', { finished_at: at('05:00'), reason: 'timed out after 3h' })],
    );
    expect(failures.cells[0]).toMatchObject({ status: 'timed_out', machine: 'm1', reason: 'timed out after 3h', also_ran_on: [{ machine: 'm0', status: 'failed' }] });
    expect(failures.counts.failed).toBe(1);
  });

  it('merges earlier nights the same way for streaks: a night fixed on the other machine ends the streak', () => {
    const model = twoMachines(
      [build('a_1', 'failed', { finished_at: at('02:00') })],
      [],
      [
        {
          date: '2026_11_21',
          manifests: [
            manifest('2026_11_21', 'm0', [build('a_1', 'failed', { finished_at: '2026-11-21T05:00:00.000Z' })]),
            manifest('2026_11_21', 'm1', [build('a_1', 'succeeded', { finished_at: '2026-11-21T03:00:00.000Z' })]),
          ],
        },
        { date: '2026_11_20', manifests: [manifest('2026_11_20', 'm0', [build('a_1', 'failed')])] },
      ],
    );
    expect(model.cells[0]).toMatchObject({ status: 'failed', streak: 1, change: 'newly-failed', last_success: '2026_11_21' });
  });
});

describe('buildReportModel with the shared queue', () => {
  const queued = (id: string): PlannedCell => ({ ...planned(id, ''), machine: '' });
  const model = buildReportModel({
    ...input,
    queue: true,
    planned: [queued('a_1'), queued('b_1'), queued('c_1')],
    tonight: [
      { machine: 'm0', manifest: manifest(D, 'm0', [build('a_1', 'succeeded'), build('c_1', 'failed')]) },
      { machine: 'm1', manifest: manifest(D, 'm1', [build('c_1', 'succeeded')]) },
      { machine: 'm2', manifest: undefined },
    ],
    earlier: [],
  });

  it('says a missing cell is one no machine ran, naming the machines that reported and those that published nothing', () => {
    expect(model.queue).toBe(true);
    expect(model.cells.find((c) => c.id === 'b_1')).toMatchObject({
      status: 'missing',
      machine: '',
      reason: 'no machine ran it (m0 and m1 reported without it; m2 published nothing)',
    });
    expect(model.counts).toEqual({ total: 3, succeeded: 2, failed: 0, not_run: 0, missing: 1 });
  });

  it('counts what each machine built, and nothing planned for a silent one', () => {
    expect(model.machines).toEqual([
      { name: 'm0', reported: true, builds: 2, failed: 1 },
      { name: 'm1', reported: true, builds: 1, failed: 0 },
      { name: 'm2', reported: false, builds: 0, failed: 0 },
    ]);
  });
});

describe('buildReportModel: first error, usual duration and recipes commits', () => {
  const repo = 'https://github.com/example/recipes.git';
  const withRecipes = (m: Manifest, commit: string): Manifest => ({ ...m, recipes: { repo, ref: 'main', commit } });
  const model = buildReportModel({
    ...input,
    planned: [planned('a_1', 'm0'), planned('b_1', 'm0'), planned('c_1', 'm1')],
    tonight: [
      {
        machine: 'm0',
        manifest: withRecipes(
          manifest(D, 'm0', [build('a_1', 'failed', { first_error: 'src/a.c:3: error: the runner found this', duration_s: 900 }), build('b_1', 'failed')]),
          'd'.repeat(40),
        ),
      },
      { machine: 'm1', manifest: withRecipes(manifest(D, 'm1', [build('c_1', 'succeeded', { duration_s: 100 })]), 'd'.repeat(40)) },
    ],
    earlier: [
      { date: '2026_11_21', manifests: [withRecipes(manifest('2026_11_21', 'm0', [build('a_1', 'failed'), build('b_1', 'succeeded', { duration_s: 50 })]), 'c'.repeat(40))] },
      { date: '2026_11_20', manifests: [withRecipes(manifest('2026_11_20', 'm0', [build('a_1', 'failed'), build('b_1', 'succeeded', { duration_s: 70 })]), 'b'.repeat(40))] },
      {
        date: '2026_11_19',
        manifests: [
          withRecipes(manifest('2026_11_19', 'm0', [build('a_1', 'succeeded', { duration_s: 600 }), build('b_1', 'succeeded', { duration_s: 60 })]), 'a'.repeat(40)),
          withRecipes(manifest('2026_11_19', 'm1', [build('c_1', 'failed', { duration_s: 5 })]), 'a'.repeat(40)),
        ],
      },
    ],
    tails: new Map([
      ['a_1', ['nightshift: a_1 on m0', 'error: from the tail']],
      ['b_1', ['nightshift: b_1 on m0, night 2026_11_22', 'ld: cannot find -lfoo', 'collect2: error: ld returned 1 exit status', 'nightshift: failed · exit code 1']],
    ]),
  });
  const cell = (id: string) => model.cells.find((c) => c.id === id)!;

  it("prefers the runner's first error line; an older manifest falls back to the tail, past nightshift's own lines", () => {
    expect(cell('a_1').first_error).toBe('src/a.c:3: error: the runner found this');
    expect(cell('b_1').first_error).toBe('collect2: error: ld returned 1 exit status');
    expect(cell('c_1').first_error).toBeUndefined();
  });

  it('takes the median of the successful earlier durations as usual, failures left out', () => {
    expect(cell('b_1').usual_s).toBe(60);
    expect(cell('a_1').usual_s).toBe(600);
    expect(cell('c_1').usual_s).toBeNull();
  });

  it('names the recipes commits of the last good and the first bad night commits, with a compare link', () => {
    // a_1 has failed since 2026_11_20 (three nights); it last succeeded on 2026_11_19.
    expect(cell('a_1').commits).toEqual({
      tonight: 'd'.repeat(40),
      last_good: 'a'.repeat(40),
      first_bad: 'b'.repeat(40),
      compare_url: `https://github.com/example/recipes/compare/${'a'.repeat(40)}...${'b'.repeat(40)}`,
    });
    // b_1 broke tonight: the first bad commit is tonight's.
    expect(cell('b_1').commits).toMatchObject({ last_good: 'c'.repeat(40), first_bad: 'd'.repeat(40) });
    expect(cell('c_1').commits).toEqual({ tonight: 'd'.repeat(40), last_good: null, first_bad: null, compare_url: null });
  });

  it('passes the machine and id to the log link', () => {
    const links: unknown[] = [];
    buildReportModel({ ...input, logUrl: (key, b) => (links.push([key, b]), null) });
    expect(links).toContainEqual(['nightshift/nights/x/logs/a_1.log', { machine: 'm0', id: 'a_1' }]);
  });
});
