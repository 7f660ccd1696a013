#!/usr/bin/env node
/**
 * The commands table. This is the only place that prints errors and decides exit codes: commands
 * return an exit code or throw a NightshiftError; anything else is a bug (exit 70).
 */
import { readFileSync, realpathSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Command, CommanderError, Option } from 'commander';
import { loadSchedule, type GlobalOptions } from './context.js';
import { guardProcessOutput, processIo, type Io } from './output/io.js';
import { ExitCode, NightshiftError } from './errors.js';
import { diskFullError, isDiskFull, mountPointOf } from './files.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface CommandSpec {
  name: string;
  summary: string;
  arguments?: string;
  options?: (command: Command) => Command;
  run: (options: GlobalOptions & Record<string, unknown>, args: string[], io: Io) => Promise<number>;
}

const selectOptions = (command: Command) =>
  command
    .option('--only <glob>', 'only builds whose id matches (globs with {a,b}; repeatable)', collect)
    .option('--skip <glob>', 'leave out builds whose id matches (repeatable)', collect);

const commands: CommandSpec[] = [
  {
    name: 'validate',
    summary: 'check matrix.yaml and the schedules; list every problem at once',
    options: (command) => command.option('--json', 'print JSON: {ok, problems: [{file, line, col, path, message}], matrix, schedules}'),
    run: async (options, _args, io) => (await import('./commands/validate.js')).validate(options, io),
  },
  {
    name: 'plan',
    summary: 'show which machine builds which cell, in start order',
    options: (command) =>
      selectOptions(command)
        .option('--all-machines', 'show every machine (default: this one)')
        .option('--json', 'print JSON: machines with slots and start order, builds with every axis'),
    run: async (options, _args, io) => (await import('./commands/plan.js')).plan(options, io),
  },
  {
    name: 'run',
    summary: "run this machine's night: clone the recipes, run its builds in slots, record the results",
    options: (command) =>
      selectOptions(command)
        .option('--force', 'rebuild builds that already succeeded tonight')
        .option('--refresh-recipes', "clone the recipes again instead of reusing this night's clone")
        .option('--dry-run', 'print what would run and write nothing'),
    run: async (options, _args, io) => (await import('./commands/run.js')).run(options, io),
  },
  {
    name: 'retry',
    summary: "run again the builds of this machine's night that failed, timed out, were canceled or not run",
    options: (command) =>
      command
        .option('--skip <glob>', 'leave out builds whose id matches (repeatable)', collect)
        .option('--refresh-recipes', "clone the recipes again instead of reusing this night's clone")
        .option('--dry-run', 'print what would run and write nothing'),
    run: async (options, _args, io) => (await import('./commands/run.js')).retry(options, io),
  },
  {
    name: 'build',
    arguments: '<package> [pythons] [cudas]',
    summary: 'build by hand: comma lists build every combination (- for an axis the package does not use)',
    options: (command) =>
      command
        .option('--axis <name=values>', 'values of another axis, e.g. --axis abi=cxx11-abi (repeatable)', collect)
        .option('--set <axis.attribute=value>', 'an attribute for values matrix.yaml does not list, e.g. --set cuda.version=13.0 (repeatable)', collect)
        .option('--slots <n>', 'builds at once (default 1, showing the log live)')
        .option('--upload', "publish the results like the night's run does; builds outside this machine's share go under manual/ (default: keep them local)")
        .option('--refresh-recipes', "clone the recipes again instead of reusing this night's clone")
        .option('--keep', "leave a failed docker build's container running for docker exec (labelled; nightshift prune removes it)")
        .option('--json', 'print JSON at the end: the builds with status, duration, log and artifacts (the live log goes to stderr)'),
    run: async (options, args, io) => (await import('./commands/build.js')).build(options, args, io),
  },
  {
    name: 'shell',
    arguments: '<id>',
    summary: 'debug a build: a shell in its image with its environment, recipes, cache and /out (a host build: in its work folder)',
    options: (command) => command.option('--command <cmd>', 'run this with sh -c instead of an interactive shell'),
    run: async (options, args, io) => (await import('./commands/shell.js')).shell(options, args, io),
  },
  {
    name: 'upload',
    summary: "publish a night's successes, logs and manifest; only what the destination lacks is sent",
    options: (command) => command.option('--json', 'print JSON: {to, uploaded, skipped, bytes, failed: [{key, error}], manifest}'),
    run: async (options, _args, io) => (await import('./commands/upload.js')).upload(options, io),
  },
  {
    name: 'status',
    summary: 'every build of a night: status, duration, exit code, reason',
    options: (command) =>
      command
        .option('--json', 'print JSON: {date, machine, builds: [{id, status, exit_code, duration_s, log}]}')
        .option('--all-machines', "every machine's builds, from the manifests at the destination"),
    run: async (options, _args, io) => (await import('./commands/status.js')).status(options, io),
  },
  {
    name: 'log',
    arguments: '<id>',
    summary: "print a build's log wherever it is (a glob like 'manywheel_*' prints each matching build's)",
    options: (command) => command.option('-f, --follow', 'keep printing until the build ends; exit with its result'),
    run: async (options, args, io) => (await import('./commands/log.js')).log(options, args, io),
  },
  {
    name: 'wait',
    arguments: '[ids...]',
    summary: 'block until the builds (default: all of the night) end; exit 0 if all succeeded',
    options: (command) =>
      command
        .option('--timeout <duration>', 'give up after this long (e.g. 30m), exit 6')
        .option('--json', 'print JSON at the end: {ended, builds: [{id, status, duration_s, reason}]} (the lines as builds end go to stderr)'),
    run: async (options, args, io) => (await import('./commands/wait.js')).wait(options, args, io),
  },
  {
    name: 'cancel',
    arguments: '[ids...]',
    summary: "stop the night's run (no ids), or only the builds named (ids or globs); waits until they have ended",
    run: async (options, args, io) => (await import('./commands/cancel.js')).cancel(options, args, io),
  },
  {
    name: 'report',
    summary: 'the morning report of a night across the fleet: written to the night folder, mailed with --send',
    options: (command) =>
      command
        .option('--print', 'print the text version and send nothing')
        .option('--send', 'mail it to report.to and post it to report.webhooks (once per night each)')
        .option('--resend', 'mail and post it again although it went')
        .option('--json', 'print JSON: the report (counts, machines, cells with streaks) and what was sent (the text of --print goes to stderr)'),
    run: async (options, _args, io) => (await import('./commands/report.js')).report(options, io),
  },
  {
    name: 'prune',
    summary: 'remove night folders older than keep_days, and leftover containers of this machine',
    options: (command) =>
      command
        .option('--keep-days <n>', "nights to keep, tonight included (default: the schedule's keep_days)")
        .option('--dry-run', 'print what would be removed and remove nothing')
        .option('--json', 'print JSON: nights removed and kept, containers removed, caches trimmed, bytes freed'),
    run: async (options, _args, io) => (await import('./commands/prune.js')).prune(options, io),
  },
  {
    name: 'daemon',
    summary: 'run the nights and the morning report on schedule, in the foreground; SIGTERM stops, SIGHUP reloads',
    options: (command) =>
      command.addOption(new Option('--log-format <format>', 'one line per event on stdout: text, or json (one object per line)').choices(['text', 'json']).default('text')),
    run: async (options, _args, io) => (await import('./commands/daemon.js')).daemon(options, io),
  },
  {
    name: 'serve',
    summary: "a read-only web page of the night, live: the builds' grid, each build's log as it is written",
    options: (command) =>
      command
        .option('--listen <host:port>', 'where to listen (port 0: any free port); beyond 127.0.0.1 a token is required', '127.0.0.1:8080')
        .option(
          '--token <token>',
          'the token every page needs; better set NIGHTSHIFT_SERVE_TOKEN (environment or /etc/nightshift/env): others on this machine can read --token in ps',
        ),
    run: async (options, _args, io) => (await import('./commands/serve.js')).serve(options, io),
  },
  {
    name: 'install',
    arguments: '<kind>',
    summary: 'print (or --write) what starts the nights on this machine: systemd units (install systemd) or a cron.d file (install cron)',
    options: (command) =>
      command
        .addOption(
          new Option('--mode <mode>', 'systemd only: timer (oneshot services started by timers, the default) or daemon (one long-running service)').choices(['timer', 'daemon']),
        )
        .option('--write', 'install the files (into /etc/systemd/system or /etc/cron.d) instead of printing them')
        .option('--dir <dir>', 'the folder to write into instead (to try it out, or for tests)')
        .option('--user <user>', 'the user the nights run as (default root); it needs Docker and write access to the root folder')
        .option('--serve', 'systemd only: also nightshift-serve.service, running nightshift serve (its token from NIGHTSHIFT_SERVE_TOKEN in /etc/nightshift/env)')
        .option('--listen <host:port>', 'with --serve: where the server listens (default 127.0.0.1:8080)')
        .option('--remove', "remove what an install of this schedule wrote (with the server's unit) instead; with --write, removes the files"),
    run: async (options, args, io) => (await import('./commands/install.js')).install(options, args, io),
  },
];

