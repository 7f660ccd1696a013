/**
 * A file the schema refused, mended the way its author most likely meant, so that the checks that need a
 * whole configuration (templates, selectors, budgets) still run and every problem is reported in one
 * round — pure. The mended data is never used for anything but those checks: the problems the schema
 * found are reported all the same, and a configuration with any problem is refused.
 *
 * The mends, in the order a person would make them:
 * - a misspelt key (`pythn:`) becomes the key it is closest to, when that key is not there already;
 * - a number where text belongs (`3.10` read as 3.1) becomes the text as written;
 * - a required value that the checks never read (a cron expression) gets a stand-in;
 * - anything else refused is left out, so its default (if any) applies.
 */
import type { z } from 'zod';
import { closest } from './did-you-mean.js';
import type { IssuePath } from './issues.js';
import { knownKeys } from './schema-issues.js';

type ZodIssue = z.core.$ZodIssue;

export interface Mend {
  /** What the schema refused, from the file's top. */
  path: IssuePath;
  /** What the mend did to it. */
  kind: 'renamed' | 'as-written' | 'stand-in' | 'left-out';
}

export interface RepairOptions<S extends z.ZodType> {
  schema: S;
  data: unknown;
  issues: readonly ZodIssue[];
  /** The text the file has at a path (`3.10` where the data says 3.1). */
  textAt: (path: IssuePath) => string | undefined;
  /** A valid value for a required place whose value no check reads, if it has one. */
  standIn?: (path: IssuePath) => unknown;
}

/** A few rounds: leaving out a value can uncover a problem inside its default's neighbours, rarely more. */
const ROUNDS = 4;

/** The mended data once the schema accepts it, with what was mended; undefined when it cannot be mended. */
export function repairForChecks<S extends z.ZodType>(options: RepairOptions<S>): { data: z.output<S>; mends: Mend[] } | undefined {
  let data = structuredClone(options.data);
  let issues = options.issues;
  const mends: Mend[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const applied = issues.flatMap((issue) => mend(data, issue, options));
    if (applied.length === 0) return undefined;
    mends.push(...applied);
    data = withoutLeftOut(data);
    const result = options.schema.safeParse(data);
    if (result.success) return { data: result.data, mends };
    issues = result.error.issues;
  }
  return undefined;
}

function mend<S extends z.ZodType>(data: unknown, issue: ZodIssue, options: RepairOptions<S>): Mend[] {
  const path = issue.path as IssuePath;
  if (issue.code === 'unrecognized_keys') {
    const parent = valueAt(data, path);
    if (!isRecord(parent)) return [];
    const known = knownKeys(options.schema, path);
    return issue.keys.map((key) => {
      const meant = closest(key, known);
      if (meant !== undefined && !(meant in parent)) {
        parent[meant] = parent[key];
        Reflect.deleteProperty(parent, key);
        return { path: [...path, key], kind: 'renamed' as const };
      }
      Reflect.deleteProperty(parent, key);
      return { path: [...path, key], kind: 'left-out' as const };
    });
  }
  if (path.length === 0) return [];
  const parent = valueAt(data, path.slice(0, -1));
  const key = path.at(-1)!;
  const value = isRecord(parent) || Array.isArray(parent) ? (parent as Record<string | number, unknown>)[key] : undefined;
  if (value === undefined) return [];
  const written = typeof value === 'number' ? options.textAt(path) : undefined;
  if (typeof value === 'number' && written !== undefined && written !== String(value) && expectsText(issue)) {
    (parent as Record<string | number, unknown>)[key] = written.replace(/^["']|["']$/g, '');
    return [{ path, kind: 'as-written' }];
  }
  const standIn = options.standIn?.(path);
  if (standIn !== undefined) {
    (parent as Record<string | number, unknown>)[key] = standIn;
    return [{ path, kind: 'stand-in' }];
  }
  // List items are marked, not spliced, so that the other issues' indexes still point at their items.
  if (Array.isArray(parent)) parent[Number(key)] = LEFT_OUT;
  else Reflect.deleteProperty(parent as object, key);
  return [{ path, kind: 'left-out' }];
}

/** The schema wanted text here (directly, or as one choice of a union). */
function expectsText(issue: ZodIssue): boolean {
  if (issue.code === 'invalid_type') return issue.expected === 'string';
  if (issue.code === 'invalid_union') return issue.errors.flat().some((sub) => sub.code === 'invalid_type' && sub.expected === 'string');
  return false;
}

const LEFT_OUT = Symbol('left out');

function withoutLeftOut(data: unknown): unknown {
  if (Array.isArray(data)) return data.filter((item) => item !== LEFT_OUT).map(withoutLeftOut);
  if (isRecord(data)) return Object.fromEntries(Object.entries(data).map(([key, value]) => [key, withoutLeftOut(value)]));
  return data;
}

function valueAt(data: unknown, path: IssuePath): unknown {
  let current = data;
  for (const key of path) {
    if (!isRecord(current) && !Array.isArray(current)) return undefined;
    current = (current as Record<string | number, unknown>)[key];
  }
  return current;
}

const isRecord = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);
