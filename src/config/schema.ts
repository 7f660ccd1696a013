/**
 * The shape of `matrix.yaml` and `schedules/*.yaml`, as users write it. Checks that need more than one
 * field (templates, selectors, include/exclude) are named rules in rules.ts; this file only says what each
 * key may hold, so that it can also be exported as a JSON Schema for editors (schema/).
 */
import * as z from 'zod';
import cron from 'node-cron';
import { parseDuration, parseSize } from '../units.js';
import { didYouMean } from './did-you-mean.js';
import { CRON_EXAMPLE, cronProblem } from './cron-problem.js';
import { gitRefProblem } from './git-ref.js';
import { MAX_KEEP_DAYS } from './model.js';
import { MIN_LEASE_S, REDIS_URL_VAR, redisUrlProblem } from './queue-url.js';

/** Names that end up in build ids, file names, container names and S3 keys. */
const ID_PART = /^[A-Za-z0-9](?:[A-Za-z0-9.+-]*[A-Za-z0-9+])?$/;
const idPartMessage = (what: string) => (issue: { input?: unknown }) =>
  `${JSON.stringify(issue.input)} cannot be used as ${what}: use letters, digits, ".", "+" and "-" ` +
  `(no "_", which separates the parts of a build id, no "/", "..", spaces or shell characters)`;

export const idPart = (what: string) =>
  z
    .string()
    // abort: ".." fails both checks; one message is enough.
    .regex(ID_PART, { error: idPartMessage(what), abort: true })
    .refine((text) => !text.includes('..'), { error: idPartMessage(what) });

const AXIS_NAME = /^[a-z][a-z0-9]*$/;
export const axisName = z.string().regex(AXIS_NAME, { error: 'axis names are lower-case letters and digits, starting with a letter (they become NIGHTSHIFT_<AXIS> variables)' });

// A bare number is refused: 90 could mean seconds or minutes.
export const duration = z.string({ error: durationMessage }).refine((text) => parseDuration(text) !== undefined, {
  error: durationMessage,
});
function durationMessage(issue: { input?: unknown }): string {
  const hint = typeof issue.input === 'number' ? `; add a unit: ${issue.input}m or ${issue.input}s` : '';
  return `expected a duration like 90m or 4h, got ${JSON.stringify(issue.input)}${hint}`;
}

export const size = z.string({ error: sizeMessage }).refine((text) => parseSize(text) !== undefined, {
  error: sizeMessage,
});
function sizeMessage(issue: { input?: unknown }): string {
  return `expected a size like 512m or 32g, got ${JSON.stringify(issue.input)}`;
}

const scalar = z.union([z.string(), z.number(), z.boolean()]);

/** `cu126` or `{ value: cu126, version: "12.6", image_tag: cuda12.6 }`. */
export const axisValue = z.union([
  idPart('an axis value'),
  z
    .strictObject({ value: idPart('an axis value') })
    .catchall(scalar)
    .describe('a value with attributes, usable in templates as {axis.attribute}'),
]);

export const command = z
  .array(z.string(), {
    error: (issue) =>
      typeof issue.input === 'string'
        ? `expected an argv list like ["bash", "build.sh"], got the string ${JSON.stringify(issue.input)}; nightshift never runs a shell string`
        : undefined,
  })
  .min(1, { error: 'a command needs at least the program to run, like ["bash", "build.sh"]' });

const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, { error: 'environment variable names are letters, digits and "_"' });
export const env = z.record(envName, scalar);

/** A regular expression (JavaScript syntax), checked when the config is read rather than at 3 a.m. */
const logPattern = z
  .string()
  .min(1, { error: 'a log pattern cannot be empty' })
  .refine((text) => regexError(text) === undefined, {
    error: (issue) => `not a regular expression: ${regexError(String(issue.input))!}`,
  });
function regexError(text: string): string | undefined {
  try {
    new RegExp(text);
    return undefined;
  } catch (error) {
    return (error as Error).message;
  }
}

