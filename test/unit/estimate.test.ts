import { describe, expect, it } from 'vitest';
import { EWMA_ALPHA, estimator, ewmaEstimate, mergeDurations, type BuildDurations, type DurationEntry } from '../../src/plan/estimate.js';
import { planNight } from '../../src/plan/plan.js';
import { planOptions, type NightEstimates } from '../../src/runner/estimates.js';
import { cell, machine } from '../helpers/model.js';

const night = (day: number) => `2026_11_${String(day).padStart(2, '0')}`;
const ok = (day: number, duration_s: number): DurationEntry => ({ date: night(day), duration_s, status: 'succeeded' });
const run = (day: number, duration_s: number, status: string): DurationEntry => ({ date: night(day), duration_s, status });

describe('ewmaEstimate', () => {
  it('falls back to the matrix estimate without a success', () => {
    expect(ewmaEstimate([], 1800)).toEqual({ estimateS: 1800, from: 'config' });
    expect(ewmaEstimate([run(1, 120, 'failed'), run(2, 5, 'canceled')], 1800)).toEqual({ estimateS: 1800, from: 'config' });
  });

  it('is the one success when there is one', () => {
    expect(ewmaEstimate([ok(1, 4000)], 1800)).toEqual({ estimateS: 4000, from: 'history' });
  });

  it('weights the newest success most, whatever order the entries come in', () => {
    const entries = [ok(3, 2000), ok(1, 1000), ok(2, 1000)];
    // 1000, then 1000, then 0.4 · 2000 + 0.6 · 1000
    expect(EWMA_ALPHA).toBe(0.4);
    expect(ewmaEstimate(entries, 60).estimateS).toBe(1400);
    // 2000, then 0.4 · 1000 + 0.6 · 2000 = 1600, then 0.4 · 1000 + 0.6 · 1600
    expect(ewmaEstimate([ok(1, 2000), ok(2, 1000), ok(3, 1000)], 60).estimateS).toBe(1360);
  });

  it('moves less than half of the way on one odd night and most of the way after three', () => {
    const steady = [1, 2, 3, 4, 5].map((day) => ok(day, 3600));
    expect(ewmaEstimate([...steady, ok(6, 7200)], 60).estimateS).toBe(3600 + 0.4 * 3600);
    const changed = [...steady, ok(6, 7200), ok(7, 7200), ok(8, 7200)];
    expect(ewmaEstimate(changed, 60).estimateS).toBeGreaterThan(3600 + 0.75 * 3600);
  });

  it('ignores failures and cancels: a build that failed after 2 minutes says nothing about its length', () => {
    expect(ewmaEstimate([ok(1, 3000), run(2, 120, 'failed'), run(3, 10, 'canceled')], 60)).toEqual({ estimateS: 3000, from: 'history' });
  });

  it('takes a timeout since the last success as a lower bound', () => {
    expect(ewmaEstimate([ok(1, 3000), run(2, 10800, 'timed_out')], 60)).toEqual({ estimateS: 10800, from: 'history' });
    // Never below the matrix estimate either, when nothing succeeded.
    expect(ewmaEstimate([run(1, 600, 'timed_out')], 1800)).toEqual({ estimateS: 1800, from: 'history' });
    expect(ewmaEstimate([run(1, 3600, 'timed_out')], 1800)).toEqual({ estimateS: 3600, from: 'history' });
    // A success after the timeout: it is fast enough again.
    expect(ewmaEstimate([ok(1, 3000), run(2, 10800, 'timed_out'), ok(3, 3000)], 60)).toEqual({ estimateS: 3000, from: 'history' });
  });

  it("keeps the order of one night's runs (a rerun after a timeout)", () => {
    expect(ewmaEstimate([run(2, 10800, 'timed_out'), ok(2, 3000)], 60).estimateS).toBe(3000);
    expect(ewmaEstimate([ok(2, 3000), run(2, 10800, 'timed_out')], 60).estimateS).toBe(10800);
  });

  it('skips durations that are not numbers of seconds', () => {
    expect(ewmaEstimate([ok(1, Number.NaN), ok(2, -5)], 900)).toEqual({ estimateS: 900, from: 'config' });
  });
});

