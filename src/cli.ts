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
import { HELP_TOPICS, helpTopic } from './commands/help-topics.js';
import { didYouMean } from './config/did-you-mean.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

interface CommandSpec {
  name: string;
  summary: string;
  arguments?: string;
  /** A few real command lines, shown at the end of --help. */
  examples?: string[];
  hidden?: boolean;
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
    examples: ['nightshift plan', 'nightshift plan --all-machines --date 2026_11_22', "nightshift plan --only 'manywheel_3.1{2,3}_*' --json"],
    summary: 'show which machine builds which cell, in start order',
    options: (command) =>
      selectOptions(command)
        .option('--all-machines', 'show every machine (default: this one)')
        .option('--json', 'print JSON: machines with slots and start order, builds with every axis'),
    run: async (options, _args, io) => (await import('./commands/plan.js')).plan(options, io),
  },
  {
    name: 'run',
    examples: ['nightshift run', "nightshift run --only 'manywheel_*' --dry-run", 'nightshift run --date 2026_11_22 --force'],
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
    examples: ['nightshift retry', "nightshift retry --skip 'libtorch_*' --date 2026_11_22"],
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
    examples: ['nightshift build manywheel 3.12 cu126', 'nightshift build manywheel 3.12,3.13 cpu,cu126 --slots 2', 'nightshift build libtorch - cu126 --axis abi=cxx11-abi'],
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
    examples: ['nightshift status', 'nightshift status --date 2026_11_22 --json', 'nightshift status --all-machines'],
    summary: 'every build of a night: status, duration, exit code, reason',
    options: (command) =>
      command
        .option('--json', 'print JSON: {date, machine, builds: [{id, status, exit_code, duration_s, log}]}')
        .option('--all-machines', "every machine's builds, from the manifests at the destination"),
    run: async (options, _args, io) => (await import('./commands/status.js')).status(options, io),
  },
  {
    name: 'log',
    examples: [
      'nightshift log manywheel_3.12_cu126',
      'nightshift log -f manywheel_3.12_cu126',
      "nightshift log 'manywheel_*' --date 2026_11_22",
      'nightshift log manywheel_3.12_cu126 --attempt 1',
    ],
    arguments: '<id>',
    summary: "print a build's log wherever it is (a glob like 'manywheel_*' prints each matching build's)",
    options: (command) =>
      command
        .option('-f, --follow', 'keep printing until the build ends; exit with its result')
        .option('--attempt <n>', "an earlier attempt's log (kept when the build started again: a retry, a rerun), 1 for the first"),
    run: async (options, args, io) => (await import('./commands/log.js')).log(options, args, io),
  },
  {
    name: 'wait',
    examples: ['nightshift wait', "nightshift wait 'manywheel_3.12_*' --timeout 30m", 'nightshift wait --json > ended.json'],
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
    examples: ['nightshift cancel', "nightshift cancel manywheel_3.12_cu126 'libtorch_*'"],
    arguments: '[ids...]',
    summary: "stop the night's run (no ids), or only the builds named (ids or globs); waits until they have ended",
    run: async (options, args, io) => (await import('./commands/cancel.js')).cancel(options, args, io),
  },
  {
    name: 'report',
    examples: ['nightshift report --print', 'nightshift report --send', 'nightshift report --date 2026_11_22 --resend'],
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
    examples: ['nightshift serve', 'NIGHTSHIFT_SERVE_TOKEN=... nightshift serve --listen 0.0.0.0:8080'],
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
    examples: ['nightshift install systemd', 'sudo nightshift install systemd --serve --write', 'sudo nightshift install cron --user nightshift --write'],
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

/** The options that pick the configuration, the machine and the night; each command takes only those it reads. */
const GLOBAL_OPTIONS = {
  config: () => new Option('--config <dir>', 'folder holding matrix.yaml and schedules/').env('NIGHTSHIFT_CONFIG').default('.'),
  schedule: () => new Option('--schedule <name>', 'schedule in schedules/ (default: the only one, else nightly)'),
  machine: () => new Option('--machine <name>', "this machine's name (default: the host name)").env('NIGHTSHIFT_MACHINE'),
  root: () => new Option('--root <dir>', "folder of the night folders (overrides the schedule's root)").env('NIGHTSHIFT_ROOT'),
  date: () => new Option('--date <date>', "the night, YYYY_MM_DD or YYYY-MM-DD (default: today in the schedule's time zone)"),
};
type GlobalName = keyof typeof GLOBAL_OPTIONS;
const ALL_GLOBALS = Object.keys(GLOBAL_OPTIONS) as GlobalName[];

/**
 * Which global options each command takes (a command not listed takes them all). Given to any other
 * command, one is refused as an unknown option, and --help lists only these.
 */
const READ_A_NIGHT: GlobalName[] = ['config', 'schedule', 'root', 'date'];
const GLOBALS_OF_COMMAND: Record<string, GlobalName[]> = {
  validate: ['config', 'schedule'],
  // The daemon and the server follow the clock; install writes what starts the nights at their time.
  daemon: ['config', 'schedule', 'machine', 'root'],
  serve: ['config', 'schedule', 'machine', 'root'],
  install: ['config', 'schedule', 'machine', 'root'],
  // These read a night folder, whose night.json names the machine that ran it.
  status: READ_A_NIGHT,
  log: READ_A_NIGHT,
  wait: READ_A_NIGHT,
  cancel: READ_A_NIGHT,
  upload: READ_A_NIGHT,
  shell: READ_A_NIGHT,
  completion: [],
  help: [],
  __complete: ['config', 'schedule', 'root', 'date'],
};
const globalsOf = (name: string): GlobalName[] => GLOBALS_OF_COMMAND[name] ?? ALL_GLOBALS;

/**
 * Who and where this machine is: given before the command name (an alias like `nightshift --config /etc/nightshift
 * --machine build-01`), they apply to the commands that use them and are passed over by the others, as
 * NIGHTSHIFT_MACHINE and NIGHTSHIFT_ROOT are. After the command name, a command takes only its own.
 */
const AMBIENT: readonly GlobalName[] = ['machine', 'root'];

/** The global options given before the command name, moved after it, so that the command checks them. */
export function globalsAfterCommand(argv: string[]): string[] {
  const leading: [name: GlobalName, words: string[]][] = [];
  let at = 0;
  while (at < argv.length) {
    const name = /^--([a-z]+)(=|$)/.exec(argv[at]!)?.[1];
    if (name === undefined || !(name in GLOBAL_OPTIONS)) break;
    const inline = argv[at]!.includes('=');
    leading.push([name as GlobalName, argv.slice(at, inline ? at + 1 : at + 2)]);
    at += inline ? 1 : 2;
  }
  if (leading.length === 0 || at >= argv.length) return argv;
  const takes = globalsOf(argv[at]!);
  const kept = leading.filter(([name]) => takes.includes(name) || !AMBIENT.includes(name)).flatMap(([, words]) => words);
  return [argv[at]!, ...kept, ...argv.slice(at + 1)];
}

const helpCommands: CommandSpec[] = [
  {
    name: 'help',
    arguments: '[topic]',
    summary: `a command's help (nightshift help run), or a topic: ${HELP_TOPICS.map((t) => t.name).join(', ')}`,
    examples: ['nightshift help', 'nightshift help exit-codes', 'nightshift help log'],
    run: () => Promise.resolve(ExitCode.ok), // answered in program(), which knows the commands
  },
  {
    name: 'completion',
    arguments: '<shell>',
    summary: 'print a completion script for bash or zsh: commands, options, build ids, machines, schedules',
    examples: ['source <(nightshift completion bash)', "echo 'source <(nightshift completion bash)' >> ~/.bashrc", 'source <(nightshift completion zsh)'],
    run: () => Promise.resolve(ExitCode.ok), // answered in program(), which knows the commands
  },
  {
    name: '__complete',
    arguments: '<kind>',
    hidden: true,
    summary: 'the words completion offers: ids, machines or schedules',
    run: async (options, [kind], io) => (await import('./commands/completion.js')).completeWords(options, kind!, io),
  },
];

function program(io: Io): Command {
  const root = new Command('nightshift')
    .description('Runs a nightly build matrix on a fleet of build machines.')
    .version(version(), '-V, --version')
    .helpCommand(false)
    .configureHelp({ sortSubcommands: false })
    .configureOutput({ writeOut: (text) => io.out(text.trimEnd()), writeErr: (text) => io.err(text.trimEnd()) })
    .exitOverride()
    .showSuggestionAfterError()
    .addHelpText('after', '\nnightshift help TOPIC: exit-codes, selectors, templates, environment, files. nightshift COMMAND --help: its options.');
  const specs: CommandSpec[] = [...commands, ...helpCommands];
  for (const spec of specs) {
    const command = root.command(spec.name + (spec.arguments ? ` ${spec.arguments}` : ''), { hidden: spec.hidden }).description(spec.summary);
    spec.options?.(command);
    for (const name of globalsOf(spec.name)) command.addOption(GLOBAL_OPTIONS[name]());
    if (spec.examples) command.addHelpText('after', `\nExamples:\n${spec.examples.map((line) => `  ${line}`).join('\n')}`);
    command.action(async (...received: unknown[]) => {
      const self = received.at(-1) as Command;
      const args = (self.processedArgs as unknown[]).flat().filter((arg): arg is string => typeof arg === 'string');
      root.setOptionValue('__options', self.opts());
      const status = spec.name === 'help' ? help(root, args[0], io) : spec.name === 'completion' ? await completion(root, args[0]!, io) : await spec.run(self.opts(), args, io);
      root.setOptionValue('__status', status);
    });
  }
  return root;
}

/** `nightshift help [topic|command]`. */
function help(root: Command, topic: string | undefined, io: Io): number {
  if (topic === undefined) {
    root.outputHelp();
    return ExitCode.ok;
  }
  const command = topic.startsWith('__') ? undefined : root.commands.find((c) => c.name() === topic);
  if (command) {
    command.outputHelp();
    return ExitCode.ok;
  }
  const text = helpTopic(topic);
  if (text === undefined) {
    const names = [...HELP_TOPICS.map((t) => t.name), ...commands.map((c) => c.name)];
    throw new NightshiftError(
      `no help topic "${topic}"${didYouMean(topic, names) || ''}. Topics: ${HELP_TOPICS.map((t) => t.name).join(', ')}, or a command's name`,
      ExitCode.usage,
    );
  }
  io.out(text);
  return ExitCode.ok;
}

/** `nightshift completion SHELL`: the script, built from the commands table so it never falls behind. */
async function completion(root: Command, shell: string, io: Io): Promise<number> {
  const { completionScript } = await import('./commands/completion.js');
  const completed = root.commands
    .filter((c) => !c.name().startsWith('__'))
    .map((c) => ({
      name: c.name(),
      options: [...c.options.map((o) => `${o.long!}${o.required || o.optional ? '=' : ''}`), '--help'],
      argumentWords: argumentWordsOf(c.name()),
    }));
  io.out(completionScript(shell, completed).trimEnd());
  return ExitCode.ok;
}

function argumentWordsOf(name: string): 'ids' | string[] {
  // The commands whose arguments are build ids of the night.
  if (['log', 'wait', 'cancel', 'shell'].includes(name)) return 'ids';
  if (name === 'install') return ['systemd', 'cron'];
  if (name === 'completion') return ['bash', 'zsh'];
  if (name === 'help') return [...HELP_TOPICS.map((t) => t.name), ...commands.map((c) => c.name)];
  return [];
}

/** Runs nightshift with `argv` (without node and the script) and returns the exit code. */
export async function main(argv: string[], io: Io = processIo): Promise<number> {
  const root = program(io);
  const ordered = globalsAfterCommand(argv);
  try {
    if (argv.length === 0) {
      root.outputHelp();
      return ExitCode.usage;
    }
    await root.parseAsync(ordered, { from: 'user' });
    return (root.getOptionValue('__status') as number | undefined) ?? ExitCode.ok;
  } catch (error) {
    if (error instanceof CommanderError) {
      if (error.code === 'commander.unknownOption') explainOptions(root, ordered[0], error.message, io);
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof NightshiftError) {
      io.err(error.plain ? error.message : `nightshift: ${error.message}`);
      return error.exitCode;
    }
    if (isDiskFull(error)) {
      // A full disk is the machine's trouble, not a bug: say where, without a stack.
      io.err(`nightshift: ${await diskFullMessage(error as NodeJS.ErrnoException, (root.getOptionValue('__options') as GlobalOptions | undefined) ?? { config: '.' })}`);
      return ExitCode.serviceUnavailable;
    }
    io.err(`nightshift: internal error, please report it with the command you ran:\n${(error as Error | null | undefined)?.stack ?? String(error)}`);
    return ExitCode.bug;
  }
}

/** Why a command that does not take a global option leaves it out: said when one is given anyway. */
const GLOBAL_NOT_TAKEN: Partial<Record<GlobalName, string>> = {
  date: '--date is for run, status and report (e.g. nightshift run --date 2026_11_22) and the other commands that read one night; validate checks the configuration, daemon, serve and install follow the clock',
  machine:
    "--machine is for the commands that plan, run or report a machine's nights (plan, run, retry, build, report, prune, daemon, serve, install); a night's folder names the machine that ran it, so the commands that read one need no --machine",
  root: '--root is for the commands that read or write the night folders',
};

/** After an unknown option (often a global one the command does not use): the options the command does take. */
function explainOptions(root: Command, name: string | undefined, message: string, io: Io): void {
  const command = root.commands.find((c) => c.name() === name);
  if (!command) return;
  const options = command.options.map((o) => o.long!).join(', ');
  const given = /unknown option '--([a-z]+)/.exec(message)?.[1];
  const takes = `takes ${options || 'no options'} (nightshift ${command.name()} --help)`;
  if (given !== undefined && given in GLOBAL_NOT_TAKEN) io.err(`nightshift ${command.name()}: ${GLOBAL_NOT_TAKEN[given as GlobalName]!}; ${command.name()} ${takes}`);
  else io.err(`nightshift ${command.name()} ${takes}`);
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
