/**
 * The configuration rules that compare a file with the matrix's cells or the schedule's plan: every
 * template resolves for every cell, each exclude matches a cell, rendered cache keys are one folder,
 * selectors agree and builds fit the machines' budgets, upload keys tell the cells apart. Here too is
 * the order all the rules run in (src/config/rules.ts holds those that need only the files), and the
 * checks src/config/load.ts calls: loading a configuration is the one place the configuration layer
 * reaches up to the matrix and the plan (LAYER_EXCEPTIONS in eslint.config.js).
 */
import { unsafeCacheKey } from '../config/cache-key.js';
import { didYouMean } from '../config/did-you-mean.js';
import type { IssuePath } from '../config/issues.js';
import type { Cell, Matrix, Schedule } from '../config/model.js';
import {
  axisCatalogue,
  BUILTIN_VARIABLES,
  list,
  matrixFileRules,
  runRules,
  scheduleFileRules,
  selectionKeyProblems,
  type MatrixRuleContext,
  type Rule,
  type RuleProblem,
  type ScheduleOnlyContext,
  type ScheduleRuleContext,
} from '../config/rules.js';
import type { MatrixInput, ScheduleInput } from '../config/schema.js';
import { cellVars, expandMatrix, matches } from '../matrix/expand.js';
import { keyCollisions, type KeyCollision } from '../matrix/key-collisions.js';
import { render, resolveRef, templateRefs, unclosedBrace } from '../matrix/template.js';
import { planNight } from './plan.js';

