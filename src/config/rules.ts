/**
 * Named rules that need only the configuration: checks that look at more than one key. Each returns
 * problems with the path they are about; load.ts places them in the file. They run once the schema has
 * accepted the file. The rules that compare a file with the matrix's cells or the plan are in
 * src/plan/config-rules.ts, which also sets the order every rule runs in.
 */
import path from 'node:path';
import { CONTAINER_MOUNTS } from './container-paths.js';
import { didYouMean } from './did-you-mean.js';
import type { IssuePath } from './issues.js';
import type { Cell, Matrix, Schedule } from './model.js';
import type { MatrixInput, ScheduleInput } from './schema.js';
import { ROOT_FIX, systemFolderReason } from './system-folders.js';

export interface RuleProblem {
  path: IssuePath;
  message: string;
  at?: 'key' | 'value';
}

/** What a rule about matrix.yaml sees: the checked file, its model and the cells it expands to. */
export interface MatrixRuleContext {
  input: MatrixInput;
  matrix: Matrix;
  cells: Cell[];
}

/** What a rule about a schedule sees: the checked file, its model, and the matrix with its cells. */
export interface ScheduleRuleContext {
  input: ScheduleInput;
  schedule: Schedule;
  matrix: Matrix;
  cells: Cell[];
}

/** Rules about a schedule alone see only the schedule. */
export type ScheduleOnlyContext = Pick<ScheduleRuleContext, 'input' | 'schedule'>;

export type Rule<C> = (ctx: C) => RuleProblem[];

/** Variables every template may use besides axes. */
export const BUILTIN_VARIABLES = ['package', 'id', 'date', 'machine'] as const;
/** Names an axis cannot take: they mean something else in templates, selections and `plan --json`. */
const RESERVED_AXIS_NAMES = [...BUILTIN_VARIABLES, 'file', 'image', 'executor', 'order', 'status'];

export const list = (items: readonly string[], max = 6) => (items.length <= max ? items.join(', ') : `${items.slice(0, max).join(', ')} and ${items.length - max} more`);

/** Every axis name any package uses, with every value it can take. */
export function axisCatalogue(matrix: Matrix): Map<string, Set<string>> {
  const catalogue = new Map<string, Set<string>>();
  for (const axis of [...matrix.axes, ...matrix.packages.flatMap((p) => p.axes)]) {
    const values = catalogue.get(axis.name) ?? new Set<string>();
    axis.values.forEach((v) => values.add(v.value));
    catalogue.set(axis.name, values);
  }
  return catalogue;
}

/** Rules about matrix.yaml that need neither the cells nor templates. */
export const matrixFileRules = {
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
        .map((name) => ({
          path: [...path, name],
          at: 'key' as const,
          message: `names starting with NIGHTSHIFT_ are set by nightshift itself (build id, date, axes); choose another name`,
        }));
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

  includeNamesWholeCells({ matrix, input }) {
    const packages = matrix.packages.map((p) => p.name);
    return input.include.flatMap((entry, i): RuleProblem[] => {
      const path = ['include', i];
      if (entry.package === undefined) return [{ path, message: `an include entry must name its package (one of ${packages.join(', ')})` }];
      // A value with attributes names no package: it is shown as written.
      const name = typeof entry.package === 'object' ? JSON.stringify(entry.package) : entry.package;
      const spec = matrix.packages.find((p) => p.name === name);
      if (!spec) return [{ path: [...path, 'package'], message: `no package "${name}"${didYouMean(name, packages)}` }];
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
} satisfies Record<string, Rule<MatrixRuleContext>>;

/** Rules about a schedule alone that need no templates. */
export const scheduleFileRules = {
  reportMachineListed({ input }) {
    const machine = input.report?.machine;
    const names = Object.keys(input.machines);
    return machine !== undefined && !names.includes(machine)
      ? [{ path: ['report', 'machine'], message: `no machine "${machine}" in machines${didYouMean(machine, names) || `; machines are ${names.join(', ')}`}` }]
      : [];
  },

  rootOwnFolder({ schedule }) {
    // Prune removes dated folders and caches under root: never the system's or a person's own folders.
    const why = systemFolderReason(schedule.root);
    return why ? [{ path: ['root'], message: `${why}; ${ROOT_FIX}` }] : [];
  },
} satisfies Record<string, Rule<ScheduleOnlyContext>>;

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

/** The problems of an exclude entry's keys and values: a package, an axis or a value that does not exist. */
export function selectionKeyProblems(entry: Record<string, unknown>, path: IssuePath, catalogue: Map<string, Set<string>>, packages: readonly string[]): RuleProblem[] {
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

export function runRules<C>(rules: Record<string, Rule<C>>, ctx: C): RuleProblem[] {
  return Object.values(rules).flatMap((rule) => rule(ctx));
}
