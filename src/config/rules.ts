/**
 * Named rules: checks that look at more than one key. Each returns problems with the path they are
 * about; load.ts places them in the file. They run once the schema has accepted the file.
 */
import type { Cell, Matrix, Schedule } from './model.js';
import type { MatrixInput, ScheduleInput } from './schema.js';
import type { IssuePath } from './issues.js';
import { didYouMean } from './did-you-mean.js';
import { expandMatrix, cellVars, matches } from '../matrix/expand.js';
import path from 'node:path';
import { unsafeCacheKey } from '../build/cache.js';
import { CONTAINER_MOUNTS } from '../build/container-paths.js';
import { render, templateRefs, resolveRef, unclosedBrace, type TemplateVars } from '../matrix/template.js';
import { planNight } from '../plan/plan.js';
import { ROOT_FIX, systemFolderReason } from './system-folders.js';
import { keyCollisions, type KeyCollision } from '../matrix/key-collisions.js';

export interface RuleProblem {
  path: IssuePath;
  message: string;
  at?: 'key' | 'value';
}

export interface MatrixContext {
  input: MatrixInput;
  matrix: Matrix;
  cells: Cell[];
}

export interface ScheduleContext {
  input: ScheduleInput;
  schedule: Schedule;
  matrix: Matrix;
  cells: Cell[];
}

/** Variables every template may use besides axes. */
export const BUILTIN_VARIABLES = ['package', 'id', 'date', 'machine'] as const;
/** Names an axis cannot take: they mean something else in templates, selections and `plan --json`. */
const RESERVED_AXIS_NAMES = [...BUILTIN_VARIABLES, 'file', 'image', 'executor', 'order', 'status'];