/** Rules about matrix.yaml that need templates or the cells. */
const matrixCellRules = {
  templatesClosed({ input }) {
    const templates: [unknown, IssuePath][] = [
      ...Object.entries(input.env).map(([k, v]): [unknown, IssuePath] => [v, ['env', k]]),
      ...Object.entries(input.packages).flatMap(([pkg, spec]): [unknown, IssuePath][] => [
        [spec.image, ['packages', pkg, 'image']],
        ...spec.command.map((arg, i): [unknown, IssuePath] => [arg, ['packages', pkg, 'command', i]]),
        ...Object.entries(spec.env).map(([k, v]): [unknown, IssuePath] => [v, ['packages', pkg, 'env', k]]),
        [spec.cache?.key, ['packages', pkg, 'cache', 'key']],
      ]),
    ];
    return bracesProblems(templates);
  },

  templatesResolve({ matrix, cells }) {
    const catalogue = axisCatalogue(matrix);
    const problems = new Map<string, RuleProblem>();
    const report = (path: IssuePath, ref: string, message: string) => problems.set(`${path.join('\0')}\0${ref}`, { path, message });
    for (const cell of cells) {
      const spec = cell.package;
      const vars = cellVars(cell, { date: '2000_01_01', machine: 'machine' });
      const pkgPath = ['packages', spec.name];
      const checks: [string, IssuePath, boolean][] = [
        ...(spec.image !== null ? [[spec.image, [...pkgPath, 'image'], false] as [string, IssuePath, boolean]] : []),
        ...spec.command.map((arg, i): [string, IssuePath, boolean] => [arg, [...pkgPath, 'command', i], false]),
        ...Object.entries(spec.env).map(([k, v]): [string, IssuePath, boolean] => [v, [...pkgPath, 'env', k], false]),
        ...(spec.cache ? [[spec.cache.key, [...pkgPath, 'cache', 'key'], false] as [string, IssuePath, boolean]] : []),
        // The shared env may name axes a package does not have: that variable is left out for its cells.
        ...Object.entries(matrix.env).map(([k, v]): [string, IssuePath, boolean] => [v, ['env', k], true]),
      ];
      for (const [template, path, shared] of checks) {
        for (const ref of templateRefs(template)) {
          const resolved = resolveRef(ref, vars);
          if (resolved.ok) continue;
          const known = [...BUILTIN_VARIABLES, ...catalogue.keys()];
          if (resolved.reason === 'unknown' && !catalogue.has(ref.name) && !(BUILTIN_VARIABLES as readonly string[]).includes(ref.name)) {
            report(path, ref.text, `${ref.text} names no axis or variable${didYouMean(ref.name, known) || `; use one of ${list(known, 10)}`}`);
          } else if (resolved.reason === 'unknown' && !shared) {
            report(path, ref.text, `${ref.text}: package ${spec.name} has no axis ${ref.name} (its axes: ${spec.axes.map((a) => a.name).join(', ') || 'none'})`);
          } else if (resolved.reason === 'no-attribute') {
            const value = cell.values[ref.name]!.value;
            report(
              path,
              ref.text,
              `${ref.text}: ${ref.name} value "${value}" has no attribute ${ref.attr!}; add it to that value or give a fallback like {${ref.name}.${ref.attr!}|default}`,
            );
          }
        }
      }
    }
    return [...problems.values()];
  },

  cacheKeyIsOneFolder({ cells }) {
    // Unresolved references are templatesResolve's; here every rendered key must be a single folder name.
    const problems = new Map<string, RuleProblem>();
    for (const cell of cells) {
      const cache = cell.package.cache;
      if (!cache) continue;
      const rendered = render(cache.key, cellVars(cell, { date: '2000_01_01', machine: 'machine' }));
      if (!rendered.ok) continue;
      const why = unsafeCacheKey(rendered.value);
      if (!why || problems.has(cell.package.name)) continue;
      problems.set(cell.package.name, {
        path: ['packages', cell.package.name, 'cache', 'key'],
        message:
          `"${cache.key}" gives ${JSON.stringify(rendered.value)} for ${cell.id}, which is not one folder name under <root>/cache: ${why}; ` +
          `build the key from axes and literal text, like "{package}-{cuda}"`,
      });
    }
    return [...problems.values()];
  },

  excludeNamesKnownCells({ matrix, input }) {
    const catalogue = axisCatalogue(matrix);
    const packages = matrix.packages.map((p) => p.name);
    const unfiltered = expandMatrix({ ...matrix, exclude: [], include: [] });
    return input.exclude.flatMap((entry, i): RuleProblem[] => {
      const problems = selectionKeyProblems(entry, ['exclude', i], catalogue, packages);
      if (problems.length === 0 && !unfiltered.some((cell) => matches(cell, matrix.exclude[i]!))) {
        problems.push({ path: ['exclude', i], message: 'matches no cell: no package has this combination; remove it or fix its values' });
      }
      return problems;
    });
  },

  atLeastOneCell({ cells, input }) {
    return cells.length === 0 && Object.keys(input.packages).length > 0
      ? [{ path: ['packages'], at: 'key', message: 'the matrix has no cells: every combination is excluded' }]
      : Object.keys(input.packages).length === 0
        ? [{ path: ['packages'], at: 'key', message: 'define at least one package' }]
        : [];
  },
} satisfies Record<string, Rule<MatrixRuleContext>>;

/** Rules about a schedule alone that need templates. */
const scheduleTemplateRules = {
  uploadTemplatesClosed({ input }) {
    return input.upload
      ? bracesProblems([
          [input.upload.to, ['upload', 'to']],
          [input.upload.key, ['upload', 'key']],
        ])
      : [];
  },

  uploadDestinationTemplate({ input }) {
    if (!input.upload) return [];
    // The destination is the same for every build of a night and machine: no per-build variables.
    const allowed = ['date', 'machine'];
    return templateRefs(input.upload.to)
      .filter((ref) => !allowed.includes(ref.name))
      .map((ref) => ({ path: ['upload', 'to'], message: `${ref.text} cannot be used here${didYouMean(ref.name, allowed) || `; use ${allowed.join(', ')}`}` }));
  },
} satisfies Record<string, Rule<ScheduleOnlyContext>>;

