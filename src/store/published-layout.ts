/**
 * Where each thing of a night goes at the destination — pure. The destination root is the part of
 * `upload.to` before its first template (`s3://nightlies/{date}` → `s3://nightlies/`), so that what
 * outlives a night (latest pointers, manifests of every night) has one fixed place:
 *
 *   <root>/<to's rendered rest>/<key>                  artifacts (key template, default {id}/{file})
 *   <root>/nightshift/nights/<date>/<machine>/manifest.json
 *   <root>/nightshift/nights/<date>/<machine>/logs/<id>.log
 *   <root>/nightshift/latest/<id>.json                 newest good build of each cell
 *   <root>/nightshift/history/<machine>.json           a machine's recent build durations (one writer each)
 */
import type { Cell, Upload } from '../config/model.js';
import { cellVars } from '../matrix/expand.js';
import { render, type TemplateVars } from '../matrix/template.js';

export interface PublishedLayout {
  /** The destination root URL, ending in "/". */
  rootUrl: string;
  /** Key prefix of this night's artifacts under the root ("" or ending in "/"). */
  artifactPrefix: string;
}

export function publishedLayout(upload: Upload, vars: { root: string; date: string; machine: string }): PublishedLayout {
  const to = upload.to.replace('{root}', vars.root.replace(/\/+$/, ''));
  const firstTemplate = to.indexOf('{');
  const staticPart = firstTemplate === -1 ? to : to.slice(0, firstTemplate);
  const rootUrl = staticPart.endsWith('/') ? staticPart : firstTemplate === -1 ? `${staticPart}/` : staticPart.slice(0, staticPart.lastIndexOf('/') + 1);
  const rendered = render(to, { date: vars.date, machine: vars.machine });
  const rest = (rendered.ok ? rendered.value : to).slice(rootUrl.length).replace(/^\/+/, '');
  return { rootUrl, artifactPrefix: rest === '' || rest.endsWith('/') ? rest : `${rest}/` };
}

export function artifactKey(layout: PublishedLayout, keyTemplate: string, vars: TemplateVars): string {
  const rendered = render(keyTemplate, vars);
  if (!rendered.ok) throw new Error(`upload.key ${keyTemplate}: cannot fill ${rendered.ref.text}`);
  return `${layout.artifactPrefix}${rendered.value.replace(/^\/+/, '')}`;
}

export const nightPrefix = (date: string) => `nightshift/nights/${date}/`;
export const manifestKey = (date: string, machine: string) => `${nightPrefix(date)}${machine}/manifest.json`;
export const logKey = (date: string, machine: string, id: string) => `${nightPrefix(date)}${machine}/logs/${id}.log`;
export const latestKey = (id: string) => `nightshift/latest/${id}.json`;
export const historyPrefix = 'nightshift/history/';
export const historyKey = (machine: string) => `${historyPrefix}${machine}.json`;

/** Cells whose artifacts the key template sends to the same key (when their files have the same name). */
export interface KeyCollision {
  /** The rendered key, with `<file>` for the file name. */
  key: string;
  ids: string[];
  /** The variables (package, axes) whose values tell these cells apart, none of which the template names. */
  differ: string[];
}

/**
 * Where `upload.key` cannot tell a night's cells apart: it is rendered for every cell with one file
 * name, one date and one machine (any two cells may share a night and, by the balancing, a machine).
 * Cells whose key cannot be rendered are left out (that is another problem).
 */
export function keyCollisions(keyTemplate: string, cells: readonly Cell[]): KeyCollision[] {
  const byKey = new Map<string, Cell[]>();
  for (const cell of cells) {
    const rendered = render(keyTemplate, cellVars(cell, { date: 'DATE', machine: 'MACHINE', file: '<file>' }));
    if (rendered.ok) byKey.set(rendered.value, [...(byKey.get(rendered.value) ?? []), cell]);
  }
  return [...byKey]
    .filter(([, group]) => group.length > 1)
    .map(([key, group]) => {
      const names = [...new Set(group.flatMap((c) => Object.keys(c.values)))];
      const value = (c: Cell, name: string) => (name === 'package' ? c.package.name : c.values[name]?.value);
      const differ = ['package', ...names].filter((name) => new Set(group.map((c) => value(c, name))).size > 1);
      return { key, ids: group.map((c) => c.id), differ };
    });
}
