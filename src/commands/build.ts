/**
 * `nightshift build PACKAGE PYTHONS CUDAS [--axis name=v1,v2]`: build by hand, like the old
 * build_multiple.sh — comma lists build every combination — in the same night folder layout. A cell
 * of this machine's share of the nightly is rerun as that cell; anything else (not in the matrix, or
 * another machine's) is recorded as manual and kept out of the nightly's upload, pointers and report.
 */
import type { Cell, PackageSpec } from '../config/model.js';
import { didYouMean } from '../config/did-you-mean.js';
import { idPart } from '../config/schema.js';
import { DockerExecutor } from '../build/docker-executor.js';
import { HostExecutor } from '../build/host-executor.js';
import { progress } from '../runner/progress.js';
import { loadSchedule, machineName, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { humanOutput, printJson } from '../output/json.js';
import { stopOnSignals } from '../runner/signals.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { includedCell } from '../matrix/expand.js';
import { withAttributes } from '../matrix/unlisted-values.js';
import { buildEnv, renderCacheKey, renderCommand, renderImage } from '../build/build-env.js';
import { loadEstimates, orderSeconds } from '../runner/estimates.js';
import { followLog } from '../night/follow-log.js';
import { resolveNightDate } from '../night/night-date.js';
import { machineBudget, runNight } from '../runner/run-night.js';
import { machineBuilds } from '../runner/scheduled-night.js';
import { uploadManual } from '../store/upload-manual.js';
import { reportOutcome } from './night-summary.js';
import { buildJson, uploadJson } from './json-shapes.js';
import type { RunnerEvent } from '../runner/run-builds.js';
import { nightLayout } from '../night/layout.js';

export interface BuildOptions extends GlobalOptions {
  axis?: string[];
  /** `axis.attribute=value`: attributes for values the matrix does not list (`--set cuda.version=13.0`). */
  set?: string[];
  slots?: string;
  refreshRecipes?: boolean;
  upload?: boolean;
  json?: boolean;
  /** Leave a failed docker build's container running for `docker exec` (removed by `nightshift prune`). */
  keep?: boolean;
}

/** Positional lists fill these axes, in this order; `-` stands for an axis the package does not use. */
const POSITIONAL_AXES = ['python', 'cuda'] as const;

export async function build(options: BuildOptions, [packageName, ...lists]: string[], io: Io): Promise<number> {
  // With --json the live log, progress and summary go to stderr; stdout gets the builds' records at the end.
  const human = humanOutput(io, options.json);
  const { config, schedule } = await loadSchedule(options);
  const date = resolveNightDate(options.date, schedule.timezone);
  const machine = machineName(options);
  const names = config.matrix.packages.map((p) => p.name);
  const spec = config.matrix.packages.find((p) => p.name === packageName);
  if (!spec)
    throw new NightshiftError(`no package "${packageName!}" in ${config.matrix.file}${didYouMean(packageName!, names) || `; packages: ${names.join(', ')}`}`, ExitCode.usage);
  const requested = manualCells(spec, requestedValues(spec, lists, options.axis ?? []), attributesToSet(spec, options.set ?? []));
  for (const cell of requested) checkTemplates(cell, config.matrix.env, { date, machine, matrixFile: config.matrix.file });
  const slots = options.slots === undefined ? 1 : Number(options.slots);
  if (!Number.isInteger(slots) || slots < 1) throw new NightshiftError(`--slots must be a whole number of at least 1, got ${options.slots!}`, ExitCode.usage);

  // Several builds start longest expected first, by the same estimates as a night's.
  const estimates = await loadEstimates(schedule, date, { warn: (line) => io.err(`nightshift: ${line}`) });
  // This machine's share of the night, split as `run` splits it: those cells are reruns, the rest manual.
  const share = new Set(schedule.machines.some((m) => m.name === machine) ? machineBuilds(config, schedule, machine, {}, estimates).builds.map((b) => b.id) : []);
  const nightly = new Map(config.cells.map((cell) => [cell.id, cell]));
  const cells = requested.map((cell) => (share.has(cell.id) ? nightly.get(cell.id)! : cell));
  const manual = new Set(cells.filter((cell) => !share.has(cell.id)).map((cell) => cell.id));
  if (manual.size) human.out(`manual build(s), not part of the nightly (outside ${machine}'s share of the matrix): ${[...manual].join(', ')}`);

  const kept: { id: string; name: string }[] = [];
  // One build at a time: show its log live, as the old build_docker.sh did; several: show progress.
  const live = slots === 1 ? liveLog(nightLayout(schedule.root, date), human) : undefined;
  const reporter = live ? undefined : progress(human, cells.length);
  // The signal's message goes above the live lines, starting on its own line.
  const stopping = (signal: string) => `nightshift: ${signal}: stopping; running builds are killed and marked canceled`;
  const stop = stopOnSignals((signal) => (reporter ? reporter.warn(stopping(signal)) : live ? live.interrupt(stopping(signal)) : io.err(stopping(signal))));
  try {
    const outcome = await runNight(
      {
        matrix: config.matrix,
        allCells: config.cells,
        schedule,
        date,
        machine,
        cells,
        slots,
        estimate: orderSeconds(estimates),
        budget: machineBudget(schedule.machines.find((m) => m.name === machine)),
        force: true,
        refreshRecipes: options.refreshRecipes,
        purpose: 'build',
        upload: options.upload ?? false,
        manual,
      },
      {
        executors: { docker: new DockerExecutor({ keepFailed: options.keep ?? false, onKept: (k) => kept.push(k) }), host: new HostExecutor() },
        signal: stop.signal,
        onEvent: (event) => {
          live?.onEvent(event);
          reporter?.onEvent(event);
        },
        say: (line) => (reporter ? reporter.say(line) : human.out(line)),
      },
    );
    await live?.done();
    reporter?.stop();
    human.flush();
    const code = reportOutcome(outcome, human, stop.signal.aborted);
    for (const { id, name } of kept) human.out(`kept ${name} (${id}) for debugging: docker exec -it ${name} sh; nightshift prune removes it`);
    const sent = options.upload && !stop.signal.aborted ? outcome.ran.filter((b) => b.manual).map((b) => b.id) : [];
    const manualUpload = sent.length ? await uploadManual({ schedule, cells: config.cells, night: outcome.layout, state: outcome.state, ids: sent }) : undefined;
    if (manualUpload) {
      const { to, uploaded, skipped, failed } = manualUpload;
      human.out(`manual build(s) to ${to}: ${uploaded} uploaded, ${skipped} already there${failed.length ? `, ${failed.length} failed` : ''}`);
      for (const failure of failed) human.out(`  not uploaded ${failure.key || to}: ${failure.error}`);
    }
    if (options.json) {
      printJson(io, {
        date: outcome.layout.date,
        machine,
        night: outcome.layout.dir,
        stopped: stop.signal.aborted,
        builds: outcome.ran.map((b) => buildJson(b, outcome.layout.dir)),
        kept: outcome.kept,
        upload: outcome.upload ? uploadJson(outcome.upload, outcome.state.upload?.bytes) : null,
        manual_upload: manualUpload ? uploadJson(manualUpload, undefined) : null,
      });
    }
    return manualUpload?.failed.length && code === ExitCode.ok ? ExitCode.serviceUnavailable : code;
  } finally {
    reporter?.stop();
    human.flush();
    stop.dispose();
  }
}

/** Axis name to the values asked for: positional lists for python and cuda, --axis for the rest. */
function requestedValues(spec: PackageSpec, lists: readonly string[], axisOptions: readonly string[]): Map<string, string[]> {
  const axes = spec.axes.map((a) => a.name);
  const values = new Map<string, string[]>();
  const set = (axis: string, text: string, from: string) => {
    if (!axes.includes(axis)) {
      throw new NightshiftError(
        `${spec.name} has no ${axis} axis (its axes: ${axes.join(', ') || 'none'}); ${from === 'argument' ? 'write - in its place' : 'leave out --axis ' + axis}`,
        ExitCode.usage,
      );
    }
    values.set(
      axis,
      text
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean),
    );
  };
  lists.forEach((text, i) => {
    const axis = POSITIONAL_AXES[i];
    if (axis === undefined) throw new NightshiftError(`too many arguments: give other axes with --axis name=v1,v2`, ExitCode.usage);
    if (text !== '-') set(axis, text, 'argument');
  });
  for (const option of axisOptions) {
    const match = /^([a-z][a-z0-9]*)=(.+)$/.exec(option);
    if (!match) throw new NightshiftError(`--axis ${JSON.stringify(option)}: write it as name=value1,value2`, ExitCode.usage);
    set(match[1]!, match[2]!, 'option');
  }
  const missing = axes.filter((axis) => !values.get(axis)?.length);
  if (missing.length) {
    const usage = `nightshift build ${spec.name} ${axes.includes('python') ? 'PYTHONS' : '-'} ${axes.includes('cuda') ? 'CUDAS' : ''}`.trimEnd();
    throw new NightshiftError(
      `say which ${missing.join(', ')} to build: ${usage}${missing
        .filter((a) => !(POSITIONAL_AXES as readonly string[]).includes(a))
        .map((a) => ` --axis ${a}=...`)
        .join('')}`,
      ExitCode.usage,
    );
  }
  return values;
}

