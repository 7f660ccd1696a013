/**
 * Reads `matrix.yaml` and `schedules/*.yaml`, checks them (YAML, schema, then named rules) and reports
 * every problem of every file at once, each as `file:line:col path: message`.
 */
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import type { z } from 'zod';
import { ExitCode, NightshiftError } from '../errors.js';
import { didYouMean } from './did-you-mean.js';
import { formatIssue, sortIssues, type ConfigIssue } from './issues.js';
import type { Cell, Matrix, Schedule } from './model.js';
import { toMatrix, toSchedule } from './normalize.js';
import type { RuleProblem } from './rules.js';
import { matrixSchema, scheduleSchema } from './schema.js';
import { requiredKeys, schemaIssues } from './schema-issues.js';
import { locate, readYamlSource, type YamlSource } from './source.js';
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
    matrix = toMatrix(checkedMatrix, matrixSource.file, dir);
    const checked = checkMatrix(checkedMatrix, matrix);
    cells = checked.cells;
    addRuleProblems(matrixSource, checked.problems, issues);
  }

  const schedules: Schedule[] = [];
  for (const name of scheduleNames) {
    const file = path.join(SCHEDULES_DIR, `${name}.yaml`);
    const source = await readYamlSource(path.join(dir, file), show(file));
    const input = checkFile(source, scheduleSchema, issues);
    if (!input) continue;
    const schedule = toSchedule(input, name, source.file, dir);
    schedules.push(schedule);
    addRuleProblems(source, checkSchedule(input, schedule), issues);
    // Selectors are checked against the cells, which are only right once matrix.yaml is.
    if (matrix && issues.every((issue) => issue.file !== matrixSource.file)) {
      addRuleProblems(source, checkScheduleWithCells({ input, schedule, matrix, cells }), issues);
    }
  }

  if (issues.length > 0 || !matrix) throw new ConfigError(issues);
  return { dir, matrix, cells, schedules };
}

function checkFile<S extends z.ZodType>(source: YamlSource, schema: S, issues: ConfigIssue[]): z.output<S> | undefined {
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
  if (result.success) return result.data;
  issues.push(...schemaIssues(source, schema, result.error.issues));
  return undefined;
}

function addRuleProblems(source: YamlSource, problems: RuleProblem[], issues: ConfigIssue[]): void {
  for (const { path: where, message, at } of problems) {
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
