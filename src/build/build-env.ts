/**
 * What a build is given: its rendered command and image, and its environment — pure, except
 * `hostEnvironment`, which reads the parent environment it is handed.
 */
import type { Cell } from '../config/model.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { cellVars } from '../matrix/expand.js';
import { render, type TemplateVars } from '../matrix/template.js';

export interface BuildEnvInput {
  cell: Cell;
  /** Matrix.env: the shared templates of every build. */
  matrixEnv: Readonly<Record<string, string>>;
  date: string;
  machine: string;
}

/**
 * The build's environment (without NIGHTSHIFT_RECIPES/NIGHTSHIFT_OUT, which each executor sets):
 * the matrix env, then the package env over it, then nightshift's own NIGHTSHIFT_* variables, which
 * no template can override so that recipes can always trust them.
 */
export function buildEnv({ cell, matrixEnv, date, machine }: BuildEnvInput): Record<string, string> {
  const vars = cellVars(cell, { date, machine });
  const env: Record<string, string> = {};
  for (const [name, template] of Object.entries(matrixEnv)) {
    const value = renderShared(template, vars);
    if (value !== undefined) env[name] = value;
  }
  for (const [name, template] of Object.entries(cell.package.env)) {
    env[name] = renderOrThrow(template, vars, cell, `env ${name}`);
  }
  return { ...env, ...nightshiftVariables(cell, date, machine) };
}

function nightshiftVariables(cell: Cell, date: string, machine: string): Record<string, string> {
  const env: Record<string, string> = {
    NIGHTSHIFT_BUILD_ID: cell.id,
    NIGHTSHIFT_PACKAGE: cell.package.name,
    NIGHTSHIFT_DATE: date,
    NIGHTSHIFT_MACHINE: machine,
  };
  for (const [axis, value] of Object.entries(cell.values)) env[`NIGHTSHIFT_${axis.toUpperCase()}`] = value.value;
  return env;
}

/** A shared entry naming an axis this cell does not have is left out (e.g. DESIRED_PYTHON for libtorch). */
function renderShared(template: string, vars: TemplateVars): string | undefined {
  const rendered = render(template, vars);
  if (rendered.ok) return rendered.value;
  if (rendered.reason === 'unknown') return undefined;
  throw new NightshiftError(`env template "${template}": ${rendered.ref.text} cannot be filled in; run nightshift validate`, ExitCode.usage);
}

/** The rendered argv of the cell's command. */
export function renderCommand(cell: Cell, date: string, machine: string): string[] {
  const vars = cellVars(cell, { date, machine });
  return cell.package.command.map((arg, i) => renderOrThrow(arg, vars, cell, `command[${i}]`));
}

/** The rendered image, or null for a host package. */
export function renderImage(cell: Cell, date: string, machine: string): string | null {
  if (cell.package.image === null) return null;
  return renderOrThrow(cell.package.image, cellVars(cell, { date, machine }), cell, 'image');
}

/** The rendered cache folder name, or null when the package has no cache. */
export function renderCacheKey(cell: Cell, date: string, machine: string): string | null {
  if (cell.package.cache === undefined) return null;
  return renderOrThrow(cell.package.cache.key, cellVars(cell, { date, machine }), cell, 'cache.key');
}

// Validation proves every template of a cell resolves, so a failure here means the config changed
// underneath us or a rule is missing: say which template, and how to find out more.
function renderOrThrow(template: string, vars: TemplateVars, cell: Cell, what: string): string {
  const rendered = render(template, vars);
  if (rendered.ok) return rendered.value;
  throw new NightshiftError(`${cell.id}: ${what} "${template}": ${rendered.ref.text} cannot be filled in for this build; run nightshift validate`, ExitCode.usage);
}

const SECRET_NAMES = new Set(['NIGHTSHIFT_SMTP_URL', 'AWS_ACCESS_KEY_ID', 'AWS_SECRET_ACCESS_KEY', 'AWS_SESSION_TOKEN', 'AWS_SECURITY_TOKEN']);
const SECRET_PATTERN = /SECRET|PASSWORD|PASSWD|TOKEN|CREDENTIAL/i;

/** The parent environment minus nightshift's own secrets (and anything named like one), for host builds. */
export function hostEnvironment(base: NodeJS.ProcessEnv = process.env): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(base)) {
    if (value === undefined || SECRET_NAMES.has(name) || SECRET_PATTERN.test(name)) continue;
    env[name] = value;
  }
  return env;
}
