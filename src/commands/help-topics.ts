/** `nightshift help <topic>`: short texts about what several commands share, kept here in one place. */
import { ExitCode, type ExitCodeValue } from '../errors.js';

/** What each exit code means, word for word the README's table (without its backticks); the test holds both to ExitCode. */
export const EXIT_CODE_MEANINGS: readonly { code: ExitCodeValue; meaning: string }[] = [
  { code: ExitCode.ok, meaning: 'all good' },
  { code: ExitCode.buildsFailed, meaning: 'some builds did not succeed: failed, timed out, or canceled one by one (nightshift cancel ID); wait: one it waited for' },
  { code: ExitCode.usage, meaning: 'configuration or usage error (every problem listed)' },
  {
    code: ExitCode.nothingSelected,
    meaning:
      'nothing selected: --only matched no build, an id or glob names no build of the night, no such night, a build with no log yet (log), a night with no builds to retry (retry), no run of the night going on (cancel)',
  },
  {
    code: ExitCode.serviceUnavailable,
    meaning:
      'an outside service (Docker, git remote, S3, SMTP, Redis, a webhook) or the machine itself is unusable: builds not_run because the Docker engine was down, objects not uploaded, a report not delivered, a prune that could not remove everything, the shared queue unreachable (status --all-machines, after showing the manifests), a full disk (the message names the file and where to free space)',
  },
  {
    code: ExitCode.canceled,
    meaning:
      'canceled: run, retry or build stopped by a signal (SIGINT, SIGTERM) or by nightshift cancel without ids before it was done, or every build wait waited for that did not succeed was canceled; nightshift run again goes on where it stopped',
  },
  { code: ExitCode.waitTimedOut, meaning: 'wait --timeout ran out with builds still going; cancel waited 60 s and what it canceled has not ended' },
  { code: ExitCode.bug, meaning: 'a bug in nightshift: please report it with the command you ran' },
];

/** A meaning folded to lines of at most `width` characters, the later ones under the first. */
function fold(text: string, width: number, indent: string): string {
  const lines: string[] = [];
  let line = '';
  for (const word of text.split(' ')) {
    if (line && line.length + 1 + word.length > width) {
      lines.push(line);
      line = word;
    } else line = line ? `${line} ${word}` : word;
  }
  return [...lines, line].join(`\n${indent}`);
}

const exitCodes = ['Exit codes of every command:', '', ...EXIT_CODE_MEANINGS.map(({ code, meaning }) => `  ${String(code).padStart(2)}  ${fold(meaning, 90, '      ')}`)].join(
  '\n',
);

const selectors = `Selectors pick builds by id, in schedules (machines.NAME.builds) and with --only and --skip
(run, plan), --skip (retry), and the ids of log, wait and cancel.

  *        any characters          manywheel_*
  ?        one character           manywheel_3.1?_cpu
  [...]    one of the characters   manywheel_3.1[23]_cpu
  {a,b}    either word             manywheel_3.1{2,3}_cu12*

A build id is the package, then each of its axis values, joined by _ (manywheel_3.12_cu126).
Quote globs so the shell leaves them alone: nightshift log 'manywheel_*'.
nightshift plan --all-machines lists every id; --only with no match exits 3.`;

const templates = `Templates fill in a build's values in matrix.yaml and the schedule (image, command, env,
cache keys, upload.key, pip index paths):

  {package} {id} {date} {machine}   the build's package, id, night and machine
  {python} {cuda} ...               an axis value of the build
  {cuda.tag}                        an attribute of the axis value (axes: cuda: cu126: {tag: ...})
  {cuda.tag|cpu}                    the attribute, or cpu when the value has none
  {file}                            in upload.key: the artifact's file name

nightshift validate checks every template against every cell and names the one that cannot render.`;

const environment = `Environment variables nightshift reads:

  NIGHTSHIFT_CONFIG        the configuration folder (--config)
  NIGHTSHIFT_MACHINE       this machine's name (--machine; default: the host name)
  NIGHTSHIFT_ROOT          the folder of the night folders (--root)
  NIGHTSHIFT_SMTP_URL      where report --send mails (smtp://user:password@host:port)
  NIGHTSHIFT_REDIS_URL     the shared queue's Redis, when the schedule has queue:
  NIGHTSHIFT_SERVE_TOKEN   the token of nightshift serve's pages
  NIGHTSHIFT_SLACK_WEBHOOK, NIGHTSHIFT_MATTERMOST_WEBHOOK   webhook URLs the report posts to
  NIGHTSHIFT_ENV_FILE      the file holding these secrets (default /etc/nightshift/env)
  NIGHTSHIFT_HOST_CONTAINMENT=process-group   host builds without a PID namespace
  AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_REGION   the S3 destination

A build gets NIGHTSHIFT_BUILD_ID, NIGHTSHIFT_PACKAGE, NIGHTSHIFT_DATE, NIGHTSHIFT_MACHINE,
NIGHTSHIFT_<AXIS> (NIGHTSHIFT_PYTHON=3.12), NIGHTSHIFT_RECIPES, NIGHTSHIFT_OUT and NIGHTSHIFT_CACHE.`;

const files = `Files nightshift reads and writes:

  CONFIG/matrix.yaml                 the axes, packages, exclude/include (--config, NIGHTSHIFT_CONFIG)
  CONFIG/schedules/NAME.yaml         when, which machines, root, upload, report (--schedule)
  ROOT/YYYY_MM_DD/                   one night (--root, NIGHTSHIFT_ROOT; --date picks it)
  ROOT/YYYY_MM_DD/night.json         every build's status, exit code, times; read by status, log, wait
  ROOT/YYYY_MM_DD/logs/              running/ID.log while a build runs, then succeeded/ or failed/
  ROOT/YYYY_MM_DD/artifacts/ID/      what each build wrote to /out
  ROOT/YYYY_MM_DD/recipes/           the night's clone of the recipes
  ROOT/history.json                  past durations, for the plan's estimates
  /etc/nightshift/env                secrets for the units and cron jobs install writes (mode 600)`;

/** Every topic with its one-line summary and text, in the order `nightshift help` lists them. */
export const HELP_TOPICS: readonly { name: string; summary: string; text: string }[] = [
  { name: 'exit-codes', summary: 'what each exit code means', text: exitCodes },
  { name: 'selectors', summary: 'globs over build ids: --only, --skip, log, wait, cancel, schedules', text: selectors },
  { name: 'templates', summary: '{package}, {id}, axes and their attributes in the configuration', text: templates },
  { name: 'environment', summary: 'the environment variables nightshift reads and gives builds', text: environment },
  { name: 'files', summary: 'the configuration files and what a night folder holds', text: files },
];

export function helpTopic(name: string): string | undefined {
  return HELP_TOPICS.find((topic) => topic.name === name)?.text;
}
