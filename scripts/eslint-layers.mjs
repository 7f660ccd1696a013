/**
 * An ESLint rule that keeps nightshift's layers in order: a source file may import files of its own
 * layer and of the layers below it, never above. The table of layers and the list of known exceptions
 * live in eslint.config.js (ARCHITECTURE.md explains them); this file only applies them.
 *
 * Options: { layers: [{ name, files: [pattern] }] (lowest first), exceptions: [{ from, to, why }] }.
 * A pattern is a path from the repository root, either a file (`src/cli.ts`) or a folder and
 * everything under it (`src/config/**`). A file named exactly wins over a folder pattern, so a file
 * can sit in another layer than its folder.
 *
 * What counts as an import: `import`/`export ... from`, `import type`, `import('...')` and
 * `typeof import('...')` with a relative path. Type-only imports count too: they are a dependency of
 * the design even when they vanish from the JavaScript.
 *
 * Reported: an import of a higher layer (unless listed as an exception), a source file that is in
 * no layer, and an exception that names a file which no longer makes that import (so the list only
 * shrinks). An exception naming a file that does not exist stops the lint (see checkExceptions).
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The repository root: this file is <root>/scripts/eslint-layers.mjs. */
const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');

const toPosix = (file) => file.split(path.sep).join('/');

/** The layer of a repository-relative path, or undefined; exact file patterns win over folder patterns. */
export function layerOf(layers, rel) {
  let folderMatch;
  for (const [index, layer] of layers.entries()) {
    for (const pattern of layer.files) {
      if (pattern.endsWith('/**')) {
        if (folderMatch === undefined && rel.startsWith(pattern.slice(0, -2))) folderMatch = { index, name: layer.name };
      } else if (pattern === rel) {
        return { index, name: layer.name };
      }
    }
  }
  return folderMatch;
}

/** Throws when an exception names a file that does not exist (after a move, the list must be updated). */
export function checkExceptions(exceptions) {
  for (const exception of exceptions) {
    for (const file of [exception.from, exception.to]) {
      if (!existsSync(path.join(ROOT, file))) {
        throw new Error(`eslint.config.js: the layer exception ${exception.from} -> ${exception.to} names ${file}, which does not exist; update or remove it`);
      }
    }
  }
  return exceptions;
}

/** The repository-relative .ts file a relative import names (`./x.js` is `./x.ts` in the source). */
function resolveImport(fromAbs, specifier) {
  const target = path.resolve(path.dirname(fromAbs), specifier);
  if (target.endsWith('.js')) {
    const ts = `${target.slice(0, -3)}.ts`;
    if (existsSync(ts)) return toPosix(path.relative(ROOT, ts));
  }
  return toPosix(path.relative(ROOT, target));
}

const layersRule = {
  meta: {
    type: 'problem',
    docs: { description: 'Imports go down the layers (eslint.config.js, ARCHITECTURE.md)' },
    schema: [
      {
        type: 'object',
        properties: {
          layers: { type: 'array' },
          exceptions: { type: 'array' },
        },
        required: ['layers'],
        additionalProperties: false,
      },
    ],
    messages: {
      upward:
        '{{from}} ({{fromLayer}}) imports {{to}} ({{toLayer}}): a layer imports only its own and lower layers. Move the code, or list the import under LAYER_EXCEPTIONS in eslint.config.js with the reason.',
      unlayered: '{{from}} is in no layer: add it (or its folder) to LAYERS in eslint.config.js.',
      staleException: 'LAYER_EXCEPTIONS in eslint.config.js lists {{from}} -> {{to}}, but {{from}} makes no such import against the layer order (any more): remove the exception.',
    },
  },
  create(context) {
    const { layers, exceptions = [] } = context.options[0];
    const fromAbs = context.filename;
    const from = toPosix(path.relative(ROOT, fromAbs));
    const fromLayer = layerOf(layers, from);
    const mine = exceptions.filter((exception) => exception.from === from);
    const used = new Set();

    const check = (node, specifier) => {
      if (typeof specifier !== 'string' || !specifier.startsWith('.') || fromLayer === undefined) return;
      const to = resolveImport(fromAbs, specifier);
      const toLayer = layerOf(layers, to);
      if (toLayer === undefined || toLayer.index <= fromLayer.index) return;
      const exception = mine.find((candidate) => candidate.to === to);
      if (exception !== undefined) {
        used.add(exception);
        return;
      }
      context.report({ node, messageId: 'upward', data: { from, fromLayer: fromLayer.name, to, toLayer: toLayer.name } });
    };
    const sourceOf = (node) => (node.source && node.source.type === 'Literal' ? node.source.value : undefined);

    return {
      Program(node) {
        if (fromLayer === undefined && from.startsWith('src/')) context.report({ node, messageId: 'unlayered', data: { from } });
      },
      ImportDeclaration: (node) => check(node, sourceOf(node)),
      ExportNamedDeclaration: (node) => check(node, sourceOf(node)),
      ExportAllDeclaration: (node) => check(node, sourceOf(node)),
      ImportExpression: (node) => check(node, sourceOf(node)),
      TSImportType(node) {
        const argument = node.argument;
        const literal = argument?.type === 'TSLiteralType' ? argument.literal : argument;
        check(node, literal?.type === 'Literal' ? literal.value : undefined);
      },
      'Program:exit'(node) {
        for (const exception of mine) {
          if (!used.has(exception)) context.report({ node, messageId: 'staleException', data: { from: exception.from, to: exception.to } });
        }
      },
    };
  },
};

export default { meta: { name: 'nightshift-layers' }, rules: { order: layersRule } };
