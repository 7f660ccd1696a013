/** Turns zod's issues into messages a person can act on, placed at the right line of the YAML file. */
import type { z } from 'zod';
import { isMap, isScalar } from 'yaml';
import { closest, didYouMean } from './did-you-mean.js';
import type { ConfigIssue, IssuePath } from './issues.js';
import { locate, sourceText, type YamlSource } from './source.js';

type ZodIssue = z.core.$ZodIssue;

interface Located {
  path: IssuePath;
  message: string;
  at?: 'key' | 'value';
  /** For an unknown key: the known key it is probably a misspelling of. */
  suggestion?: string;
}

/** Every issue of a failed `safeParse`, each with file, line and column. */
export function schemaIssues(source: YamlSource, schema: z.ZodType, issues: readonly ZodIssue[]): ConfigIssue[] {
  const located = mergeMisspeltKeys(issues.flatMap((issue) => describe(source, schema, issue, [])));
  return located.map(({ path, message, at }) => ({ file: source.file, ...locate(source, path, at), path, message }));
}

const MISSING = 'missing required key';

/**
 * `axis:` for `axes:` is one mistake, not two: the unknown key already says "did you mean", so the
 * "missing required key" it causes is dropped.
 */
function mergeMisspeltKeys(located: Located[]): Located[] {
  const suggested = new Set(located.flatMap(({ path, suggestion }) => (suggestion ? [[...path.slice(0, -1), suggestion].join('\0')] : [])));
  return located.filter(({ path, message }) => !(message.startsWith(MISSING) && suggested.has(path.join('\0'))));
}

function describe(source: YamlSource, schema: z.ZodType, issue: ZodIssue, prefix: IssuePath): Located[] {
  const path = [...prefix, ...(issue.path as IssuePath)];
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(schema, path);
      return issue.keys.map((key) => {
        const suggestion = closest(key, known);
        return {
          path: [...path, key],
          at: 'key' as const,
          suggestion,
          message: `unknown key "${key}"${suggestion !== undefined ? `; did you mean "${suggestion}"?` : known.length ? `; expected one of ${known.join(', ')}` : ''}`,
        };
      });
    }
    case 'invalid_union': {
      // Report the alternative that got furthest: an object with a bad field rather than "not a string".
      const deep = issue.errors.filter((branch) => !branch.every(isShallow));
      if (deep.length === 1) return deep[0]!.flatMap((sub) => describe(source, schema, sub, path));
      if (deep.length === 0) {
        // Every alternative refused the value itself: say what would have been accepted.
        const expected = issue.errors
          .flat()
          .map((sub) => (sub.code === 'invalid_type' ? sub.expected : sub.code === 'invalid_value' ? sub.values.map((v) => JSON.stringify(v)).join(' or ') : ''));
        if (expected.includes('string') && typeof input === 'number') return [{ path, message: quoteNumber(source, path, input) }];
        const names = [...new Set(expected.filter(Boolean).map((type) => (type === 'boolean' ? 'true/false' : article(type))))];
        return [{ path, message: `expected ${names.length > 2 ? `${names.slice(0, -1).join(', ')} or ${names.at(-1)!}` : names.join(' or ')}, got ${show(input)}` }];
      }
      return [{ path, message: issue.message === 'Invalid input' ? `unexpected value ${show(input)}` : issue.message }];
    }
    case 'invalid_key':
      return [{ path, at: 'key', message: issue.issues[0]?.message ?? issue.message }];
    case 'invalid_type':
      if (input === undefined) {
        // Point at the mapping that lacks the key (its own line), and say what the key is for.
        const about = describedAs(schema, path);
        const misspelt = misspeltAs(source, schema, path);
        const hint = misspelt ? `; is "${misspelt}" meant to be "${path.at(-1)!}"?` : about ? ` (${about})` : '';
        return [{ path, at: 'key', message: `${MISSING} "${path.at(-1)!}"${hint}` }];
      }
      if (!issue.message.startsWith('Invalid input')) return [{ path, message: issue.message }];
      if (issue.expected === 'string' && typeof input === 'number') return [{ path, message: quoteNumber(source, path, input) }];
      if (issue.expected === 'number' && typeof input === 'string' && input.trim() !== '' && !Number.isNaN(Number(input))) {
        return [{ path, message: `expected a number, got the text "${input}"; remove the quotes` }];
      }
      return [{ path, message: `expected ${article(issue.expected)}, got ${show(input)}` }];
    case 'invalid_value': {
      const options = issue.values.map(String);
      return [{ path, message: `expected one of ${options.join(', ')}, got ${show(input)}${didYouMean(String(input), options)}` }];
    }
    case 'too_small':
    case 'too_big':
      // Only zod's own wording is replaced; the schema's messages (like a command's) are kept.
      return [{ path, message: /^Too (small|big)/.test(issue.message) ? `${bound(issue)}, got ${show(input)}` : issue.message }];
    default:
      return [{ path, message: issue.message }];
  }
}

/**
 * A key written next to a missing one that is probably it misspelt (`valu:` for `value:`), where the
 * schema takes any key as an attribute and so did not report it as unknown.
 */
