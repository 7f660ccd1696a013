/** `nightshift validate`: check matrix.yaml and every schedule; list every problem at once. */
import { ConfigError, loadConfig, type LoadedConfig } from '../config/load.js';
import { formatPath, sortIssues } from '../config/issues.js';
import type { GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { printJson } from '../output/json.js';
import { planNight } from '../plan/plan.js';
import { uploadKeyNotes } from '../plan/config-rules.js';
import { ExitCode } from '../errors.js';

export interface ValidateOptions extends GlobalOptions {
  json?: boolean;
}

export async function validate(options: ValidateOptions, io: Io): Promise<number> {
  // Without --schedule every schedule is checked; load throws a ConfigError listing all problems.
  const config = await loadConfig({ dir: options.config, schedule: options.schedule ?? 'all' }).catch((error: unknown) => {
    // The problems as JSON on stdout; cli.ts still prints them on stderr and exits 2, as without --json.
    if (options.json && error instanceof ConfigError) printJson(io, { ok: false, problems: problemsJson(error), matrix: null, schedules: [] });
    throw error;
  });
  const checked = checkedFiles(config);
  if (options.json) {
    printJson(io, { ok: true, problems: [], ...checked });
    return ExitCode.ok;
  }
  const packages = checked.matrix.packages;
  io.out(`${checked.matrix.file}: ok, ${checked.matrix.builds} builds from ${packages} package${packages === 1 ? '' : 's'}`);
  for (const schedule of checked.schedules) {
    const shares = schedule.machines.map((m) => `${m.name} ${m.builds}`).join(', ');
    io.out(`${schedule.file}: ok, every build on exactly one machine (${shares})`);
    for (const note of schedule.notes) io.out(`${schedule.file}: note: ${note}`);
  }
  return ExitCode.ok;
}

/** What a valid configuration holds: the builds of the matrix, each schedule's split and notes. */
function checkedFiles(config: LoadedConfig) {
  return {
    matrix: { file: config.matrix.file, builds: config.cells.length, packages: config.matrix.packages.length },
    schedules: config.schedules.map((schedule) => ({
      file: schedule.file,
      name: schedule.name,
      machines: planNight(config.cells, schedule.machines).machines.map((m) => ({ name: m.machine.name, builds: m.builds.length })),
      notes: uploadKeyNotes(schedule.upload, config.cells),
    })),
  };
}

/** Every problem in the order the text lists them; `path` as the text writes it (`packages.wheel.timeout`). */
function problemsJson(error: ConfigError) {
  return sortIssues(error.issues).map((issue) => ({ file: issue.file, line: issue.line, col: issue.col, path: formatPath(issue.path), message: issue.message }));
}
