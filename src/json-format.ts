/**
 * Reading a JSON file or object that another machine or another version of nightshift may have
 * written: parsed and checked against its schema, and when it does not fit, one line saying where
 * and what is wrong, for the caller to name the file and go on with the rest.
 */
import type * as z from 'zod';

export type Parsed<T> = { ok: true; value: T } | { ok: false; problem: string };

/**
 * `text` as the format `schema` describes. With `version`, a document of another version is named as
 * such first (a newer nightshift wrote it), rather than by the fields that differ.
 */
export function parseJson<S extends z.ZodType>(text: string, schema: S, version?: number): Parsed<z.output<S>> {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    return { ok: false, problem: `not JSON (${(error as Error).message})` };
  }
  if (version !== undefined) {
    const found = typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as { version?: unknown }).version : undefined;
    if (found !== version)
      return {
        ok: false,
        problem: found === undefined ? `no version (this nightshift reads version ${version})` : `version ${JSON.stringify(found)}, but this nightshift reads version ${version}`,
      };
  }
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issues = result.error.issues.slice(0, 3).map((issue) => `${issue.path.length ? issue.path.join('.') : 'the top level'}: ${issue.message}`);
  const more = result.error.issues.length > 3 ? ` and ${result.error.issues.length - 3} more` : '';
  return { ok: false, problem: `${issues.join('; ')}${more}` };
}