// Every rule of matrix.yaml and of a schedule alone, in the order they run: problems at the same place
// in a file are reported in this order. The type makes sure no rule of the sets is left out.
const matrixRules: Record<keyof typeof matrixFileRules | keyof typeof matrixCellRules, Rule<MatrixRuleContext>> = {
  reservedAxisNames: (ctx) => matrixFileRules.reservedAxisNames(ctx),
  axisValuesUnique: (ctx) => matrixFileRules.axisValuesUnique(ctx),
  removedAxesExist: (ctx) => matrixFileRules.removedAxesExist(ctx),
  envNotReserved: (ctx) => matrixFileRules.envNotReserved(ctx),
  envValuesOneLine: (ctx) => matrixFileRules.envValuesOneLine(ctx),
  executorAndImage: (ctx) => matrixFileRules.executorAndImage(ctx),
  templatesClosed: (ctx) => matrixCellRules.templatesClosed(ctx),
  templatesResolve: (ctx) => matrixCellRules.templatesResolve(ctx),
  cachePathFitsExecutor: (ctx) => matrixFileRules.cachePathFitsExecutor(ctx),
  cacheKeyIsOneFolder: (ctx) => matrixCellRules.cacheKeyIsOneFolder(ctx),
  excludeNamesKnownCells: (ctx) => matrixCellRules.excludeNamesKnownCells(ctx),
  includeNamesWholeCells: (ctx) => matrixFileRules.includeNamesWholeCells(ctx),
  atLeastOneCell: (ctx) => matrixCellRules.atLeastOneCell(ctx),
};

/** Rules about a schedule alone: they run even when matrix.yaml has problems. */
const scheduleRules: Record<keyof typeof scheduleFileRules | keyof typeof scheduleTemplateRules, Rule<ScheduleOnlyContext>> = {
  reportMachineListed: (ctx) => scheduleFileRules.reportMachineListed(ctx),
  uploadTemplatesClosed: (ctx) => scheduleTemplateRules.uploadTemplatesClosed(ctx),
  rootOwnFolder: (ctx) => scheduleFileRules.rootOwnFolder(ctx),
  uploadDestinationTemplate: (ctx) => scheduleTemplateRules.uploadDestinationTemplate(ctx),
};