/** `--set axis.attribute=value` options, checked: axis name to the attributes given. */
function attributesToSet(spec: PackageSpec, options: readonly string[]): Map<string, Record<string, string>> {
  const attributes = new Map<string, Record<string, string>>();
  for (const option of options) {
    const match = /^([a-z][a-z0-9]*)\.([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(option);
    if (!match) throw new NightshiftError(`--set ${JSON.stringify(option)}: write it as axis.attribute=value, e.g. --set cuda.version=13.0`, ExitCode.usage);
    const [, axis, name, value] = match as unknown as [string, string, string, string];
    if (!spec.axes.some((a) => a.name === axis)) {
      throw new NightshiftError(`--set ${option}: ${spec.name} has no ${axis} axis (its axes: ${spec.axes.map((a) => a.name).join(', ') || 'none'})`, ExitCode.usage);
    }
    attributes.set(axis, { ...attributes.get(axis), [name]: value });
  }
  return attributes;
}

/**
 * Every template of the build resolves (validation proved it for the matrix's values, not for new
 * ones): a new value lacking an attribute a template needs is refused before anything runs, with the
 * --set that gives it.
 */
function checkTemplates(cell: Cell, matrixEnv: Readonly<Record<string, string>>, night: { date: string; machine: string; matrixFile: string }): void {
  try {
    renderImage(cell, night.date, night.machine);
    renderCommand(cell, night.date, night.machine);
    renderCacheKey(cell, night.date, night.machine);
    buildEnv({ cell, matrixEnv, date: night.date, machine: night.machine });
  } catch (error) {
    const ref = error instanceof NightshiftError ? /\{([a-z][a-z0-9]*)\.([A-Za-z_][A-Za-z0-9_]*)\} cannot be filled in/.exec(error.message) : null;
    const value = ref ? cell.values[ref[1]!] : undefined;
    if (!ref || !value) throw error;
    const listed = cell.package.axes.find((a) => a.name === ref[1])?.values.some((v) => v.value === value.value);
    throw new NightshiftError(
      `${cell.id}: {${ref[1]!}.${ref[2]!}} cannot be filled in: ${ref[1]!} ${value.value} ${listed ? 'has no attribute' : `is not in ${night.matrixFile}, so it has no attribute`} ${ref[2]!}; ` +
        `give it with --set ${ref[1]!}.${ref[2]!}=VALUE`,
      ExitCode.usage,
      { cause: error },
    );
  }
}

/** Every combination of the requested values; values not in the matrix are allowed but must be safe. */
function manualCells(spec: PackageSpec, values: Map<string, string[]>, attributes: Map<string, Record<string, string>>): Cell[] {
  let combos: Record<string, string>[] = [{ package: spec.name }];
  for (const axis of spec.axes) {
    for (const value of values.get(axis.name)!) {
      const checked = idPart('an axis value').safeParse(value);
      if (!checked.success) throw new NightshiftError(`${axis.name} ${checked.error.issues[0]!.message}`, ExitCode.usage);
    }
    combos = combos.flatMap((combo) => values.get(axis.name)!.map((value) => ({ ...combo, [axis.name]: value })));
  }
  for (const axis of attributes.keys()) {
    const known = spec.axes.find((a) => a.name === axis)!.values.map((v) => v.value);
    if (values.get(axis)!.every((value) => known.includes(value))) {
      throw new NightshiftError(
        `--set ${axis}.…: every ${axis} asked for (${values.get(axis)!.join(', ')}) is in matrix.yaml with its own attributes; --set gives attributes to values it does not list`,
        ExitCode.usage,
      );
    }
  }
  return combos.map((combo) => withAttributes(includedCell(spec, combo)!, attributes));
}

/** Prints each build's log as it is written, one build after another. */
function liveLog(layout: ReturnType<typeof nightLayout>, io: Io) {
  let chain = Promise.resolve();
  const finished = new Set<string>();
  // Whether the log shown so far ends a line: a message printed while it streams must start its own.
  let atLineStart = true;
  const write = (chunk: Uint8Array) => {
    if (chunk.length) atLineStart = chunk[chunk.length - 1] === 0x0a;
    return io.write(chunk);
  };
  return {
    onEvent(event: RunnerEvent) {
      if (event.type === 'finish') finished.add(event.id);
      else chain = chain.then(() => followLog({ layout, id: event.id, write, ended: () => Promise.resolve(finished.has(event.id)), pollMs: 100 }));
    },
    done: () => chain,
    /** `text` on stderr, on a line of its own even when the log stopped mid-line (or the terminal echoed ^C). */
    interrupt(text: string) {
      io.err(`${atLineStart && !io.isTTY ? '' : '\n'}${text}`);
    },
  };
}
