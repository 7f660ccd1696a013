/** `nightshift validate`: check matrix.yaml and every schedule; list every problem at once. */
import { loadConfig } from '../config/load.js';
import type { GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { planNight } from '../plan/plan.js';
import { uploadKeyNotes } from '../plan/config-rules.js';
import { ExitCode } from '../errors.js';

export async function validate(options: GlobalOptions, io: Io): Promise<number> {
  // Without --schedule every schedule is checked; load throws a ConfigError listing all problems.
  const config = await loadConfig({ dir: options.config, schedule: options.schedule ?? 'all' });
  const packages = config.matrix.packages.length;
  io.out(`${config.matrix.file}: ok, ${config.cells.length} builds from ${packages} package${packages === 1 ? '' : 's'}`);
  for (const schedule of config.schedules) {
    const plan = planNight(config.cells, schedule.machines);
    const shares = plan.machines.map((m) => `${m.machine.name} ${m.builds.length}`).join(', ');
    io.out(`${schedule.file}: ok, every build on exactly one machine (${shares})`);
    for (const note of uploadKeyNotes(schedule.upload, config.cells)) io.out(`${schedule.file}: note: ${note}`);
  }
  return ExitCode.ok;
}