/** Rules that compare a schedule with the matrix's cells: they run once matrix.yaml is without problems. */
const scheduleMatrixRules = {
  selectorsAgree({ schedule, cells }) {
    const plan = planNight(cells, schedule.machines);
    const ids = cells.map((c) => c.id);
    const problems: RuleProblem[] = plan.unmatchedSelectors.map(({ machine, index, glob }) => ({
      path: ['machines', machine, 'builds', index],
      message: `"${glob}" matches no build${didYouMean(glob, ids) || `; build ids look like ${idExamples(ids)}`}`,
    }));
    const byPair = new Map<string, string[]>();
    // With the shared queue, several machines may share a selector: whichever is free takes the cell.
    for (const { id, machines } of schedule.queue ? [] : plan.conflicts) {
      const key = machines.join(' and ');
      byPair.set(key, [...(byPair.get(key) ?? []), id]);
    }
    for (const [pair, conflictIds] of byPair) {
      const second = pair.split(' and ')[1]!;
      problems.push({
        path: ['machines', second, 'builds'],
        message: `${conflictIds.length} cell(s) selected by both ${pair} (${list(conflictIds, 4)}); a cell is built on exactly one machine — narrow one selector`,
      });
    }
    if (plan.unplaced.length) {
      problems.push({
        path: ['machines'],
        at: 'key',
        message: `${plan.unplaced.length} cell(s) on no machine (${list(
          plan.unplaced.map((c) => c.id),
          4,
        )}); add a selector for them or a machine without builds: to share them`,
      });
    }
    return problems;
  },

  resourcesFitMachines({ schedule, cells }) {
    // Only a declared budget can be checked here: another machine's memory is not knowable from this one
    // (an undeclared budget is checked when the night runs, and a build that cannot fit fails there).
    const problems: RuleProblem[] = [];
    for (const { machine, builds } of planNight(cells, schedule.machines).machines) {
      const kinds = [
        { key: 'memory', budget: machine.memoryBytes, text: machine.memory!, need: (c: Cell) => c.package.resources.memoryBytes, show: (c: Cell) => c.package.resources.memory! },
        { key: 'cpus', budget: machine.cpus, text: String(machine.cpus), need: (c: Cell) => c.package.resources.cpus, show: (c: Cell) => String(c.package.resources.cpus) },
        { key: 'gpus', budget: machine.gpus, text: String(machine.gpus), need: (c: Cell) => numericGpus(c), show: (c: Cell) => String(c.package.resources.gpus) },
      ] as const;
      for (const kind of kinds) {
        if (kind.budget === undefined) continue;
        const tooBig = builds.map((b) => b.cell).filter((cell) => (kind.need(cell) ?? 0) > kind.budget!);
        if (!tooBig.length) continue;
        problems.push({
          path: ['machines', machine.name, kind.key],
          message:
            `${tooBig.length} cell(s) planned on ${machine.name} need more ${kind.key} than its budget of ${kind.text}: ` +
            `${list(
              tooBig.map((c) => `${c.id} (${kind.show(c)})`),
              4,
            )}; raise ${kind.key}, lower the package's resources.${kind.key}, ` +
            `or move the cell(s) to a larger machine with a builds: selector`,
        });
      }
    }
    return problems;
  },

  uploadKeyResolves({ input, matrix, cells }) {
    if (!input.upload) return [];
    const known = [...BUILTIN_VARIABLES, 'file', ...axisCatalogue(matrix).keys()];
    const problems = new Map<string, RuleProblem>();
    const path = ['upload', 'key'];
    for (const ref of templateRefs(input.upload.key)) {
      if (!known.includes(ref.name)) {
        problems.set(ref.text, { path, message: `${ref.text} cannot be used here${didYouMean(ref.name, known) || `; use ${known.join(', ')}`}` });
        continue;
      }
      // Every uploaded file needs a key: an axis (or attribute) some cells lack needs a fallback.
      for (const cell of cells) {
        const resolved = resolveRef(ref, cellVars(cell, { date: '2000_01_01', machine: 'machine', file: 'file' }));
        if (resolved.ok) continue;
        const lacking =
          resolved.reason === 'unknown'
            ? `package ${cell.package.name} has no axis ${ref.name}`
            : `${ref.name} value "${cell.values[ref.name]!.value}" has no attribute ${ref.attr!}`;
        const fallback = `{${ref.name}${ref.attr ? `.${ref.attr}` : ''}|none}`;
        problems.set(ref.text, { path, message: `${ref.text} cannot be filled in for ${cell.id}: ${lacking}; give a fallback like ${fallback}` });
        break;
      }
    }
    return [...problems.values()];
  },

  uploadKeyDistinct({ input, cells }) {
    if (!input.upload) return [];
    const template = input.upload.key;
    const path = ['upload', 'key'];
    if (!templateRefs(template).some((ref) => ref.name === 'file')) {
      return [{ path, message: `"${template}" has no {file}: every file of a build would go to the same key; end it with /{file}` }];
    }
    // Where only the file names could tell cells apart (wheel names carry the python tag, say), validate
    // cannot know and only notes it (uploadKeyNotes); a key that names nothing of the cell at all is refused.
    const collisions = keyCollisions(template, cells);
    if (cells.length < 2 || collisions.length !== 1 || collisions[0]!.ids.length !== cells.length) return [];
    return [
      {
        path,
        message: `"${template}" names nothing that tells the cells apart: two builds writing the same file name would replace each other's artifact; ${keyFix(template, collisions, cells)}`,
      },
    ];
  },

  uploadIndexPathResolves({ input, matrix, cells }) {
    const template = input.upload?.index?.path;
    if (template === undefined) return [];
    const path = ['upload', 'index', 'path'];
    const braces = bracesProblems([[template, path]]);
    if (braces.length) return braces;
    // One channel gathers the wheels of many nights and machines: only what names the cell may shape it.
    const known = ['package', 'id', ...axisCatalogue(matrix).keys()];
    for (const ref of templateRefs(template)) {
      if (!known.includes(ref.name)) return [{ path, message: `${ref.text} cannot be used here${didYouMean(ref.name, known) || `; use ${known.join(', ')}`}` }];
      for (const cell of cells) {
        if (resolveRef(ref, cellVars(cell, { date: '2000_01_01', machine: 'machine' })).ok) continue;
        const fallback = `{${ref.name}${ref.attr ? `.${ref.attr}` : ''}|none}`;
        return [{ path, message: `${ref.text} cannot be filled in for ${cell.id}; give a fallback like ${fallback}` }];
      }
    }
    return [];
  },
} satisfies Record<string, Rule<ScheduleRuleContext>>;

