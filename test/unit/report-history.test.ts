import { describe, expect, it } from 'vitest';
import { stringMatching } from '../helpers/expect.js';
import { buildReportModel, type PlannedCell } from '../../src/report/history.js';
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
    expect(model.counts).toEqual({ total: 6, succeeded: 1, failed: 3, missing: 2 });
  });

  it('carries log tails and links', () => {
    expect(cell('a_1').log).toEqual({ key: 'nightshift/nights/x/logs/a_1.log', url: 'https://logs.example.com/nightshift/nights/x/logs/a_1.log', tail: ['error: boom'] });
    expect(model.history).toEqual(['2026_11_21', '2026_11_20', '2026_11_19']);
  });
});
