/**
 * Templates in images, commands, env and upload keys: `{axis}`, `{axis.attr}`, `{axis.attr|fallback}`,
 * plus plain variables such as `{package}` or `{date}`.
 */
import type { AxisValue } from '../config/model.js';

export interface TemplateRef {
  name: string;
  attr?: string;
  fallback?: string;
  /** The reference as written, braces included. */
  text: string;
}

// `${HOME}` in a command is the shell's business, not a template: a `{` after `$` is left alone.
const REFERENCE = /(?<!\$)\{([A-Za-z_][A-Za-z0-9_]*)(?:\.([A-Za-z0-9_-]+))?(?:\|([^{}]*))?\}/g;

export function templateRefs(template: string): TemplateRef[] {
  return [...template.matchAll(REFERENCE)].map(([text, name, attr, fallback]) => ({ text, name: name!, attr, fallback }));
}

/**
 * Why a template's braces are broken, or undefined: a `{` (not the shell's `${`) that no `}` closes before the
 * next `{`, like `builder:{cuda.image_tag`, would otherwise be left in the image name as text and fail only at night.
 */
export function unclosedBrace(template: string): string | undefined {
  for (let i = 0; i < template.length; i++) {
    if (template[i] !== '{' || template[i - 1] === '$') continue;
    const close = template.indexOf('}', i + 1);
    const next = template.indexOf('{', i + 1);
    if (close >= 0 && (next < 0 || close < next)) continue;
    const name = /^[A-Za-z0-9_.|-]*/.exec(template.slice(i + 1))![0];
    return `the "{" at column ${i + 1} is never closed: end the name with "}", like {${name || 'name'}}`;
  }
  return undefined;
}

/** A variable is plain text or an axis value with attributes. */
export type TemplateVars = Readonly<Record<string, string | AxisValue>>;

export type Resolved = { ok: true; value: string } | { ok: false; reason: 'unknown' | 'no-attribute'; ref: TemplateRef };

export function resolveRef(ref: TemplateRef, vars: TemplateVars): Resolved {
  const variable = vars[ref.name];
  if (variable === undefined) return ref.fallback !== undefined ? { ok: true, value: ref.fallback } : { ok: false, reason: 'unknown', ref };
  if (ref.attr === undefined) return { ok: true, value: typeof variable === 'string' ? variable : variable.value };
  const attr = typeof variable === 'string' ? undefined : variable.attrs[ref.attr];
  if (attr !== undefined) return { ok: true, value: attr };
  return ref.fallback !== undefined ? { ok: true, value: ref.fallback } : { ok: false, reason: 'no-attribute', ref };
}

/** Fills in the template; the first reference that cannot be resolved is returned instead. */
export function render(template: string, vars: TemplateVars): { ok: true; value: string } | Extract<Resolved, { ok: false }> {
  let failure: Extract<Resolved, { ok: false }> | undefined;
  const value = template.replace(REFERENCE, (text, name: string, attr?: string, fallback?: string) => {
    const resolved = resolveRef({ text, name, attr, fallback }, vars);
    if (resolved.ok) return resolved.value;
    failure ??= resolved;
    return text;
  });
  return failure ?? { ok: true, value };
}