/** Checks matrix.yaml once the schema has accepted it: the cells it expands to, and every rule's problems. */
export function checkMatrix(input: MatrixInput, matrix: Matrix): { cells: Cell[]; problems: RuleProblem[] } {
  const cells = expandMatrix(matrix);
  return { cells, problems: runRules(matrixRules, { input, matrix, cells }) };
}

/** Checks a schedule on its own, once the schema has accepted it (whatever state matrix.yaml is in). */
export function checkSchedule(input: ScheduleInput, schedule: Schedule): RuleProblem[] {
  return runRules(scheduleRules, { input, schedule });
}

/** Checks a schedule against the matrix's cells: selectors, budgets, upload keys. Only for a matrix.yaml without problems. */
export function checkScheduleWithCells(ctx: ScheduleRuleContext): RuleProblem[] {
  return runRules(scheduleMatrixRules, ctx);
}

/** Cells told apart by their file names only: not an error (validate cannot know the names), worth a note. */
export function uploadKeyNotes(upload: { key: string } | undefined, cells: readonly Cell[]): string[] {
  if (!upload) return [];
  const collisions = keyCollisions(upload.key, cells);
  if (!collisions.length) return [];
  const example = collisions[0]!;
  return [
    `upload.key "${upload.key}" gives ${collisions.reduce((n, c) => n + c.ids.length, 0)} cells in ${collisions.length} group(s) the same key for the same file name, ` +
      `e.g. ${list(example.ids, 3)} (${example.key}): fine when their files are named apart (wheels carry the python tag); if not, ${keyFix(upload.key, collisions, cells)}`,
  ];
}

/** How to make a key tell the colliding cells apart. */
function keyFix(template: string, collisions: readonly KeyCollision[], cells: readonly Cell[]): string {
  const differ = [...new Set(collisions.flatMap((c) => c.differ))];
  // An axis some cells lack needs a fallback to be filled in for every cell.
  const add = differ.map((name) => (name === 'package' || cells.every((c) => name in c.values) ? `{${name}}` : `{${name}|none}`)).join('/');
  const fixed = template.endsWith('{file}') ? template.slice(0, -'{file}'.length) : undefined;
  return `add {id} or the axes ${differ.join(', ')}` + (fixed !== undefined ? `, e.g. "${fixed}{id}/{file}" or "${fixed}${add}/{file}"` : '');
}

/** A problem for each template whose braces are not closed. */
function bracesProblems(templates: readonly [unknown, IssuePath][]): RuleProblem[] {
  return templates.flatMap(([template, path]) => {
    const why = typeof template === 'string' ? unclosedBrace(template) : undefined;
    return why ? [{ path, message: `${JSON.stringify(template)}: ${why}` }] : [];
  });
}

/** A package's gpus as a number to compare with a budget; 'all' fits any machine (it takes what there is). */
function numericGpus(cell: Cell): number | undefined {
  const gpus = cell.package.resources.gpus;
  return gpus === 'all' ? undefined : gpus;
}

/** A few build ids to show what a selector matches against (the configuration is refused, so no command can list them yet). */
function idExamples(ids: readonly string[]): string {
  const shown = [...new Set([ids[0], ids.at(-1)].filter((id): id is string => id !== undefined))];
  const glob = shown[0] ? `, like ${shown[0].split('_')[0]!}_*` : '';
  return `${shown.join(' and ')} (${ids.length} in all; a selector is a glob over them${glob})`;
}