export const retrySchema = z
  .strictObject({
    attempts: z.number().int().min(2, { error: 'attempts counts the first run too: 2 or more' }).max(10).describe('runs in all, the first included (2 = one retry)'),
    on: z
      .array(z.union([z.number().int().min(1).max(255), logPattern]))
      .min(1, { error: 'name what is retried: exit codes (like 137) or log patterns (like "Connection reset")' })
      .describe("exit codes (137: killed, e.g. out of memory) or regular expressions matched against the failed attempt's log"),
  })
  .describe('retry a transient failure: only the exit codes and log patterns named in `on`');

const executors = ['docker', 'host'] as const;
const artifactModes = ['required', 'optional'] as const;

export const packageSchema = z.strictObject({
  executor: z.enum(executors).default('docker').describe('docker (default) or host: run on the machine itself'),
  image: z.string().min(1).optional().describe('Docker image; templates like {cuda.image_tag|cpu} allowed'),
  command: command.describe('argv list, run inside the container (or on the host) with the recipes at /recipes'),
  timeout: duration.default('4h').describe('a build running longer is killed and marked timed_out'),
  estimate: duration.default('30m').describe('expected duration, used to balance machines before history exists'),
  axes: z.record(axisName, z.array(axisValue)).default({}).describe('per-package axes: [] = axis not used, a list replaces the values, new axes are allowed'),
  resources: z
    .strictObject({
      memory: size.optional(),
      cpus: z.number().positive().optional(),
      gpus: z.union([z.number().int().nonnegative(), z.literal('all')]).optional(),
    })
    .default({}),
  artifacts: z.enum(artifactModes).default('required').describe("'optional' accepts a build that writes no file"),
  network: z
    .string()
    .regex(/^[A-Za-z0-9][A-Za-z0-9_.-]*$/, { error: 'expected a Docker network name like none, host or bridge' })
    .optional()
    .describe("Docker network of the build container, e.g. none for hermetic builds (default: Docker's)"),
  env: env.default({}),
  cache: z
    .strictObject({
      key: z.string().min(1).describe('folder name under <root>/cache, a template like "{package}-{cuda}": builds with the same key share the folder'),
      path: z
        .string()
        .min(1)
        .optional()
        .describe('docker: absolute path inside the container where the cache is mounted, like /cache (host builds: leave out, NIGHTSHIFT_CACHE names the folder)'),
    })
    .optional()
    .describe('a persistent build cache (ccache, sccache, pip ...) kept across nights: { key, path }'),
  retry: retrySchema.optional(),
});

// Axis values are text: an unquoted 3.10 would be the number 3.1 and silently match nothing.
const excludeEntry = z.record(z.string(), z.string());

export const matrixSchema = z.strictObject({
  recipes: z
    .strictObject({
      repo: z.string().min(1).describe('git URL of the build recipes, cloned fresh into every night folder'),
      ref: z
        .string()
        .min(1)
        .default('main')
        .superRefine((ref, ctx) => {
          const why = gitRefProblem(ref);
          if (why) ctx.addIssue({ code: 'custom', message: `git cannot fetch the ref ${JSON.stringify(ref)}: ${why}; give a branch, tag or commit name, like ref: main` });
        }),
    })
    .describe('the git repository of build scripts: { repo: URL, ref: branch }'),
  axes: z.record(axisName, z.array(axisValue).min(1, { error: 'an axis needs at least one value' })).describe('order of keys = order in build ids'),
  packages: z.record(idPart('a package name'), packageSchema).describe('package name to { image, command, ... }'),
  env: env.default({}).describe('environment of every build; templates allowed'),
  exclude: z.array(excludeEntry).default([]).describe('cells to leave out (GitHub Actions semantics)'),
  include: z
    // An include may bring a new value, which ends up in a build id like any other: same rules.
    .array(z.record(z.string(), axisValue))
    .default([])
    .describe('extra cells (GitHub Actions semantics)'),
});

const timeZones = new Set(Intl.supportedValuesOf('timeZone'));
export const timeZone = z.string().refine((zone) => zone === 'UTC' || timeZones.has(zone) || isTimeZone(zone), {
  error: (issue) => `unknown time zone ${JSON.stringify(issue.input)}${didYouMean(String(issue.input), timeZones)}`,
});
function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

