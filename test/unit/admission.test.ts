/** The admission controller: reservations within the budget, longest-first with backfill, refusals. */
import { describe, expect, it } from 'vitest';
import { Admission, bytesText, defaultMemoryBudget, type AdmissionBuild, type Budget } from '../../src/runner/admission.js';

const G = 1024 ** 3;

describe('Admission', () => {
  it('starts the longest expected build that fits, and backfills a smaller one while a big one waits', () => {
    const a = new Admission({ slots: 3, memory: 1 * G });
    const big1 = { id: 'big1', estimateS: 100, memory: 0.6 * G };
    const big2 = { id: 'big2', estimateS: 90, memory: 0.6 * G };
    const small = { id: 'small', estimateS: 10, memory: 0.3 * G };
    expect(a.pick([big1, big2, small])).toBe('big1');
    a.start(big1);
    // big2 does not fit next to big1 (1.2 GiB > 1 GiB): the small one backfills.
    expect(a.pick([big2, small])).toBe('small');
    a.start(small);
    expect(a.pick([big2])).toBeUndefined();
    a.finish(big1);
    expect(a.pick([big2])).toBe('big2');
  });

  it('limits by slots, cpus and gpus too; gpus "all" takes every gpu of the budget', () => {
    const a = new Admission({ slots: 2, cpus: 8, gpus: 2 });
    a.start({ id: 'a', estimateS: 1, cpus: 6 });
    expect(a.fits({ cpus: 4 })).toBe(false);
    expect(a.fits({ cpus: 2, gpus: 'all' })).toBe(true);
    a.start({ id: 'b', estimateS: 1, gpus: 'all' });
    expect(a.inUse).toEqual({ slots: 2, memory: 0, cpus: 6, gpus: 2 });
    expect(a.fits({})).toBe(false); // no slot left
    a.finish({ id: 'a' });
    expect(a.fits({ gpus: 1 })).toBe(false);
    expect(a.fits({ cpus: 8 })).toBe(true);
  });

  it('does not limit resources the budget leaves out', () => {
    const a = new Admission({ slots: 2 });
    a.start({ id: 'a', estimateS: 1, memory: 500 * G, cpus: 999, gpus: 8 });
    expect(a.pick([{ id: 'b', estimateS: 1, memory: 500 * G }])).toBe('b');
  });

  it('says why a build larger than the whole budget can never run, and never picks it', () => {
    const a = new Admission({ slots: 4, memory: 30 * G, cpus: 16, gpus: 1 });
    expect(a.exceedsBudget({ memory: 48 * G })).toBe("needs 48 GiB of memory, more than this machine's budget of 30 GiB");
    expect(a.exceedsBudget({ cpus: 32 })).toBe("needs 32 cpus, more than this machine's budget of 16");
    expect(a.exceedsBudget({ gpus: 2 })).toBe("needs 2 gpus, more than this machine's budget of 1");
    expect(a.exceedsBudget({ memory: 30 * G, cpus: 16, gpus: 'all' })).toBeUndefined();
    expect(
      a.pick([
        { id: 'huge', estimateS: 1000, memory: 48 * G },
        { id: 'ok', estimateS: 1, memory: G },
      ]),
    ).toBe('ok');
  });

  it('refuses to start a build that does not fit, or one already running', () => {
    const a = new Admission({ slots: 2, memory: G });
    a.start({ id: 'a', estimateS: 1, memory: 0.8 * G });
    expect(() => a.start({ id: 'b', estimateS: 1, memory: 0.8 * G })).toThrow(/does not fit/);
    expect(() => a.start({ id: 'a', estimateS: 1 })).toThrow(/already running/);
  });

  it('defaults the memory budget to the machine memory minus 10 %, at least 2 GiB', () => {
    expect(defaultMemoryBudget(64 * G)).toBeCloseTo(57.6 * G);
    expect(defaultMemoryBudget(8 * G)).toBe(6 * G);
    expect(defaultMemoryBudget(1 * G)).toBe(0);
    expect(bytesText(1.5 * G)).toBe('1.5 GiB');
    expect(bytesText(600 * 1024 ** 2)).toBe('600 MiB');
  });

  it('randomized: reservations never exceed the budget and every build that fits the budget ends up running', () => {
    const random = mulberry32(20261122);
    const int = (n: number) => Math.floor(random() * n);
    for (let round = 0; round < 300; round++) {
      const budget: Budget = { slots: 1 + int(4), memory: (1 + int(64)) * G, ...(random() < 0.5 && { cpus: 1 + int(16) }), ...(random() < 0.3 && { gpus: int(4) }) };
      const a = new Admission(budget);
      const builds: AdmissionBuild[] = Array.from({ length: 1 + int(25) }, (_, i) => ({
        id: `b${i}`,
        estimateS: 1 + int(100),
        ...(random() < 0.8 && { memory: (1 + int(80)) * G }),
        ...(random() < 0.5 && { cpus: 1 + int(20) }),
        ...(random() < 0.3 && { gpus: random() < 0.2 ? ('all' as const) : int(5) }),
      }));
      const waiting = builds.filter((b) => a.exceedsBudget(b) === undefined);
      const running: { build: AdmissionBuild; endsAt: number }[] = [];
      let clock = 0;
      let done = 0;
      const feasible = waiting.length;
      while (waiting.length || running.length) {
        let id: string | undefined;
        while ((id = a.pick(waiting)) !== undefined) {
          const build = waiting.splice(
            waiting.findIndex((b) => b.id === id),
            1,
          )[0]!;
          a.start(build);
          running.push({ build, endsAt: clock + build.estimateS * (0.5 + random()) });
          const used = a.inUse;
          expect(used.slots).toBeLessThanOrEqual(budget.slots);
          expect(used.memory).toBeLessThanOrEqual(budget.memory!);
          if (budget.cpus !== undefined) expect(used.cpus).toBeLessThanOrEqual(budget.cpus);
          if (budget.gpus !== undefined) expect(used.gpus).toBeLessThanOrEqual(budget.gpus);
        }
        // Nothing starves: with builds waiting, something must be running (else they would wait forever).
        expect(running.length).toBeGreaterThan(0);
        running.sort((x, y) => x.endsAt - y.endsAt);
        const next = running.shift()!;
        clock = next.endsAt;
        a.finish(next.build);
        done++;
      }
      expect(done).toBe(feasible);
      expect(a.inUse).toEqual({ slots: 0, memory: 0, cpus: 0, gpus: 0 });
    }
  });
});

/** A small deterministic PRNG, so a failure reproduces. */
function mulberry32(seed: number): () => number {
  let t = seed >>> 0;
  return () => {
    t = (t + 0x6d2b79f5) >>> 0;
    let r = Math.imul(t ^ (t >>> 15), 1 | t);
    r = (r + Math.imul(r ^ (r >>> 7), 61 | r)) ^ r;
    return ((r ^ (r >>> 14)) >>> 0) / 4294967296;
  };
}
