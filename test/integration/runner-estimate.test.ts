/**
 * The slot runner starts the longest expected build (by the estimates it is given) that fits, not
 * the first in its list: real host builds in a real night folder.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HostExecutor } from '../../src/build/host-executor.js';
import { runBuilds, type RunnerEvent } from '../../src/runner/run-builds.js';
import type { Cell, Matrix } from '../../src/config/model.js';
import { nightLayout } from '../../src/night/layout.js';
import { openNight } from '../../src/night/open-night.js';
import { pendingRecord } from '../../src/night/resume.js';
import { NightStateStore } from '../../src/night/state.js';
import { pkg } from '../helpers/model.js';

const matrix = { file: 'matrix.yaml', recipes: { repo: 'unused', ref: 'main' }, axes: [], packages: [], env: {}, exclude: [], include: [] } as Matrix;
const hostCell = (id: string, estimateS: number, resources: Cell['package']['resources'] = {}): Cell => ({
  id,
  package: pkg(id.split('_')[0]!, estimateS, { executor: 'host', image: null, command: ['true'], artifacts: 'optional', resources }),
  values: {},
});

describe('runBuilds start order', () => {
  let root: string;
  let night = 0;
  beforeAll(async () => {
    root = await mkdtemp(path.join(os.tmpdir(), 'nightshift-runner-'));
  });
  afterAll(() => rm(root, { recursive: true, force: true }));

  /** Runs `cells` (in this list order) and returns the ids in the order they started. */
  async function starts(cells: Cell[], options: { slots: number; estimate?: (cell: Cell) => number; budget?: { memory?: number } }): Promise<string[]> {
    const layout = nightLayout(root, `2031_01_${String(++night).padStart(2, '0')}`);
    await openNight(layout);
    await mkdir(layout.recipes, { recursive: true });
    const store = new NightStateStore(layout.state);
    await store.replace({
      version: 1,
      date: layout.date,
      machine: 'm1',
      schedule: 'nightly',
      updated_at: new Date().toISOString(),
      builds: cells.map((c, i) => pendingRecord(c, i + 1, 0)),
    });
    const events: RunnerEvent[] = [];
    const records = await runBuilds({
      layout,
      cells,
      estimate: options.estimate,
      slots: options.slots,
      budget: options.budget,
      matrix,
      machine: 'm1',
      store,
      executors: { host: new HostExecutor(), docker: new HostExecutor() },
      signal: new AbortController().signal,
      onEvent: (event) => events.push(event),
    });
    expect(records.map((r) => r.status)).toEqual(cells.map(() => 'succeeded'));
    return events.filter((e) => e.type === 'start').map((e) => e.id);
  }

  it('starts the longest expected first, by the estimates given, whatever the list order', async () => {
    const cells = [hostCell('a_1', 1800), hostCell('b_1', 1800), hostCell('c_1', 1800)];
    const history: Record<string, number> = { a_1: 10, b_1: 300, c_1: 60 };
    expect(await starts(cells, { slots: 1, estimate: (cell) => history[cell.id]! })).toEqual(['b_1', 'c_1', 'a_1']);
  });

  it('uses the matrix estimates when given none, the list order breaking ties', async () => {
    const cells = [hostCell('a_1', 60), hostCell('b_1', 600), hostCell('c_1', 60), hostCell('d_1', 600)];
    expect(await starts(cells, { slots: 1 })).toEqual(['b_1', 'd_1', 'a_1', 'c_1']);
  });

  it('backfills with the longest expected build that fits the memory left', async () => {
    const MiB = 1024 ** 2;
    // 'big' starts first and holds 600 of 1000 MiB: of the rest only the 300 MiB builds fit, the
    // longer one by history first; the 500 MiB one waits although its matrix estimate is the largest.
    const cells = [
      hostCell('big_1', 60, { memoryBytes: 600 * MiB }),
      hostCell('wide_1', 9000, { memoryBytes: 500 * MiB }),
      hostCell('x_1', 60, { memoryBytes: 300 * MiB }),
      hostCell('y_1', 60, { memoryBytes: 300 * MiB }),
    ];
    const history: Record<string, number> = { big_1: 10_000, wide_1: 5000, x_1: 20, y_1: 900 };
    const order = await starts(cells, { slots: 2, estimate: (cell) => history[cell.id]!, budget: { memory: 1000 * MiB } });
    // Both start in one admission round; their start events may come in either order.
    expect(order.slice(0, 2).sort()).toEqual(['big_1', 'y_1']);
  });
});
