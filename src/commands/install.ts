/**
 * `nightshift install systemd|cron`: what starts this machine's nights (and, on the machine that
 * sends it, the morning report). Prints the files, or with --write installs them; it never runs
 * systemctl or touches crontabs itself, it says what to run.
 */
import { realpathSync } from 'node:fs';
import { chmod, lstat, mkdir, readdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadSchedule, requireMachine, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { didYouMean } from '../config/did-you-mean.js';
import type { Schedule } from '../config/model.js';
import { cronFileName, crontabLines } from '../daemon/cron-file.js';
import { checkListen, DEFAULT_SERVE_LISTEN, listensOnLoopback, type InstallMode } from '../daemon/install-jobs.js';
import { isServeUnitOf, SERVE_UNIT, systemdUnitNames, systemdUnits, type UnitFile } from '../daemon/systemd-units.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { readTextIfExists, writeFileAtomic } from '../files.js';
import { DEFAULT_ENV_FILE } from '../report/smtp-url.js';

export interface InstallOptions extends GlobalOptions {
  mode?: string;
  write?: boolean;
  dir?: string;
  user?: string;
  /** Also install `nightshift serve` as a service (systemd only). */
  serve?: boolean;
  /** Where the server listens (HOST:PORT), with serve. */
  listen?: string;
  /** Remove what an install of this schedule wrote, instead of installing. */
  remove?: boolean;
}

export const SYSTEMD_DIR = '/etc/systemd/system';
export const CRON_DIR = '/etc/cron.d';
const KINDS = ['systemd', 'cron'];
const MODES: InstallMode[] = ['timer', 'daemon'];

export async function install(options: InstallOptions, args: string[], io: Io): Promise<number> {
  const kind = args[0] ?? '';
  if (!KINDS.includes(kind)) {
    throw new NightshiftError(`nightshift install systemd or nightshift install cron, not "${kind}"${didYouMean(kind, KINDS)}`, ExitCode.usage);
  }
  if (kind === 'cron' && options.mode !== undefined) {
    throw new NightshiftError('--mode is for systemd (timer or daemon); nightshift install cron has one form', ExitCode.usage);
  }
  const mode = (options.mode ?? 'timer') as InstallMode;
  if (!MODES.includes(mode)) throw new NightshiftError(`--mode is timer or daemon, not "${options.mode!}"`, ExitCode.usage);
  const serve = serveRequest(kind, options);

  // A broken configuration is never installed: it would fail every night, silently, at 00:05.
  const { schedule } = await loadSchedule(options);
  if (options.remove) return removeInstalled(kind, schedule, options, io);
  const machine = requireMachine(schedule, options);
  const paths = {
    schedule,
    configDir: path.resolve(options.config),
    nightshiftBin: nightshiftScript(),
    nodeBin: process.execPath,
    machine,
    root: options.root ? schedule.root : undefined,
  };
  if (schedule.report && schedule.report.machine !== machine && (kind === 'cron' || mode === 'timer')) {
    io.err(`nightshift: the report of ${schedule.name} is sent by ${schedule.report.machine}, not ${machine}: no report job here`);
  }

  if (kind === 'systemd') {
    const dir = path.resolve(options.dir ?? SYSTEMD_DIR);
    const { files } = systemdUnits({ ...paths, mode, user: options.user, serve });
    if (serve && !listensOnLoopback(serve.listen)) {
      io.err(
        `nightshift: ${SERVE_UNIT} listens on ${serve.listen}, beyond this machine: the server starts only with a token. ` +
          `Put NIGHTSHIFT_SERVE_TOKEN=<a long random value> in ${DEFAULT_ENV_FILE} (root only, mode 600); never on the command line`,
      );
    }
    if (!options.write) return printFiles(files, dir, '--write installs them', io);
    for (const file of files) io.out(await writeFile(dir, file));
    const enable = files.filter((f) => mode === 'daemon' || f.name.endsWith('.timer') || f.name === SERVE_UNIT).map((f) => f.name);
    await warnLeftovers(dir, schedule, files, mode, io);
    io.out(`now run:\n  systemctl daemon-reload && systemctl enable --now ${enable.join(' ')}`);
    io.out(mode === 'timer' ? `then: systemctl list-timers 'nightshift-*'` : `then: journalctl -u ${enable[0]!} -f`);
    return ExitCode.ok;
  }

  if (options.user !== undefined && options.user !== 'root') {
    io.err(
      `nightshift: as ${options.user}, the cron jobs cannot read a root-only ${DEFAULT_ENV_FILE} (as it should be): the report then has no SMTP URL. ` +
        'systemd reads EnvironmentFile= as root for any User=: nightshift install systemd --user ' +
        options.user,
    );
  }
  const dir = path.resolve(options.dir ?? CRON_DIR);
  const text = crontabLines({ ...paths, user: options.user ?? 'root', systemTimeZone: Intl.DateTimeFormat().resolvedOptions().timeZone });
  const file = { name: cronFileName(schedule.name), text };
  if (!options.write) return printFiles([file], dir, `--write installs it (cron.d format, user ${options.user ?? 'root'})`, io);
  io.out(await writeFile(dir, file));
  io.out(
    dir === CRON_DIR
      ? 'cron reads /etc/cron.d again by itself within a minute: nothing to restart. Its runs show in journalctl -u cron (or /var/log/syslog)'
      : `to use it: cp ${path.join(dir, file.name)} ${CRON_DIR}/ (owned by root, mode 644: cron ignores other files there)`,
  );
  return ExitCode.ok;
}

/**
 * `install systemd|cron --remove`: the files an install of this schedule wrote (either mode, and the
 * server's unit when it is this schedule's), printed, or removed with --write. systemd units must be
 * disabled first: `systemctl disable` needs the file, so an enabled unit (its link in a *.wants/
 * folder) is refused, naming the command.
 */
async function removeInstalled(kind: string, schedule: Schedule, options: InstallOptions, io: Io): Promise<number> {
  const dir = path.resolve(options.dir ?? (kind === 'systemd' ? SYSTEMD_DIR : CRON_DIR));
  const names = kind === 'cron' ? [cronFileName(schedule.name)] : [...systemdUnitNames(schedule.name).daemon, ...systemdUnitNames(schedule.name).timer, SERVE_UNIT];
  const present: string[] = [];
  for (const name of names) {
    const text = await readTextIfExists(path.join(dir, name));
    if (text !== undefined && (name !== SERVE_UNIT || isServeUnitOf(text, schedule.name))) present.push(name);
  }
  if (present.length === 0) {
    io.out(`nothing of schedule ${schedule.name} to remove in ${dir}`);
    return ExitCode.ok;
  }
  // A timer's service is stopped with its timer; the daemon's and the server's run on their own.
  const startable = present.filter((name) => name.endsWith('.timer') || !systemdUnitNames(schedule.name).timer.includes(name));
  const disable = `systemctl disable --now ${startable.join(' ')}`;
  if (!options.write) {
    io.out(present.map((name) => `# would remove ${path.join(dir, name)}`).join('\n'));
    io.err(`nightshift: printed only; ${kind === 'systemd' ? `first run ${disable}, then ` : ''}--write removes them`);
    return ExitCode.ok;
  }
  if (kind === 'systemd') {
    const enabled = await enabledUnits(dir, present);
    if (enabled.length) {
      throw new NightshiftError(
        `${enabled.join(', ')} ${enabled.length > 1 ? 'are' : 'is'} still enabled (linked from a .wants folder in ${dir}): run ${disable} first, then this again`,
        ExitCode.usage,
      );
    }
  }
  for (const name of present) {
    await rm(path.join(dir, name), { force: true });
    io.out(`removed ${path.join(dir, name)}`);
  }
  io.out(kind === 'systemd' ? 'now run: systemctl daemon-reload' : 'cron reads /etc/cron.d again by itself within a minute: nothing to restart');
  return ExitCode.ok;
}

/** Those of `names` that a *.wants/ (or *.requires/) folder of `dir` links to: enabled units. */
async function enabledUnits(dir: string, names: readonly string[]): Promise<string[]> {
  const folders = (await readdir(dir).catch(() => [])).filter((entry) => entry.endsWith('.wants') || entry.endsWith('.requires'));
  const enabled = new Set<string>();
  for (const folder of folders) {
    for (const name of names)
      if (
        await lstat(path.join(dir, folder, name)).then(
          () => true,
          () => false,
        )
      )
        enabled.add(name);
  }
  return [...enabled];
}

/**
 * --serve and --listen, checked: the server is a long-running process, which only systemd (of the two
 * ways to install) keeps running and restarts; cron only starts commands at times.
 */
function serveRequest(kind: string, options: InstallOptions): { listen: string } | undefined {
  if (!options.serve) {
    if (options.listen !== undefined)
      throw new NightshiftError('--listen says where the server listens: give it with --serve (nightshift install systemd --serve --listen ADDR)', ExitCode.usage);
    return undefined;
  }
  if (kind === 'cron') {
    throw new NightshiftError(
      'nightshift serve runs all the time, and cron only starts commands at set times: nothing would keep the server running or restart it. ' +
        'Install it with systemd (nightshift install systemd --serve), or run nightshift serve under your own service manager',
      ExitCode.usage,
    );
  }
  const listen = options.listen ?? DEFAULT_SERVE_LISTEN;
  checkListen(listen);
  return { listen };
}

/**
 * The real path of nightshift's dist/cli.js, which the units and cron lines run with node: not a
 * `nightshift` found on PATH, which neither cron's PATH nor systemd's is sure to have. This module is
 * built into dist/chunks/, one folder below dist/cli.js (scripts/build.mjs).
 */
export function nightshiftScript(): string {
  const cli = fileURLToPath(new URL('../cli.js', import.meta.url));
  try {
    return realpathSync(cli);
  } catch {
    throw new NightshiftError(
      `cannot find nightshift's own script at ${cli}: install from the built nightshift (npm run build, then node dist/cli.js install ...)`,
      ExitCode.usage,
    );
  }
}

function printFiles(files: readonly UnitFile[], dir: string, how: string, io: Io): number {
  io.out(files.map((file) => `# ${path.join(dir, file.name)}\n${file.text}`).join('\n'));
  io.err(`nightshift: printed only; ${how} into ${dir}`);
  return ExitCode.ok;
}

/** Writes one file (mode 644) atomically; says what it did. */
async function writeFile(dir: string, file: UnitFile): Promise<string> {
  const target = path.join(dir, file.name);
  try {
    await mkdir(dir, { recursive: true });
    const before = await readTextIfExists(target);
    if (before === file.text) {
      await chmod(target, 0o644);
      return `unchanged ${target}`;
    }
    await writeFileAtomic(target, file.text, { mode: 0o644 });
    return `${before === undefined ? 'wrote' : 'replaced'} ${target}`;
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const why = code === 'EACCES' || code === 'EPERM' ? 'permission denied: run it as root, or leave out --write to print the files' : (error as Error).message;
    throw new NightshiftError(`cannot write ${target}: ${why}`, ExitCode.usage, { cause: error });
  }
}

/** The server's unit from an earlier install --serve of this schedule, when this install has none. */
async function warnServeLeftover(dir: string, schedule: Schedule, made: ReadonlySet<string>, io: Io): Promise<void> {
  if (made.has(SERVE_UNIT)) return;
  const text = await readTextIfExists(path.join(dir, SERVE_UNIT));
  // Another schedule's server is that install's business.
  if (text === undefined || !isServeUnitOf(text, schedule.name)) return;
  io.err(
    `nightshift: ${dir} still holds ${SERVE_UNIT} from an earlier install --serve of ${schedule.name}: it keeps serving. ` +
      `To keep it, install with --serve; to remove it:\n  systemctl disable --now ${SERVE_UNIT}; rm ${path.join(dir, SERVE_UNIT)}`,
  );
}

/** Units of this schedule that this install does not produce (the other mode, a report no longer sent here). */
async function warnLeftovers(dir: string, schedule: Schedule, files: readonly UnitFile[], mode: InstallMode, io: Io): Promise<void> {
  const names = systemdUnitNames(schedule.name);
  const made = new Set(files.map((f) => f.name));
  const left: string[] = [];
  for (const name of [...names.daemon, ...names.timer]) {
    if (!made.has(name) && (await readTextIfExists(path.join(dir, name))) !== undefined) left.push(name);
  }
  await warnServeLeftover(dir, schedule, made, io);
  if (left.length === 0) return;
  const active = left.filter((name) => name.endsWith('.timer') || names.daemon.includes(name));
  const why = left.some((name) => names.daemon.includes(name) !== (mode === 'daemon'))
    ? `from an earlier install in ${mode === 'timer' ? 'daemon' : 'timer'} mode: with both, two runners would start each night`
    : 'from an earlier install: this machine no longer sends the report';
  io.err(
    `nightshift: ${dir} still holds ${left.join(', ')} ${why}. Remove them:\n` +
      `  ${active.length ? `systemctl disable --now ${active.join(' ')}; ` : ''}rm ${left.map((n) => path.join(dir, n)).join(' ')}`,
  );
}
