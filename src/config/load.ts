/**
 * Reads `matrix.yaml` and `schedules/*.yaml`, checks them (YAML, schema, then named rules) and reports
 * every problem of every file at once, each as `file:line:col path: message`.
 */
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ExitCode, NightshiftError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import { formatIssue, sortIssues, type ConfigIssue, type IssuePath } from './issues.js';
import type { Cell, Matrix, Schedule } from './model.js';
import { toMatrix, toSchedule } from './normalize.js';
import type { RuleProblem } from './rules.js';
import { matrixSchema, scheduleSchema } from './schema.js';
import { requiredKeys, schemaIssues } from './schema-issues.js';
import { locate, readYamlSource, sourceText, type YamlSource } from './source.js';
import { repairForChecks, type Mend } from './repair.js';
// The one import up the layers: the rules that compare the files with the cells and the plan.
import { checkMatrix, checkSchedule, checkScheduleWithCells } from '../plan/config-rules.js';

export const MATRIX_FILE = 'matrix.yaml';
export const SCHEDULES_DIR = 'schedules';
const DEFAULT_SCHEDULE = 'nightly';

export interface LoadOptions {
  /** The folder holding matrix.yaml and schedules/. */
  dir: string;
  /** A schedule name, or 'all' to check every schedule (validate). Default: the only one, else "nightly". */
  schedule?: string;
}

export interface LoadedConfig {
  dir: string;
  matrix: Matrix;
  cells: Cell[];
  schedules: Schedule[];
}

/** All config problems at once; its message lists them, one per line. */
export class ConfigError extends NightshiftError {
  constructor(readonly issues: ConfigIssue[]) {
    const sorted = sortIssues(issues);
    const count = `${sorted.length} problem${sorted.length === 1 ? '' : 's'} in the configuration`;
    super(`${sorted.map(formatIssue).join('\n')}\n${count}`, ExitCode.usage, { plain: true });
    this.name = 'ConfigError';
  }
}

export async function loadConfig(options: LoadOptions): Promise<LoadedConfig> {
  const dir = path.resolve(options.dir);
  const show = (file: string) => displayPath(path.join(dir, file));
  if (!(await exists(path.join(dir, MATRIX_FILE)))) {
    // matrix.yml is the likeliest slip: say so rather than "no matrix.yaml" next to it.
    const hint = (await exists(path.join(dir, 'matrix.yml')))
      ? `; found matrix.yml: rename it to ${MATRIX_FILE}`
      : `: run nightshift in the folder holding ${MATRIX_FILE} and ${SCHEDULES_DIR}/, or pass --config DIR`;
    throw new NightshiftError(`no ${MATRIX_FILE} in ${displayPath(dir) || '.'}${hint}`, ExitCode.usage);
  }
  const scheduleNames = await chooseSchedules(dir, options.schedule);

  const issues: ConfigIssue[] = [];
  const matrixSource = await readYamlSource(path.join(dir, MATRIX_FILE), show(MATRIX_FILE));
  const checkedMatrix = checkFile(matrixSource, matrixSchema, issues);
  let matrix: Matrix | undefined;
  let cells: Cell[] = [];
  if (checkedMatrix) {
    matrix = toMatrix(checkedMatrix.data, matrixSource.file, dir);
    const checked = checkMatrix(checkedMatrix.data, matrix);
    cells = checked.cells;
    if (!checkedMatrix.mends.some(leftOutNamed)) addRuleProblems(matrixSource, checked.problems, issues, checkedMatrix.mends);
  }
  // A matrix whose axes were mended only by renaming keys and quoting numbers has the cells its author
  // meant; one with axis values left out lacks cells that selectors name, which would only add false alarms.
  const cellsAreRight = checkedMatrix !== undefined && !checkedMatrix.mends.some(leftOutNamed);

  const schedules: Schedule[] = [];
  for (const name of scheduleNames) {
    const file = path.join(SCHEDULES_DIR, `${name}.yaml`);
    const source = await readYamlSource(path.join(dir, file), show(file));
    const checked = checkFile(source, scheduleSchema, issues);
    if (!checked) continue;
    const schedule = toSchedule(checked.data, name, source.file, dir);
    schedules.push(schedule);
    addRuleProblems(source, checkSchedule(checked.data, schedule), issues, checked.mends);
    if (matrix && cellsAreRight) {
      addRuleProblems(source, checkScheduleWithCells({ input: checked.data, schedule, matrix, cells }), issues, checked.mends);
    }
  }

  if (issues.length > 0 || !matrix) throw new ConfigError(issues);
  return { dir, matrix, cells, schedules };
}

