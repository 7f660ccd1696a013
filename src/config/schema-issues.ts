/** Turns zod's issues into messages a person can act on, placed at the right line of the YAML file. */
import type { z } from 'zod';
import { didYouMean } from './did-you-mean.js';
import type { ConfigIssue, IssuePath } from './issues.js';
import { locate, sourceText, type YamlSource } from './source.js';

type ZodIssue = z.core.$ZodIssue;

interface Located {
  path: IssuePath;
  message: string;
  at?: 'key' | 'value';
}

/** Every issue of a failed `safeParse`, each with file, line and column. */
export function schemaIssues(source: YamlSource, schema: z.ZodType, issues: readonly ZodIssue[]): ConfigIssue[] {
  return issues
    .flatMap((issue) => describe(source, schema, issue, []))
    .map(({ path, message, at }) => ({ file: source.file, ...locate(source, path, at), path, message }));
}

function describe(source: YamlSource, schema: z.ZodType, issue: ZodIssue, prefix: IssuePath): Located[] {
  const path = [...prefix, ...(issue.path as IssuePath)];
  const input = (issue as { input?: unknown }).input;
  switch (issue.code) {
    case 'unrecognized_keys': {
      const known = knownKeys(schema, path);
      return issue.keys.map((key) => ({
        path: [...path, key],
        at: 'key' as const,
        message: `unknown key "${key}"${didYouMean(key, known) || (known.length ? `; expected one of ${known.join(', ')}` : '')}`,
      }));
    }
    case 'invalid_union': {
      // Report the alternative that got furthest: an object with a bad field rather than "not a string".
      const branches = issue.errors.filter((branch) => !branch.every((sub) => sub.code === 'invalid_type' && sub.path.length === 0));
      if (branches.length === 1) return branches[0]!.flatMap((sub) => describe(source, schema, sub, path));
      return [{ path, message: issue.message === 'Invalid input' ? `unexpected value ${show(input)}` : issue.message }];
    }
    case 'invalid_key':
      return [{ path, at: 'key', message: issue.issues[0]?.message ?? issue.message }];
    case 'invalid_type':
      if (input === undefined) return [{ path, at: 'key', message: `missing required key "${path.at(-1)}"` }];
      if (!issue.message.startsWith('Invalid input')) return [{ path, message: issue.message }];
      if (issue.expected === 'string' && typeof input === 'number') {
        const written = sourceText(source, path) ?? String(input);
        return [{ path, message: `expected text, got the number ${written}; put it in quotes ("${written}") so YAML keeps it as written` }];
      }
      return [{ path, message: `expected ${article(issue.expected)}, got ${show(input)}` }];
    case 'invalid_value': {
      const options = issue.values.map(String);
      return [{ path, message: `expected one of ${options.join(', ')}, got ${show(input)}${didYouMean(String(input), options)}` }];
    }
    default:
      return [{ path, message: issue.message }];
  }
}

function article(expected: string): string {
  const names: Record<string, string> = { object: 'a mapping', array: 'a list', string: 'text', number: 'a number', boolean: 'true or false' };
  return names[expected] ?? expected;
}

function show(value: unknown): string {
  if (value === null) return 'nothing (null)';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return JSON.stringify(value);
}

/** The keys the schema allows at `path`, for "did you mean". Follows zod 4's definitions. */
export function knownKeys(schema: z.ZodType, path: IssuePath): string[] {
  let current: z.core.$ZodType | undefined = unwrap(schema);
  for (const step of path) {
    if (!current) return [];
    const def = current._zod.def as unknown as Record<string, unknown> & { type: string };
    if (def.type === 'object') current = (def.shape as Record<string, z.core.$ZodType>)[step as string];
    else if (def.type === 'record') current = def.valueType as z.core.$ZodType;
    else if (def.type === 'array') current = def.element as z.core.$ZodType;
    else if (def.type === 'union') current = (def.options as z.core.$ZodType[]).map(unwrap).find((o) => o?._zod.def.type === 'object');
    else return [];
    current = unwrap(current);
  }
  if (current?._zod.def.type === 'union') {
    current = (current._zod.def as unknown as { options: z.core.$ZodType[] }).options.map(unwrap).find((o) => o?._zod.def.type === 'object');
  }
  const def = current?._zod.def as { type: string; shape?: Record<string, unknown> } | undefined;
  return def?.type === 'object' && def.shape ? Object.keys(def.shape) : [];
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