function program(io: Io): Command {
  const root = new Command('nightshift')
    .description('Runs a nightly build matrix on a fleet of build machines.')
    .version(version(), '-V, --version')
    .addOption(new Option('--config <dir>', 'folder holding matrix.yaml and schedules/').env('NIGHTSHIFT_CONFIG').default('.'))
    .addOption(new Option('--schedule <name>', 'schedule in schedules/ (default: the only one, else nightly)'))
    .addOption(new Option('--machine <name>', "this machine's name (default: the host name)").env('NIGHTSHIFT_MACHINE'))
    .addOption(new Option('--root <dir>', "folder of the night folders (overrides the schedule's root)").env('NIGHTSHIFT_ROOT'))
    .addOption(new Option('--date <date>', "the night, YYYY_MM_DD or YYYY-MM-DD (default: today in the schedule's time zone)"))
    .configureHelp({ showGlobalOptions: true, sortSubcommands: false })
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .exitOverride()
    .showSuggestionAfterError();
  for (const spec of commands) {
    const command = root.command(spec.name + (spec.arguments ? ` ${spec.arguments}` : '')).description(spec.summary);
    spec.options?.(command);
    command.action(async (...received: unknown[]) => {
      const self = received.at(-1) as Command;
      const args = (self.processedArgs as unknown[]).flat().filter((arg): arg is string => typeof arg === 'string');
      const status = await spec.run(self.optsWithGlobals(), args, io);
      root.setOptionValue('__status', status);
    });
  }
  return root;
}

