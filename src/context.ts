/** The global options every command shares, and what they resolve to. */
import { stat } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadConfig, type LoadedConfig } from './config/load.js';
import type { Schedule } from './config/model.js';
import { didYouMean } from './config/did-you-mean.js';
import { errnoCode, ExitCode, NightshiftError } from './errors.js';

export interface GlobalOptions {
  config: string;
  schedule?: string;
  machine?: string;
  root?: string;
  date?: string;
}

export interface ScheduleContext {
  config: LoadedConfig;
  schedule: Schedule;
}

/** Loads the config and picks the schedule the options name (with --root applied). */
export async function loadSchedule(options: GlobalOptions): Promise<ScheduleContext> {
  const config = await loadConfig({ dir: options.config, schedule: options.schedule });
  const schedule = config.schedules[0]!;
  const root = options.root ? path.resolve(options.root) : schedule.root;
  await checkRootIsFolder(root, options.root ? `--root ${options.root}` : `root ${root} (in ${schedule.file})`);
  return { config, schedule: { ...schedule, root } };
}

/** A root that exists must be a folder: a file there would fail every read and write under it. */
async function checkRootIsFolder(root: string, named: string): Promise<void> {
  const found = await stat(root).catch((error: unknown) => (errnoCode(error) === 'ENOTDIR' ? 'under a file' : undefined));
  if (found === 'under a file') {
    throw new NightshiftError(`${named} lies under a file, not a folder; the night folders live under root: give a folder (it is made when missing)`, ExitCode.usage);
  }
  if (found && !found.isDirectory()) {
    throw new NightshiftError(`${named} is a file, not a folder; the night folders live under root: give a folder (it is made when missing)`, ExitCode.usage);
  }
}

/** This machine's name: --machine, NIGHTSHIFT_MACHINE (commander fills both in), else the host name. */
export function machineName(options: GlobalOptions): string {
  return options.machine ?? os.hostname();
}

/** The machine named by the options, which must be in the schedule. */
export function requireMachine(schedule: Schedule, options: GlobalOptions): string {
  const name = machineName(options);
  if (schedule.machines.some((m) => m.name === name)) return name;
  const names = schedule.machines.map((m) => m.name);
  const how = options.machine ? '' : ` (this host's name; pass --machine NAME or set NIGHTSHIFT_MACHINE)`;
  throw new NightshiftError(`machine "${name}"${how} is not in ${schedule.file}${didYouMean(name, names) || `; machines are ${names.join(', ')}`}`, ExitCode.usage);
}