export const cronExpression = z.string().refine((text) => cron.validate(text), {
  error: (issue) => {
    const given = JSON.stringify(issue.input);
    const text = typeof issue.input === 'string' ? issue.input : '';
    const problem = cronProblem(text);
    if (problem) return `${problem} in ${given}; a cron expression is like ${CRON_EXAMPLE}`;
    const fields = text.trim().split(/\s+/).filter(Boolean).length;
    const count = fields !== 5 && fields !== 6 ? ` (${fields} field${fields === 1 ? '' : 's'}, not 5)` : '';
    return `expected a cron expression like ${CRON_EXAMPLE}, got ${given}${count}`;
  },
});

const destination = z.string().regex(/^(s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]|file:\/\/\/)/, {
  error: (issue) => `expected s3://bucket/prefix or file:///absolute/path, got ${JSON.stringify(issue.input)}`,
});

const email = z.string().regex(/^[^\s@<>]+@[^\s@<>]+$/, {
  error: (issue) => `expected an email address, got ${JSON.stringify(issue.input)}`,
});

export const machineSchema = z.strictObject({
  slots: z.number().int().min(1).default(1).describe('how many builds run at once'),
  memory: size.optional().describe("memory budget: running builds' resources.memory never add up to more (default: the machine's memory minus 10 %, at least 2g)"),
  cpus: z.number().positive().optional().describe("cpu budget: running builds' resources.cpus never add up to more (default: not limited)"),
  gpus: z.number().int().nonnegative().optional().describe("gpu budget: running builds' resources.gpus never add up to more (default: not limited)"),
  builds: z
    .array(z.string().min(1))
    .min(1, { error: 'list at least one glob, or remove builds: so that the machine shares the unassigned cells' })
    .optional()
    .describe('globs over build ids this machine builds; without it the machine shares the unassigned cells'),
});