function misspeltAs(source: YamlSource, schema: z.ZodType, path: IssuePath): string | undefined {
  const parent = source.document.getIn(path.slice(0, -1));
  if (!isMap(parent)) return undefined;
  const known = knownKeys(schema, path.slice(0, -1));
  const written = parent.items.flatMap((pair) => (isScalar(pair.key) && !known.includes(String(pair.key.value)) ? [String(pair.key.value)] : []));
  return closest(String(path.at(-1)), written);
}

/** An alternative of a union that refused the value itself (its type or literal), not a part of it. */
function isShallow(issue: ZodIssue): boolean {
  return issue.path.length === 0 && (issue.code === 'invalid_type' || issue.code === 'invalid_value');
}

/** YAML reads `3.10` as the number 3.1: show it as written and say how to keep it. */
function quoteNumber(source: YamlSource, path: IssuePath, input: number): string {
  const written = sourceText(source, path) ?? String(input);
  return `expected text, got the number ${written}; put it in quotes ("${written}") so YAML keeps it as written`;
}

/** zod's "Too small: expected number to be >=1" in words. */
function bound(issue: Extract<ZodIssue, { code: 'too_small' | 'too_big' }>): string {
  const small = issue.code === 'too_small';
  const limit = Number(small ? (issue as { minimum: number | bigint }).minimum : (issue as { maximum: number | bigint }).maximum);
  const inclusive = issue.inclusive !== false;
  switch (issue.origin) {
    case 'string':
      return small && limit === 1 ? 'expected non-empty text' : `expected text of ${small ? 'at least' : 'at most'} ${limit} characters`;
    case 'array':
      return small && limit === 1 ? 'expected a list with at least one item' : `expected a list of ${small ? 'at least' : 'at most'} ${limit} items`;
    case 'number':
    case 'int':
      if (small && limit === 0 && !inclusive) return 'expected a number above 0';
      return `expected a number ${small ? (inclusive ? 'of at least' : 'above') : inclusive ? 'of at most' : 'below'} ${limit}`;
    default:
      return issue.message;
  }
}

function article(expected: string): string {
  const names: Record<string, string> = {
    object: 'a mapping',
    record: 'a mapping',
    array: 'a list',
    string: 'text',
    number: 'a number',
    int: 'a whole number',
    boolean: 'true or false',
  };
  return names[expected] ?? expected;
}

function show(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/** The keys the schema allows at `path`, for "did you mean". */
export function knownKeys(schema: z.ZodType, path: IssuePath): string[] {
  let current = schemaAt(schema, path);
  if (current?._zod.def.type === 'union') current = objectOption(current);
  const def = current?._zod.def as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
}

/** The keys a mapping must have (no default, not optional), for "the file is empty". */
export function requiredKeys(schema: z.ZodType): string[] {
  const def = schemaAt(schema, [])?._zod.def as { type: string; shape?: Record<string, z.ZodType> } | undefined;
  return Object.entries(def?.shape ?? {})
    .filter(([, value]) => !value.safeParse(undefined).success)
    .map(([key]) => key);
}

/** The description a key has in the schema (the text editors show), if any. */
function describedAs(schema: z.ZodType, path: IssuePath): string | undefined {
  const parent = schemaAt(schema, path.slice(0, -1));
  const def = parent?._zod.def as { type: string; shape?: Record<string, z.ZodType> } | undefined;
  return def?.type === 'object' ? def.shape?.[String(path.at(-1))]?.description : undefined;
}

/** The schema of the value at `path`, wrappers (optional, default, ...) removed. Follows zod 4's definitions. */
function schemaAt(schema: z.ZodType, path: IssuePath): z.core.$ZodType | undefined {
  let current: z.core.$ZodType | undefined = unwrap(schema);
  for (const step of path) {
    if (!current) return undefined;
    const def = current._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'object') current = (def.shape as Record<string, z.core.$ZodType>)[step as string];
    else if (def.type === 'record') current = def.valueType as z.core.$ZodType;
    else if (def.type === 'array') current = def.element as z.core.$ZodType;
    else if (def.type === 'union') current = (objectOption(current)?._zod.def as { shape?: Record<string, z.core.$ZodType> } | undefined)?.shape?.[step as string];
    else return undefined;
    current = unwrap(current);
  }
  return current;
}

function objectOption(union: z.core.$ZodType): z.core.$ZodType | undefined {
  return (union._zod.def as unknown as { options: z.core.$ZodType[] }).options.map(unwrap).find((o) => o?._zod.def.type === 'object');
}

function unwrap(schema: z.core.$ZodType | undefined): z.core.$ZodType | undefined {
  let current = schema;
  while (current) {
    const def = current._zod.def as unknown as { type: string; innerType?: z.core.$ZodType; in?: z.core.$ZodType };
    if (def.innerType && ['optional', 'default', 'nullable', 'prefault', 'readonly', 'catch'].includes(def.type)) current = def.innerType;
    else if (def.type === 'pipe' && def.in) current = def.in;
    else return current;
  }
  return current;
}
