/**
 * What `nightshift install` schedules for a schedule, whichever way it is installed: the night and, on
 * the machine that sends it, the morning report, each as the command line that runs it. The paths and
 * names that go into the unit files and cron lines are checked here.
 */
import type { Schedule } from '../config/model.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { checkText } from './command-quoting.js';

export type InstallMode = 'daemon' | 'timer';

export interface CommandPaths {
  schedule: Schedule;
  /** Absolute path of the config folder (matrix.yaml and schedules/). */
  configDir: string;
  /** Absolute path of nightshift's dist/cli.js (or of a wrapper that node can run). */
  nightshiftBin: string;
  /** Absolute path of node. */
  nodeBin: string;
  /**
   * This machine's name: passed as --machine, and the report jobs are only installed on the machine
   * that sends the report. Undefined: no --machine (the host name at run time) and report jobs included.
   */
  machine?: string;
  /** Passed as --root when given (the root was overridden on the install command line). */
  root?: string;
  /** Root-only file of secrets (NIGHTSHIFT_SMTP_URL, AWS_*); default /etc/nightshift/env. */
  envFile?: string;
}

export interface Job {
  /** `night` or `report`. */
  kind: 'night' | 'report';
  cron: string;
  argv: string[];
  what: string;
}

export function checkPath(label: string, value: string): void {
  if (!value.startsWith('/')) throw new NightshiftError(`${label} must be an absolute path, got ${JSON.stringify(value)}`, ExitCode.usage);
  checkText(label, value);
}

function checkScheduleName(name: string): void {
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) {
    throw new NightshiftError(
      `the schedule name "${name}" cannot be part of a unit or file name: use letters, digits, '.', '_' and '-' (rename schedules/${name}.yaml)`,
      ExitCode.usage,
    );
  }
}

export function checkUser(user: string): void {
  if (!/^[A-Za-z_][A-Za-z0-9_.-]*\$?$/.test(user)) throw new NightshiftError(`--user "${user}" is not a user name`, ExitCode.usage);
}

/** True when this machine sends the report (or the machine is not known). */
function sendsReport(schedule: Schedule, machine: string | undefined): boolean {
  return schedule.report !== undefined && (machine === undefined || machine === schedule.report.machine);
}

export function jobs(o: CommandPaths): Job[] {
  const { base, common } = commandParts(o);
  const out: Job[] = [{ kind: 'night', cron: o.schedule.cron, argv: [...base, 'run', ...common], what: `${o.schedule.file} cron` }];
  if (sendsReport(o.schedule, o.machine)) {
    out.push({ kind: 'report', cron: o.schedule.report!.cron, argv: [...base, 'report', '--send', ...common], what: `${o.schedule.file} report.cron` });
  }
  return out;
}

/** node and nightshift's script, and the options every command of the install pins; checked. */
function commandParts(o: CommandPaths): { base: string[]; common: string[] } {
  checkScheduleName(o.schedule.name);
  checkPath('the config folder', o.configDir);
  checkPath("nightshift's script", o.nightshiftBin);
  checkPath('node', o.nodeBin);
  if (o.root !== undefined) checkPath('--root', o.root);
  if (o.machine !== undefined) checkText('the machine name', o.machine);
  const common = ['--config', o.configDir, '--schedule', o.schedule.name, ...(o.machine ? ['--machine', o.machine] : []), ...(o.root ? ['--root', o.root] : [])];
  return { base: [o.nodeBin, o.nightshiftBin], common };
}

/** Where `nightshift serve` listens unless told otherwise (its own default). */
export const DEFAULT_SERVE_LISTEN = '127.0.0.1:8080';

/**
 * The command line of `nightshift serve` as a service runs it: the same pinned options as the night,
 * and `--listen`. Never a token: it would show in the unit file and in ps; the server reads
 * NIGHTSHIFT_SERVE_TOKEN from its environment (the env file).
 */
export function serveArgv(o: CommandPaths, listen: string): string[] {
  checkListen(listen);
  const { base, common } = commandParts(o);
  return [...base, 'serve', '--listen', listen, ...common];
}

/** HOST:PORT with an IPv4 address, a host name or a bracketed IPv6 address, as `nightshift serve --listen` takes it. */
export function checkListen(listen: string): void {
  const match = /^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9][A-Za-z0-9.-]*):(\d{1,5})$/.exec(listen);
  if (!match || Number(match[2]) > 65535) {
    throw new NightshiftError(`--listen ${JSON.stringify(listen)} is not HOST:PORT: give an address and a port, like ${DEFAULT_SERVE_LISTEN} or 0.0.0.0:8080`, ExitCode.usage);
  }
}

/** True when `listen` (checked) is a loopback address only this machine reaches. */
export function listensOnLoopback(listen: string): boolean {
  const host = listen.slice(0, listen.lastIndexOf(':')).replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}
