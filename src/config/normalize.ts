/** From the parsed YAML (schema output) to the model: units converted, axes resolved per package. */
import path from 'node:path';
import { parseDuration, parseSize } from '../units.js';
import type { Axis, AxisValue, Machine, Matrix, PackageSpec, Schedule, Selection, Upload } from './model.js';
import type { AxisValueInput, MatrixInput, PackageInput, ScheduleInput } from './schema.js';

export function toAxisValue(input: AxisValueInput, known?: readonly AxisValue[]): AxisValue {
  if (typeof input === 'string') return known?.find((v) => v.value === input) ?? { value: input, attrs: {} };
  const { value, ...attrs } = input;
  return { value, attrs: Object.fromEntries(Object.entries(attrs).map(([k, v]) => [k, String(v)])) };
}

function toAxis(name: string, values: readonly AxisValueInput[], known?: readonly AxisValue[]): Axis {
  return { name, values: values.map((v) => toAxisValue(v, known)) };
}

function stringify(env: Record<string, string | number | boolean>): Record<string, string> {
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, String(v)]));
}

/** Global axes in order (minus those the package sets to []), then the package's own new axes. */
export function packageAxes(globalAxes: readonly Axis[], own: PackageInput['axes']): Axis[] {
  const axes: Axis[] = [];
  for (const axis of globalAxes) {
    const override = own[axis.name];
    if (override === undefined) axes.push(axis);
    else if (override.length > 0) axes.push(toAxis(axis.name, override, axis.values));
  }
  for (const [name, values] of Object.entries(own)) {
    if (!globalAxes.some((axis) => axis.name === name) && values.length > 0) axes.push(toAxis(name, values));
  }
  return axes;
}

function toPackage(name: string, input: PackageInput, globalAxes: readonly Axis[]): PackageSpec {
  return {
    name,
    executor: input.executor,
    image: input.executor === 'docker' ? (input.image ?? null) : null,
    command: input.command,
    timeoutS: parseDuration(input.timeout)!,
    estimateS: parseDuration(input.estimate)!,
    axes: packageAxes(globalAxes, input.axes),
    resources: {
      ...input.resources,
      memoryBytes: input.resources.memory === undefined ? undefined : parseSize(input.resources.memory),
    },
    artifacts: input.artifacts,
    network: input.network,
    env: stringify(input.env),
    ...(input.cache && { cache: { key: input.cache.key, path: input.cache.path } }),
    ...(input.retry && {
      retry: {
        attempts: input.retry.attempts,
        exitCodes: input.retry.on.filter((on): on is number => typeof on === 'number'),
        patterns: input.retry.on.filter((on): on is string => typeof on === 'string'),
      },
    }),
  };
}

/** A local recipes repository may be given relative to the config folder. */
function resolveRepo(repo: string, configDir: string): string {
  return /^[a-z][a-z0-9+.-]*:\/\/|^[^/]+@[^/]+:/i.test(repo) ? repo : path.resolve(configDir, repo);
}

export function toMatrix(input: MatrixInput, file: string, configDir: string): Matrix {
  const axes = Object.entries(input.axes).map(([name, values]) => toAxis(name, values));
  const allAxes = (name: string) => axes.find((a) => a.name === name)?.values;
  return {
    file,
    recipes: { repo: resolveRepo(input.recipes.repo, configDir), ref: input.recipes.ref },
    axes,
    packages: Object.entries(input.packages).map(([name, spec]) => toPackage(name, spec, axes)),
    env: stringify(input.env),
    exclude: input.exclude.map((entry) => stringify(entry)),
    include: input.include.map((entry): Selection =>
      Object.fromEntries(
        Object.entries(entry).map(([key, value]): [string, string | AxisValue] =>
          typeof value === 'object' ? [key, toAxisValue(value)] : key === 'package' ? [key, value] : [key, toAxisValue(value, allAxes(key))],
        ),
      ),
    ),
  };
}

export function toSchedule(input: ScheduleInput, name: string, file: string, configDir: string): Schedule {
  const machines = Object.entries(input.machines).map(([machineName, m]): Machine => ({
    name: machineName,
    slots: m.slots,
    builds: m.builds,
    ...(m.memory !== undefined && { memory: m.memory, memoryBytes: parseSize(m.memory) }),
    ...(m.cpus !== undefined && { cpus: m.cpus }),
    ...(m.gpus !== undefined && { gpus: m.gpus }),
  }));
  return {
    name,
    file,
    cron: input.cron,
    timezone: input.timezone,
    root: path.resolve(configDir, input.root),
    keepDays: input.keep_days,
    minFreeBytes: input.min_free === undefined ? undefined : parseSize(input.min_free),
    cacheSizeBytes: parseSize(input.cache_size)!,
    missedGraceS: parseDuration(input.missed_grace)!,
    machines,
    upload: toUpload(input.upload),
    report: input.report && {
      cron: input.report.cron,
      machine: input.report.machine ?? machines[0]!.name,
      to: input.report.to,
      from: input.report.from,
      when: input.report.when,
      logUrl: input.report.log_url,
      serveUrl: input.report.serve_url,
      webhooks: input.report.webhooks,
    },
    ...(input.queue && { queue: { url: input.queue.url, leaseMs: parseDuration(input.queue.lease)! * 1000, startWaitMs: parseDuration(input.queue.wait_at_start)! * 1000 } }),
  };
}

/**
 * Without `upload:`, successes are published to `<root>/published/`: the same layout as S3, on disk.
 * `{root}` is filled in when the destination is opened, so that --root moves it along.
 */
function toUpload(input: ScheduleInput['upload']): Upload {
  if (!input) return { to: 'file://{root}/published/{date}', key: '{id}/{file}', pathStyle: false, attempts: 5 };
  return {
    to: input.to,
    key: input.key,
    region: input.region,
    endpoint: input.endpoint,
    pathStyle: input.path_style ?? input.endpoint !== undefined,
    attempts: input.attempts,
    ...(input.index && { index: { path: input.index.path, keepDays: input.index.keep_days } }),
  };
}
