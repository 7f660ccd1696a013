import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { repairForChecks } from '../../src/config/repair.js';

const schema = z.strictObject({
  name: z.string(),
  timeout: z.string().default('1h'),
  values: z.array(z.string().regex(/^[a-z0-9.]+$/)),
  cron: z.string().refine((text) => text.split(' ').length === 5),
});

const repair = (data: unknown, text: Record<string, string> = {}) => {
  const result = schema.safeParse(data);
  if (result.success) throw new Error('test setup: the data must be refused');
  return repairForChecks({
    schema,
    data,
    issues: result.error.issues,
    textAt: (path) => text[path.join('.')],
    standIn: (path) => (path.at(-1) === 'cron' ? '0 0 * * *' : undefined),
  });
};

describe('mending a refused file for the checks that need a whole one', () => {
  it('renames a misspelt key to the one it is closest to', () => {
    const mended = repair({ name: 'a', timout: '2h', values: [], cron: '5 0 * * *' });
    expect(mended?.data.timeout).toBe('2h');
    expect(mended?.mends).toEqual([{ path: ['timout'], kind: 'renamed' }]);
  });

  it('takes a number where text belongs as written (3.10, not 3.1)', () => {
    const mended = repair({ name: 'a', values: ['3.9', 3.1], cron: '5 0 * * *' }, { 'values.1': '3.10' });
    expect(mended?.data.values).toEqual(['3.9', '3.10']);
  });

  it('leaves out refused list items without shifting the other refused ones', () => {
    const mended = repair({ name: 'a', values: ['ok', 'Bad/1', 'fine', 'Bad/2'], cron: '5 0 * * *' });
    expect(mended?.data.values).toEqual(['ok', 'fine']);
    expect(mended?.mends.map((m) => m.path)).toEqual([
      ['values', 1],
      ['values', 3],
    ]);
  });

  it('puts a stand-in where a required value no check reads was refused', () => {
    const mended = repair({ name: 'a', values: [], cron: '30 25 * *' });
    expect(mended?.data.cron).toBe('0 0 * * *');
    expect(mended?.mends).toEqual([{ path: ['cron'], kind: 'stand-in' }]);
  });

  it('gives up when a required value can only be left out', () => {
    expect(repair({ name: 7, values: [], cron: '5 0 * * *' })).toBeUndefined();
  });

  it('never changes the data it was given', () => {
    const data = { name: 'a', timout: '2h', values: ['Bad/1'], cron: 'x' };
    const before = structuredClone(data);
    repair(data);
    expect(data).toEqual(before);
  });
});
