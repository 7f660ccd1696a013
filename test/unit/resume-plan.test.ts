/** planResume: what a second run of a night does with what the first left — kept, forced, orphaned. */
import { describe, expect, it } from 'vitest';
import { planResume, queueResume } from '../../src/night/resume.js';
import type { BuildRecord, NightState } from '../../src/night/state.js';
import { cell } from '../helpers/model.js';

const cells = [cell('a_1', 600), cell('b_1', 300), cell('c_1', 60), cell('d_1', 30)];
const estimate = (c: (typeof cells)[number]) => c.package.estimateS;

function record(id: string, status: BuildRecord['status'], attempt: number): BuildRecord {
  return { id, package: id.split('_')[0]!, axes: {}, executor: 'docker', image: 'image', status, order: 1, estimate_s: 60, attempt, exit_code: status === 'failed' ? 1 : 0 };
}

const previous: NightState = {
  version: 1,
  date: '2026_11_22',
  machine: 'linux-0',
  schedule: 'nightly',
  updated_at: '2026-11-22T08:00:00.000Z',
  builds: [record('a_1', 'succeeded', 1), record('b_1', 'failed', 1), record('c_1', 'running', 2)],
};

describe('planResume', () => {
  it('keeps what succeeded, reruns what failed, what was left running and what never ran', () => {
    const plan = planResume(previous, cells, { force: false, estimate });
    expect(plan.kept).toEqual(['a_1']);
    expect(plan.toRun.map((c) => c.id)).toEqual(['b_1', 'c_1', 'd_1']);
    expect(plan.state.builds.find((b) => b.id === 'a_1')).toMatchObject({ status: 'succeeded', attempt: 1 });
  });

  it('names the builds an earlier runner left running, so their containers are removed before they run again', () => {
    const plan = planResume(previous, cells, { force: false, estimate });
    expect(plan.orphaned).toEqual(['c_1']);
    // Reset to pending, keeping the count of attempts.
    expect(plan.state.builds.find((b) => b.id === 'c_1')).toMatchObject({ status: 'pending', attempt: 2 });
    expect(plan.state.builds.find((b) => b.id === 'c_1')).not.toHaveProperty('exit_code');
  });

  it('--force reruns what already succeeded', () => {
    const plan = planResume(previous, cells, { force: true, estimate });
    expect(plan.kept).toEqual([]);
    expect(plan.toRun.map((c) => c.id)).toEqual(['a_1', 'b_1', 'c_1', 'd_1']);
    expect(plan.state.builds.find((b) => b.id === 'a_1')).toMatchObject({ status: 'pending', attempt: 1 });
  });

  it('leaves builds that were not selected this time as they were', () => {
    const plan = planResume(previous, [cells[1]!], { force: true, estimate });
    expect(plan.toRun.map((c) => c.id)).toEqual(['b_1']);
    expect(plan.state.builds.find((b) => b.id === 'a_1')).toMatchObject({ status: 'succeeded' });
    expect(plan.state.builds.find((b) => b.id === 'c_1')).toMatchObject({ status: 'running' });
  });
});

describe('queueResume', () => {
  it('never builds again what ended here, and gives back what a dead runner left running', () => {
    const plan = queueResume({ ...previous, builds: [...previous.builds, record('d_1', 'canceled', 1), { ...record('e_1', 'succeeded', 1), manual: true }] });
    expect(plan.ended.map((b) => b.id)).toEqual(['a_1', 'b_1']);
    expect(plan.orphaned).toEqual(['c_1']);
    expect(plan.state.builds.find((b) => b.id === 'c_1')).toMatchObject({ status: 'canceled', attempt: 2, reason: expect.stringMatching(/back to the shared queue/) as unknown });
    expect(plan.state.builds.find((b) => b.id === 'd_1')?.status).toBe('canceled');
  });
});