/**
 * The file's data, checked against its schema. When the schema refuses it, its problems are added and
 * the data comes back mended (repair.ts) for the checks that need a whole file, or undefined when it
 * cannot be mended; either way the configuration is refused in the end.
 */
function checkFile<S extends z.ZodType>(source: YamlSource, schema: S, issues: ConfigIssue[]): { data: z.output<S>; mends: Mend[] } | undefined {
  if (source.problems.length) {
    issues.push(...source.problems);
    return undefined;
  }
  if (source.data === null || source.data === undefined) {
    issues.push({ file: source.file, line: 1, col: 1, path: [], message: `the file is empty: it needs at least ${requiredKeys(schema).join(', ')}` });
    return undefined;
  }
  if (typeof source.data !== 'object' || Array.isArray(source.data)) {
    const got = Array.isArray(source.data) ? 'a list' : JSON.stringify(source.data);
    issues.push({
      file: source.file,
      ...locate(source, []),
      path: [],
      message: `expected a mapping of keys (${requiredKeys(schema)
        .map((key) => `${key}:`)
        .join(', ')} ...) at the top of the file, got ${got}`,
    });
    return undefined;
  }
  const result = schema.safeParse(source.data, { reportInput: true });
  if (result.success) return { data: result.data, mends: [] };
  issues.push(...schemaIssues(source, schema, result.error.issues));
  return repairForChecks({ schema, data: source.data, issues: result.error.issues, textAt: (at) => sourceText(source, at), standIn: cronStandIn });
}

/** `cron:` and `report.cron:` are required, and no check that needs a mended file reads them. */
const cronStandIn = (at: IssuePath) => (at.at(-1) === 'cron' ? '0 0 * * *' : undefined);

/** Other checks name axes, their values and packages: with one of them left out, they would report false alarms. */
const leftOutNamed = (mend: Mend) => mend.kind !== 'renamed' && mend.kind !== 'as-written' && (mend.path[0] === 'axes' || (mend.path[0] === 'packages' && mend.path.length <= 2));

/**
 * Adds the rules' problems, but none about a mended value or within the mapping of one left out: those
 * would be about the mend (a docker package whose refused image was left out "needs an image"), not the file.
 */
function addRuleProblems(source: YamlSource, problems: RuleProblem[], issues: ConfigIssue[], mends: readonly Mend[] = []): void {
  const within = (where: IssuePath, mapping: IssuePath) => where.length >= mapping.length && mapping.every((key, i) => String(where[i]) === String(key));
  // A left-out value's mapping, unless that is the whole file; a mended value itself otherwise.
  const reach = (mend: Mend) => (mend.kind === 'left-out' && mend.path.length > 1 ? mend.path.slice(0, -1) : mend.path);
  const aboutMend = (where: IssuePath) => mends.some((mend) => within(where, reach(mend)));
  for (const { path: where, message, at } of problems) {
    if (aboutMend(where)) continue;
    issues.push({ file: source.file, ...locate(source, where, at), path: where, message });
  }
}

async function chooseSchedules(dir: string, wanted: string | undefined): Promise<string[]> {
  const folder = path.join(dir, SCHEDULES_DIR);
  const files = await readdir(folder).catch(() => [] as string[]);
  const names = files
    .filter((file) => file.endsWith('.yaml'))
    .map((file) => file.slice(0, -'.yaml'.length))
    .sort();
  if (names.length === 0) {
    const yml = files.filter((file) => file.endsWith('.yml'));
    const hint = yml.length
      ? `; schedule files end in .yaml: rename ${yml.join(', ')}`
      : `: add one, e.g. ${SCHEDULES_DIR}/${DEFAULT_SCHEDULE}.yaml with cron, timezone and machines`;
    throw new NightshiftError(`no schedules in ${displayPath(folder)}/${hint}`, ExitCode.usage);
  }
  if (wanted === 'all') return names;
  if (wanted !== undefined) {
    if (names.includes(wanted)) return [wanted];
    throw new NightshiftError(`no schedule "${wanted}" in ${displayPath(folder)}/${didYouMean(wanted, names) || ''} (schedules: ${names.join(', ')})`, ExitCode.usage);
  }
  if (names.length === 1) return names;
  if (names.includes(DEFAULT_SCHEDULE)) return [DEFAULT_SCHEDULE];
  throw new NightshiftError(`several schedules (${names.join(', ')}) and none is called ${DEFAULT_SCHEDULE}: choose one with --schedule NAME`, ExitCode.usage);
}

/** Paths in messages: relative to the working directory when that is shorter. */
export function displayPath(absolute: string): string {
  const relative = path.relative(process.cwd(), absolute);
  return relative && !relative.startsWith('..') ? relative : absolute;
}

async function exists(file: string): Promise<boolean> {
  return access(file).then(
    () => true,
    () => false,
  );
}