const list = (items: readonly string[], max = 6) =>
  items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`;

/** Every axis name any package uses, with every value it can take. */
function axisCatalogue(matrix: Matrix): Map<string, Set<string>> {
  const catalogue = new Map<string, Set<string>>();
  for (const axis of [...matrix.axes, ...matrix.packages.flatMap((p) => p.axes)]) {
    const values = catalogue.get(axis.name) ?? new Set<string>();
    axis.values.forEach((v) => values.add(v.value));
    catalogue.set(axis.name, values);
  }
  return catalogue;
}

export const matrixRules: Record<string, (ctx: MatrixContext) => RuleProblem[]> = {
  reservedAxisNames({ input }) {
    const problems: RuleProblem[] = [];
    const check = (name: string, path: IssuePath) => {
      if (RESERVED_AXIS_NAMES.includes(name)) problems.push({ path, at: 'key', message: `"${name}" is reserved and cannot name an axis; choose another name` });
    };
    Object.keys(input.axes).forEach((name) => check(name, ['axes', name]));
    for (const [pkg, spec] of Object.entries(input.packages)) Object.keys(spec.axes).forEach((name) => check(name, ['packages', pkg, 'axes', name]));
    return problems;
  },

  axisValuesUnique({ input }) {
    const problems: RuleProblem[] = [];
    const check = (values: readonly unknown[], path: IssuePath) => {
      const seen = new Set<string>();
      values.forEach((v, i) => {
        const value = typeof v === 'string' ? v : (v as { value: string }).value;
        if (seen.has(value)) problems.push({ path: [...path, i], message: `"${value}" is listed twice; remove one` });
        seen.add(value);
      });
    };
    for (const [name, values] of Object.entries(input.axes)) check(values, ['axes', name]);
    for (const [pkg, spec] of Object.entries(input.packages)) for (const [name, values] of Object.entries(spec.axes)) check(values, ['packages', pkg, 'axes', name]);
    return problems;
  },

  removedAxesExist({ input }) {
    const global = Object.keys(input.axes);
    return Object.entries(input.packages).flatMap(([pkg, spec]) =>
      Object.entries(spec.axes)
        .filter(([name, values]) => values.length === 0 && !global.includes(name))
        .map(([name]) => ({
          path: ['packages', pkg, 'axes', name],
          at: 'key' as const,
          message: `"${name}: []" leaves out an axis that is not defined under axes${didYouMean(name, global) || `; axes are ${global.join(', ')}`}`,
        })),
    );
  },

  envNotReserved({ input }) {
    // nightshift itself sets NIGHTSHIFT_BUILD_ID, NIGHTSHIFT_<AXIS>, ... in every build: a clash would hide one.
    const check = (env: Record<string, unknown>, path: IssuePath): RuleProblem[] =>
      Object.keys(env)
        .filter((name) => name.startsWith('NIGHTSHIFT_'))
        .map((name) => ({ path: [...path, name], at: 'key' as const, message: `names starting with NIGHTSHIFT_ are set by nightshift itself (build id, date, axes); choose another name` }));
    return [...check(input.env, ['env']), ...Object.entries(input.packages).flatMap(([pkg, spec]) => check(spec.env, ['packages', pkg, 'env']))];
  },

  envValuesOneLine({ input }) {
    // Docker's env file, which carries build variables into the container, holds one line per variable.
    const check = (env: Record<string, unknown>, path: IssuePath): RuleProblem[] =>
      Object.entries(env)
        .filter(([, value]) => /[\r\n]/.test(String(value)))
        .map(([name]) => ({ path: [...path, name], message: 'an environment value must be a single line; join the lines or pass a file path instead' }));
    return [...check(input.env, ['env']), ...Object.entries(input.packages).flatMap(([pkg, spec]) => check(spec.env, ['packages', pkg, 'env']))];
  },

  executorAndImage({ input }) {
    return Object.entries(input.packages).flatMap(([pkg, spec]): RuleProblem[] => {
      if (spec.executor === 'docker' && spec.image === undefined) {
        return [{ path: ['packages', pkg], at: 'key', message: 'a docker package needs an image; add image: "...", or set executor: host to build on the machine itself' }];
      }
      if (spec.executor === 'host' && spec.image !== undefined) {
        return [{ path: ['packages', pkg, 'image'], message: 'a host package runs without Docker, so it has no image; remove image or set executor: docker' }];
      }
      if (spec.executor === 'host' && spec.resources.gpus !== undefined) {
        return [{ path: ['packages', pkg, 'resources', 'gpus'], message: 'gpus are passed to Docker only; remove it for a host package' }];
      }
      if (spec.executor === 'host' && spec.network !== undefined) {
        return [{ path: ['packages', pkg, 'network'], message: 'network is a Docker setting; remove it for a host package' }];
      }
      return [];
    });
  },

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
          const resolved = resolveRef(ref, vars as TemplateVars);
          if (resolved.ok) continue;
          const known = [...BUILTIN_VARIABLES, ...catalogue.keys()];
          if (resolved.reason === 'unknown' && !catalogue.has(ref.name) && !(BUILTIN_VARIABLES as readonly string[]).includes(ref.name)) {
            report(path, ref.text, `${ref.text} names no axis or variable${didYouMean(ref.name, known) || `; use one of ${list(known, 10)}`}`);
          } else if (resolved.reason === 'unknown' && !shared) {
            report(path, ref.text, `${ref.text}: package ${spec.name} has no axis ${ref.name} (its axes: ${spec.axes.map((a) => a.name).join(', ') || 'none'})`);
          } else if (resolved.reason === 'no-attribute') {
            const value = cell.values[ref.name]!.value;
            report(path, ref.text, `${ref.text}: ${ref.name} value "${value}" has no attribute ${ref.attr}; add it to that value or give a fallback like {${ref.name}.${ref.attr}|default}`);
          }
        }
      }
    }
    return [...problems.values()];
  },

  cachePathFitsExecutor({ input }) {
    return Object.entries(input.packages).flatMap(([pkg, spec]): RuleProblem[] => {
      if (!spec.cache) return [];
      const where = ['packages', pkg, 'cache'];
      if (spec.executor === 'host') {
        return spec.cache.path === undefined
          ? []
          : [{ path: [...where, 'path'], message: 'a host build has no container to mount the cache in: it finds the folder in NIGHTSHIFT_CACHE; remove path' }];
      }
      if (spec.cache.path === undefined) return [{ path: where, message: 'a docker build needs the path where its cache is mounted in the container; add path: /cache' }];
      const problem = containerPathProblem(spec.cache.path);
      return problem ? [{ path: [...where, 'path'], message: problem }] : [];
    });
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

  includeNamesWholeCells({ matrix, input }) {
    const packages = matrix.packages.map((p) => p.name);
    return input.include.flatMap((entry, i): RuleProblem[] => {
      const path = ['include', i];
      if (entry.package === undefined) return [{ path, message: `an include entry must name its package (one of ${packages.join(', ')})` }];
      const spec = matrix.packages.find((p) => p.name === String(entry.package));
      if (!spec) return [{ path: [...path, 'package'], message: `no package "${entry.package}"${didYouMean(String(entry.package), packages)}` }];
      const axes = spec.axes.map((a) => a.name);
      const problems: RuleProblem[] = [];
      for (const key of Object.keys(entry)) {
        if (key !== 'package' && !axes.includes(key)) {
          problems.push({ path: [...path, key], at: 'key', message: `package ${spec.name} has no axis "${key}"${didYouMean(key, axes) || `; its axes are ${axes.join(', ')}`}` });
        }
      }
      const missing = axes.filter((axis) => !(axis in entry));
      if (missing.length) problems.push({ path, message: `missing ${missing.join(', ')}: an include entry names a value for every axis of ${spec.name} (${axes.join(', ')})` });
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
};

/** Why a cache cannot be mounted at `target` in a container, or undefined when it can. */
function containerPathProblem(target: string): string | undefined {
  if (!target.startsWith('/')) return `expected an absolute path inside the container like /cache, got ${JSON.stringify(target)}`;
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f]/.test(target)) return 'a container path cannot hold control characters or line breaks; write it like /cache';
  const plain = path.posix.normalize(target).replace(/(.)\/$/, '$1');
  if (plain !== target) return `write the path plainly, without "//", "." or ".." parts or a trailing "/": ${JSON.stringify(plain)}`;
  if (target === '/') return 'mounting the cache at / would hide the whole container; use a folder like /cache';
  for (const [mounted, what] of Object.entries(CONTAINER_MOUNTS)) {
    const clash = target === mounted ? 'is' : target.startsWith(`${mounted}/`) ? 'is inside' : mounted.startsWith(`${target}/`) ? 'holds' : undefined;
    if (clash) return `${target} ${clash} ${mounted}, where nightshift mounts ${what}; choose another path like /cache`;
  }
  return undefined;
}

function selectionKeyProblems(
  entry: Record<string, unknown>,
  path: IssuePath,
  catalogue: Map<string, Set<string>>,
  packages: readonly string[],
): RuleProblem[] {
  const problems: RuleProblem[] = [];
  for (const [key, value] of Object.entries(entry)) {
    const text = String(value);
    if (key === 'package') {
      if (!packages.includes(text)) problems.push({ path: [...path, key], message: `no package "${text}"${didYouMean(text, packages)}` });
    } else if (!catalogue.has(key)) {
      const keys = ['package', ...catalogue.keys()];
      problems.push({ path: [...path, key], at: 'key', message: `"${key}" is not an axis${didYouMean(key, keys) || `; use ${keys.join(', ')}`}` });
    } else if (!catalogue.get(key)!.has(text)) {
      const values = [...catalogue.get(key)!];
      problems.push({ path: [...path, key], message: `${key} has no value "${text}"${didYouMean(text, values) || `; values are ${list(values)}`}` });
    }
  }
  return problems;
}

/** Rules about a schedule alone: they run even when matrix.yaml has problems. */
export const scheduleRules: Record<string, (ctx: Pick<ScheduleContext, 'input' | 'schedule'>) => RuleProblem[]> = {
  reportMachineListed({ input }) {
    const machine = input.report?.machine;
    const names = Object.keys(input.machines);
    return machine !== undefined && !names.includes(machine)
      ? [{ path: ['report', 'machine'], message: `no machine "${machine}" in machines${didYouMean(machine, names) || `; machines are ${names.join(', ')}`}` }]
      : [];
  },

  uploadTemplatesClosed({ input }) {
    return input.upload ? bracesProblems([[input.upload.to, ['upload', 'to']], [input.upload.key, ['upload', 'key']]]) : [];
  },

  rootOwnFolder({ schedule }) {
    // Prune removes dated folders and caches under root: never the system's or a person's own folders.
    const why = systemFolderReason(schedule.root);
    return why ? [{ path: ['root'], message: `${why}; ${ROOT_FIX}` }] : [];
  },

  uploadDestinationTemplate({ input }) {
    if (!input.upload) return [];
    // The destination is the same for every build of a night and machine: no per-build variables.
    const allowed = ['date', 'machine'];
    return templateRefs(input.upload.to)
      .filter((ref) => !allowed.includes(ref.name))
      .map((ref) => ({ path: ['upload', 'to'], message: `${ref.text} cannot be used here${didYouMean(ref.name, allowed) || `; use ${allowed.join(', ')}`}` }));
  },
};

/** Rules that compare a schedule with the matrix's cells: they run once matrix.yaml is without problems. */
export const scheduleMatrixRules: Record<string, (ctx: ScheduleContext) => RuleProblem[]> = {
  selectorsAgree({ schedule, cells }) {
    const plan = planNight(cells, schedule.machines);
    const ids = cells.map((c) => c.id);
    const problems: RuleProblem[] = plan.unmatchedSelectors.map(({ machine, index, glob }) => ({
      path: ['machines', machine, 'builds', index],
      message: `"${glob}" matches no build${didYouMean(glob, ids) || '; see the build ids with `nightshift plan --all-machines`'}`,
    }));
    const byPair = new Map<string, string[]>();
    for (const { id, machines } of plan.conflicts) {
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
        message: `${plan.unplaced.length} cell(s) on no machine (${list(plan.unplaced.map((c) => c.id), 4)}); add a selector for them or a machine without builds: to share them`,
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
        { key: 'memory', budget: machine.memoryBytes, text: machine.memory, need: (c: Cell) => c.package.resources.memoryBytes, show: (c: Cell) => c.package.resources.memory! },
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
            `${list(tooBig.map((c) => `${c.id} (${kind.show(c)})`), 4)}; raise ${kind.key}, lower the package's resources.${kind.key}, ` +
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
        const lacking = resolved.reason === 'unknown' ? `package ${cell.package.name} has no axis ${ref.name}` : `${ref.name} value "${cell.values[ref.name]!.value}" has no attribute ${ref.attr}`;
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
    return [{ path, message: `"${template}" names nothing that tells the cells apart: two builds writing the same file name would replace each other's artifact; ${keyFix(template, collisions, cells)}` }];
  },
};

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

export function runRules<C>(rules: Record<string, (ctx: C) => RuleProblem[]>, ctx: C): RuleProblem[] {
  return Object.values(rules).flatMap((rule) => rule(ctx));
}