describe('mergeDurations and estimator', () => {
  it("merges machines' histories by night, keeping a run seen twice once", () => {
    const a: BuildDurations = { x: [ok(1, 100), ok(3, 300)] };
    const b: BuildDurations = { x: [ok(2, 200)], y: [ok(1, 50)] };
    const local: BuildDurations = { x: [ok(3, 300), ok(4, 400)] }; // a's own runs, one not shared yet
    expect(mergeDurations([a, b, local])).toEqual({ x: [ok(1, 100), ok(2, 200), ok(3, 300), ok(4, 400)], y: [ok(1, 50)] });
  });

  it("uses only nights before `before`, so a night's split does not change once it is published", () => {
    const history: BuildDurations = { x_1: [ok(1, 100), ok(5, 900)] };
    expect(estimator(history, { before: night(5) })(cell('x_1', 60))).toEqual({ estimateS: 100, from: 'history' });
    expect(estimator(history, { before: night(1) })(cell('x_1', 60))).toEqual({ estimateS: 60, from: 'config' });
    expect(estimator(history)(cell('x_1', 60)).estimateS).toBe(0.4 * 900 + 0.6 * 100);
    expect(estimator(history)(cell('y_1', 60))).toEqual({ estimateS: 60, from: 'config' });
  });
});

describe('the split from shared history', () => {
  const all = ['a_1', 'a_2', 'b_1', 'b_2', 'c_1', 'c_2', 'd_1', 'd_2'].map((id) => cell(id, 1800));
  const machines = [machine('linux-0', 2), machine('linux-1', 2), machine('mac-0', 1, ['d_*'])];
  const shared: BuildDurations = mergeDurations([
    { a_1: [ok(1, 7200)], a_2: [ok(1, 7000)], b_1: [ok(1, 300)] },
    { c_1: [ok(1, 5000)], c_2: [ok(1, 200)], d_1: [ok(1, 60)] },
  ]);
  const estimates = (local: BuildDurations): NightEstimates => ({
    split: estimator(shared, { before: night(2) }),
    order: estimator(mergeDurations([shared, local])),
  });
  const splitOf = (plan: ReturnType<typeof planNight>) => plan.machines.map((m) => [m.machine.name, m.builds.map((b) => b.id).sort()]);

  it('is the same on every machine, whatever each one has in its local history', () => {
    const onLinux0 = planNight(all, machines, planOptions(estimates({ b_2: [ok(1, 9000)] })));
    const onLinux1 = planNight(all, machines, planOptions(estimates({ a_1: [ok(1, 10)], c_2: [ok(1, 8000)] })));
    expect(splitOf(onLinux0)).toEqual(splitOf(onLinux1));
    // ... and it follows the shared history, not the matrix (where every build is 30m): the two
    // longest fill linux-0's two slots, the rest of the pool (b_2 at its matrix 30m) goes to linux-1.
    expect(splitOf(onLinux0)).toEqual([
      ['linux-0', ['a_1', 'a_2']],
      ['linux-1', ['b_1', 'b_2', 'c_1', 'c_2']],
      ['mac-0', ['d_1', 'd_2']],
    ]);
    expect(splitOf(planNight(all, machines))).not.toEqual(splitOf(onLinux0));
  });

  it("orders each machine's builds by what it knows, local history included", () => {
    const plan = planNight(all, machines, planOptions(estimates({ b_2: [ok(1, 9000)] })));
    const mine = plan.machines.find((m) => m.builds.some((b) => b.id === 'b_2'))!;
    expect(mine.builds[0]).toMatchObject({ id: 'b_2', estimateS: 9000, order: 1 });
  });
});