/** Runs nightshift with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const root = program(io);
  try {
    if (argv.length === 0) {
      root.outputHelp();
      return ExitCode.usage;
    }
    await root.parseAsync(argv, { from: 'user' });
    return (root.getOptionValue('__status') as number | undefined) ?? ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    if (error instanceof NightshiftError) {
      io.err(error.plain ? error.message : `nightshift: ${error.message}`);
      return error.exitCode;
    }
    if (isDiskFull(error)) {
      // A full disk is the machine's trouble, not a bug: say where, without a stack.
      io.err(`nightshift: ${await diskFullMessage(error as NodeJS.ErrnoException, root.opts<GlobalOptions>())}`);
      return ExitCode.serviceUnavailable;
    }
    io.err(`nightshift: internal error, please report it with the command you ran:\n${(error as Error | null | undefined)?.stack ?? String(error)}`);
    return ExitCode.bug;
  }
}

/** The file that could not be written, else the schedule's root (the error of a plain write names no file). */
async function diskFullMessage(error: NodeJS.ErrnoException, options: GlobalOptions): Promise<string> {
  if (error.path) return diskFullError(error.path).message;
  const where = await loadSchedule(options).then(
    ({ schedule }) => schedule.root,
    () => undefined,
  );
  if (where === undefined) return `no space left on device (${error.message})`;
  return `could not write under ${where}: no space left on device: free space under ${mountPointOf(where)}`;
}

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

const invokedDirectly = process.argv[1] !== undefined && realpathSync(process.argv[1]) === realpathSync(fileURLToPath(import.meta.url));
if (invokedDirectly) {
  // `nightshift run | head -1`: the reader going away must not end the night (EPIPE is dropped).
  guardProcessOutput();
  process.exitCode = await main(process.argv.slice(2));
}
