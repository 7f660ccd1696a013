// ESLint for nightshift: typescript-eslint strict (type-aware), no import cycles, and the layers of
// ARCHITECTURE.md. `npm run lint` runs it; `npx eslint src/night` lints one folder.
import js from '@eslint/js';
import { createNodeResolver, importX } from 'eslint-plugin-import-x';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import layers, { checkExceptions } from './scripts/eslint-layers.mjs';

/**
 * The layers, lowest first: a file may import its own layer and the layers below it, never above.
 * `dir/**` is a folder; a file named exactly belongs to its layer whatever its folder.
 */
export const LAYERS = [
  { name: 'base', files: ['src/errors.ts', 'src/units.ts', 'src/files.ts', 'src/json-format.ts', 'src/timeout.ts', 'src/output/**'] },
  { name: 'config', files: ['src/config/**'] },
  { name: 'matrix', files: ['src/matrix/**'] },
  { name: 'plan', files: ['src/plan/**'] },
  { name: 'night data', files: ['src/night/**'] },
  { name: 'executors and stores', files: ['src/build/**', 'src/store/**', 'src/queue/**'] },
  { name: 'runner', files: ['src/runner/**'] },
  { name: 'report', files: ['src/report/**'] },
  { name: 'daemon and server', files: ['src/daemon/**', 'src/server/**'] },
  { name: 'commands', files: ['src/commands/**', 'src/context.ts'] },
  { name: 'cli', files: ['src/cli.ts'] },
];

/**
 * Known imports against the layer order: the ONLY place they are accepted. Each names the importing
 * file, the imported file and why it is still there. Remove an entry when its import goes (the lint says
 * when one is no longer needed, and stops when one names a file that does not exist).
 */
export const LAYER_EXCEPTIONS = checkExceptions([
  // Loading a configuration checks it whole: the rules that compare the files with the matrix's cells
  // (templates, exclude, cache keys, upload keys) and the schedule's plan (selectors, budgets) live in
  // the plan layer, and load.ts calls them so that every problem is reported at once.
  { from: 'src/config/load.ts', to: 'src/plan/config-rules.ts', why: 'the rules that need the cells and the plan' },
]);

export default tseslint.config(
  { ignores: ['dist/', 'coverage/', 'node_modules/', 'examples/demo/work/', '.nightshift/'] },
  {
    // An eslint-disable comment that no longer silences anything is an error: they stay few and true.
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    languageOptions: { globals: globals.node },
  },
  js.configs.recommended,
  ...tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: { projectService: true, tsconfigRootDir: import.meta.dirname },
    },
    rules: {
      // Numbers in messages (`${count} builds`) are how this code talks; undefined, objects and the like
      // in a template are still reported.
      '@typescript-eslint/restrict-template-expressions': [
        'error',
        { allowAny: false, allowBoolean: false, allowNever: false, allowNullish: false, allowNumber: true, allowRegExp: false },
      ],
      // `(text) => void stream.write(text)` and `() => controller.abort()` callbacks are meant.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true }],
      // tsconfig's noUncheckedIndexedAccess types every `list[i]` and `map.get(k)` as possibly undefined;
      // `!` marks the lookups the code has just made sure of (an index in range, a key it put there).
      '@typescript-eslint/no-non-null-assertion': 'off',
      // `const { latest: _latest, ...record } = outcome` is how a copy leaves a property out.
      '@typescript-eslint/no-unused-vars': ['error', { ignoreRestSiblings: true }],
    },
  },
  {
    // Plain JavaScript (scripts, benches, this file) is outside tsconfig.json: no type-aware rules.
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
  },
  {
    files: ['src/**/*.ts'],
    plugins: { 'import-x': importX, layers },
    settings: {
      'import-x/extensions': ['.ts'],
      'import-x/parsers': { '@typescript-eslint/parser': ['.ts'] },
      // Source imports name the built file (`./state.js`); the file linted is `./state.ts`.
      'import-x/resolver-next': [createNodeResolver({ extensions: ['.ts', '.js', '.json'], extensionAlias: { '.js': ['.ts', '.js'] } })],
    },
    rules: {
      'import-x/no-cycle': 'error',
      'layers/order': ['error', { layers: LAYERS, exceptions: LAYER_EXCEPTIONS }],
    },
  },
);
