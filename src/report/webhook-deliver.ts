/**
 * The summary to every webhook of `report.webhooks`, once per night each (report.webhooks.json, by
 * variable name): a webhook that got it is skipped unless `resend`, one that failed is tried again by
 * the next `--send`. Each URL comes from its variable in the environment, else from the env file; an
 * unset variable is a warning and the others are still posted.
 */
import { readEnvFileValues } from '../config/env-file.js';
import { ExitCode, NightshiftError } from '../errors.js';
import type { ReportModel } from './model.js';
import { readWebhookRecord, writeWebhookRecord, type WebhookRecord } from './sent-record.js';
import { postWebhook, webhookHost, type PostWebhookOptions } from './webhook-post.js';
import { webhookPayload } from './webhook-summary.js';

export interface PostWebhooksOptions {
  /** The variables holding the webhook URLs (report.webhooks). */
  names: readonly string[];
  model: ReportModel;
  nightDir: string;
  /** Post to every webhook, also those report.webhooks.json says got it. */
  resend: boolean;
  out: (text: string) => void;
  warn: (text: string) => void;
  /** Where the variables are looked up first (default process.env); the env file is read for the others. */
  env?: NodeJS.ProcessEnv;
  /** The default env file (default /etc/nightshift/env; NIGHTSHIFT_ENV_FILE overrides it). */
  envFile?: string;
  /** Tries and timing of each post (see postWebhook). */
  retry?: Pick<PostWebhookOptions, 'attempts' | 'baseDelayMs' | 'timeoutMs'>;
}

/** Posts the summary to each webhook that has not had it; throws one NightshiftError naming every webhook that failed. */
export async function postWebhooksOnce(options: PostWebhooksOptions): Promise<void> {
  const { names, nightDir, resend, out, warn } = options;
  const env = options.env ?? process.env;
  const sent = await readWebhookRecord(nightDir);
  if (sent.problem && !resend) {
    throw new NightshiftError(`${sent.problem}: which webhooks got this night's summary is not known; --resend posts it to every webhook (again)`, ExitCode.usage);
  }
  const record: WebhookRecord = { ...sent.record };
  const payload = webhookPayload(options.model);
  const failures: NightshiftError[] = [];
  let envFile: Awaited<ReturnType<typeof readEnvFileValues>> | null = null;

  for (const name of new Set(names)) {
    const before = record[name];
    if (before && !resend) {
      out(`webhook ${name}: already posted at ${before.sent_at}; --resend posts it again`);
      continue;
    }
    let url = env[name]?.trim();
    if (!url) {
      // Read once, and only when a variable is not in the environment.
      envFile ??= await readEnvFileValues({ env, envFile: options.envFile });
      url = envFile?.values[name]?.trim();
    }
    if (!url) {
      warn(`warning: webhook ${name} is not set in the environment${envFile ? ` or in ${envFile.file}` : ''}: the summary was not posted to it`);
      continue;
    }
    if (!isHttpUrl(url)) {
      failures.push(
        new NightshiftError(`webhook ${name} does not hold an http(s) URL: set it to the incoming webhook's URL, like https://hooks.slack.com/services/...`, ExitCode.usage),
      );
      continue;
    }
    try {
      await postWebhook({
        url,
        name,
        payload,
        ...options.retry,
        onRetry: ({ attempt, reason }) => warn(`warning: webhook ${name}: attempt ${attempt} failed (${reason}), trying again`),
      });
    } catch (error) {
      if (!(error instanceof NightshiftError)) throw error;
      failures.push(error);
      continue;
    }
    const host = webhookHost(url);
    record[name] = { sent_at: new Date().toISOString(), host };
    // Written after each post, so a later failure does not lose what went.
    await writeWebhookRecord(nightDir, record);
    out(`posted to webhook ${name} (${host})`);
  }
  if (failures.length > 0) throw combined(failures);
}

function isHttpUrl(text: string): boolean {
  try {
    const { protocol } = new URL(text);
    return protocol === 'https:' || protocol === 'http:';
  } catch {
    return false;
  }
}

/** One error for several webhooks: every message, the exit code of the first (a bad setting, exit 2, or a service, exit 4). */
export function combined(errors: readonly NightshiftError[]): NightshiftError {
  if (errors.length === 1) return errors[0]!;
  return new NightshiftError(errors.map((error) => error.message).join('\n'), errors[0]!.exitCode, { cause: errors[0] });
}