export const queueSchema = z
  .strictObject({
    url: z
      .string()
      .superRefine((url, ctx) => {
        const problem = redisUrlProblem(url, 'refused');
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .describe(`redis://host:port/db (rediss:// for TLS), without credentials: ${REDIS_URL_VAR} overrides it and holds the password`),
    lease: duration
      .refine((text) => (parseDuration(text) ?? MIN_LEASE_S) >= MIN_LEASE_S, {
        error: (issue) => `expected a lease of at least ${MIN_LEASE_S}s, got ${JSON.stringify(issue.input)}; a shorter one would let a busy machine lose its builds`,
      })
      .default('2m')
      .describe('a build whose machine stops renewing it for this long is taken over by another machine (at least 10s)'),
    wait_at_start: duration.default('15m').describe("how long a night's start waits for a Redis it cannot reach (restarting, a network blip) before giving up with exit 4"),
  })
  .describe('machines share the night through one queue on Redis: { url, lease, wait_at_start }');

export const scheduleSchema = z.strictObject({
  cron: cronExpression.describe('when the night starts, in the schedule time zone'),
  timezone: timeZone.default('UTC'),
  root: z.string().min(1).default('/var/lib/nightshift').describe('night folders live here; relative to the config folder'),
  keep_days: z
    .number()
    .int()
    .min(1)
    // A bound keeps prune's cut-off a real date (a huge number once made it NaN_NaN_NaN and removed every night).
    .max(MAX_KEEP_DAYS, { error: (issue) => `expected at most ${MAX_KEEP_DAYS} nights (ten years), got ${String(issue.input)}; write ${MAX_KEEP_DAYS} or less` })
    .default(5),
  min_free: size.optional().describe('free space needed under root before a night starts'),
  cache_size: size.default('50g').describe('total cap of the package caches under <root>/cache: prune removes the least recently used caches beyond it'),
  missed_grace: duration
    .default('6h')
    .describe('nightshift daemon: a night whose time passed while the machine was down (or without a trigger) still starts up to this long after its time'),
  machines: z
    .record(idPart('a machine name'), machineSchema)
    .refine((machines) => Object.keys(machines).length > 0, { error: 'list at least one machine' })
    .describe('machine name to { slots, builds, memory, cpus, gpus }'),
  upload: z
    .strictObject({
      to: destination.describe('s3://bucket/prefix or file:///path; {date} allowed'),
      key: z.string().min(1).default('{id}/{file}').describe('object key template: {date} {machine} {id} {package} {file} and axes'),
      region: z.string().min(1).optional().describe('S3 region (default: from the AWS environment, else us-east-1)'),
      endpoint: z
        .string()
        .regex(/^https?:\/\/[^\s/]+/, { error: (issue) => `expected an http(s) URL like https://minio.example.com:9000, got ${JSON.stringify(issue.input)}` })
        .optional()
        .describe('S3-compatible store (MinIO, Ceph, R2, ...): its URL'),
      path_style: z.boolean().optional().describe('bucket in the path, not the host name (default: true with an endpoint)'),
      attempts: z.number().int().min(1).max(20).default(5).describe('tries per object on transient errors (5xx, resets, timeouts), with backoff'),
      index: z
        .strictObject({
          path: z
            .string()
            .min(1)
            .refine((text) => !text.startsWith('/') && !text.split('/').some((part) => part === '..' || part === '.'), {
              error: (issue) => `expected a relative path under the destination root like "whl/nightly/{cuda}", got ${JSON.stringify(issue.input)}`,
            })
            .describe("the channel's folder under the destination root: {package}, {id} and axes; its PEP 503 index is <path>/simple/"),
          keep_days: z
            .number()
            .int()
            .min(1)
            .max(MAX_KEEP_DAYS, { error: (issue) => `expected at most ${MAX_KEEP_DAYS} nights (ten years), got ${String(issue.input)}; write ${MAX_KEEP_DAYS} or less` })
            .default(30)
            .describe('wheels of the newest this many nights stay in the index'),
        })
        .optional()
        .describe('a pip nightly channel: a PEP 503 simple index per rendered path, rebuilt after each upload'),
    })
    .optional()
    .describe('where successes go (default: file://<root>/published, a local folder)'),
  report: z
    .strictObject({
      cron: cronExpression,
      machine: z.string().optional().describe('the one machine that sends it (default: the first listed)'),
      to: z.array(email).default([]),
      from: email.optional(),
      when: z.enum(['always', 'failures']).default('always').describe('failures: no mail for an all-green night'),
      log_url: z
        .string()
        .regex(/^https?:\/\/.*\{key\}/, { error: "expected an http(s) URL with {key} where the log's key goes, like https://nightlies.example.com/{key}" })
        .optional()
        .describe('makes log keys links in the report: the URL of the destination root with {key}'),
      serve_url: z
        .string()
        .regex(/^https?:\/\/[^\s/?#@]+(?:\/[^\s?#]*)?$/, {
          error: "expected an http(s) URL of the machines' `nightshift serve` pages, with {machine} where the machine's name goes, like http://{machine}.example.com:8080",
        })
        .optional()
        .describe("links each failure to its build's page on `nightshift serve` when there is no log_url: the server's URL, {machine} for the machine's name"),
      webhooks: z
        .array(
          z.string().superRefine((name, ctx) => {
            // A webhook URL is its own secret (whoever has it can post): never echoed, never kept in the file.
            if (/[:/]/.test(name)) {
              ctx.addIssue({
                code: 'custom',
                message:
                  'a webhook URL is a secret and does not belong in the schedule: put it in the environment or in /etc/nightshift/env (mode 600), ' +
                  'e.g. NIGHTSHIFT_SLACK_WEBHOOK=https://hooks.slack.com/services/..., and list the variable here: webhooks: [NIGHTSHIFT_SLACK_WEBHOOK]',
              });
            } else if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) {
              ctx.addIssue({
                code: 'custom',
                message: `expected the name of an environment variable holding a webhook URL, like NIGHTSHIFT_SLACK_WEBHOOK, got ${JSON.stringify(name)}`,
              });
            }
          }),
        )
        .default([])
        .describe('names of environment variables (or /etc/nightshift/env entries) holding Slack or Mattermost incoming webhook URLs: the summary is posted to each'),
    })
    .optional(),
  queue: queueSchema.optional(),
});

export type MatrixInput = z.output<typeof matrixSchema>;
export type PackageInput = z.output<typeof packageSchema>;
export type ScheduleInput = z.output<typeof scheduleSchema>;
export type AxisValueInput = z.output<typeof axisValue>;
