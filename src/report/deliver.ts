/**
 * Delivering a night's morning report: gather it, write it to the night folder (report.html,
 * report.txt) whatever happens next, and with `send` mail it once (report.sent.json, sent-record.ts)
 * and post its summary to each webhook once (webhook-deliver.ts). The mail and the webhooks do not
 * wait for each other: one failing does not stop the other. `nightshift report` and the daemon's
 * report trigger both call `deliverReport`.
 */
import { mkdir } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Cell, Matrix, Schedule } from '../config/model.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { nightLayout } from '../night/layout.js';
import { gatherReport } from './gather.js';
import type { ReportModel } from './model.js';
import { renderReport } from './render.js';
import { readSentRecord, writeSentRecord, type SentRecord } from './sent-record.js';
import { combined, postWebhooksOnce, type PostWebhooksOptions } from './webhook-deliver.js';

export interface DeliverOptions {
  /** The loaded configuration's matrix and its cells. */
  config: { matrix: Matrix; cells: readonly Cell[] };
  schedule: Schedule;
  /** The night, YYYY_MM_DD. */
  date: string;
  /** This machine, for the fallback to the local night when the destination cannot be read. */
  machine: string;
  /** Show the report's text (with its subject) instead of saying where it was written; nothing is mailed. */
  print?: boolean;
  /** Mail it and post it to the webhooks, unless report.sent.json and report.webhooks.json say it went already. */
  send?: boolean;
  /** Mail it and post it even when it went. */
  resend?: boolean;
  /** Tries and timing of each webhook post (default 4 tries from 1 s apart, 15 s timeout). */
  webhookRetry?: PostWebhooksOptions['retry'];
  /** What the delivery has to say: where the report went, the printed report, whether a mail went. */
  out: (text: string) => void;
  /** Warnings (a manifest that cannot be read, a report made without the destination). */
  warn: (text: string) => void;
}

/** The report written (and perhaps sent): its model and subject (for `report --json`). */
export interface DeliveredReport {
  model: ReportModel;
  subject: string;
}

/** Writes the report of `date` to its night folder and, with `send` or `resend`, mails it and posts it to the webhooks once; throws when either cannot. */
export async function deliverReport(options: DeliverOptions): Promise<DeliveredReport> {
  const written = await writeReport(options);
  await sendReport(written, options);
  return written;
}

/** Gathers the report of `date` and writes it to its night folder, whatever is sent afterwards. */
export async function writeReport(options: DeliverOptions): Promise<DeliveredReport> {
  const { config, schedule, date, out } = options;
  const layout = nightLayout(schedule.root, date);
  const axes = [...new Set(config.matrix.packages.flatMap((p) => p.axes.map((a) => a.name)))];
  const model = await gatherReport({ schedule, cells: config.cells, axes, date, machine: options.machine, warn: (message) => options.warn(`warning: ${message}`) });
  if (model.degraded) options.warn(model.degraded);

  // Always rendered and kept, even when no mail goes out or the mail fails.
  const rendered = renderReport(model, { when: 'always' })!;
  await mkdir(layout.dir, { recursive: true });
  await writeFileAtomic(layout.reportHtml, rendered.html);
  await writeFileAtomic(layout.reportText, rendered.text);
  if (options.print) out(`Subject: ${rendered.subject}\n\n${rendered.text}`);
  else out(`${rendered.subject}\nwritten to ${layout.reportHtml} and ${path.basename(layout.reportText)}`);
  return { model, subject: rendered.subject };
}

/** With `send` or `resend` (and not `print`), mails the written report and posts it to the webhooks once; throws when either cannot. */
export async function sendReport({ model }: DeliveredReport, options: DeliverOptions): Promise<void> {
  const { schedule, out } = options;
  const layout = nightLayout(schedule.root, options.date);
  if (options.print || (!options.send && !options.resend)) return;
  const settings = schedule.report;
  const webhooks = settings?.webhooks ?? [];
  if (!settings || (settings.to.length === 0 && webhooks.length === 0)) {
    throw new NightshiftError(
      `${schedule.file} names no report recipients: add report: { cron: "0 7 * * *", to: [builds@example.com] } or webhooks: [NIGHTSHIFT_SLACK_WEBHOOK]`,
      ExitCode.usage,
    );
  }
  const resend = options.resend ?? false;
  if (!renderReport(model, { when: settings.when })) {
    out('every build succeeded and report.when is failures: no mail, no webhook post');
    return;
  }
  // The mail and the webhooks each get their chance whatever the other did; their failures are reported together.
  const failures: NightshiftError[] = [];
  const attempt = async (deliver: () => Promise<void>) => {
    try {
      await deliver();
    } catch (error) {
      if (!(error instanceof NightshiftError)) throw error;
      failures.push(error);
    }
  };
  if (settings.to.length > 0) await attempt(() => sendOnce(schedule, model, layout.dir, resend, out));
  if (webhooks.length > 0) {
    await attempt(() => postWebhooksOnce({ names: webhooks, model, nightDir: layout.dir, resend, out, warn: options.warn, retry: options.webhookRetry }));
  }
  if (failures.length > 0) throw combined(failures);
}

/** The send-once rule: a night whose report.sent.json is there is not mailed again, unless `resend`. */
async function sendOnce(schedule: Schedule, model: ReportModel, nightDir: string, resend: boolean, out: (text: string) => void): Promise<void> {
  const settings = schedule.report!;
  const sent = await readSentRecord(nightDir);
  if (sent.record && !resend) {
    out(`already sent at ${sent.record.sent_at} to ${sent.record.to.join(', ')}; --resend sends it again`);
    return;
  }
  if (sent.problem && !resend) {
    throw new NightshiftError(`${sent.problem}: whether this night's report went is not known; --resend sends it (again)`, ExitCode.usage);
  }
  const mail = renderReport(model, { when: settings.when })!;
  // Loaded only when a mail goes out: the other commands start without the SMTP client.
  const { resolveSmtpUrl } = await import('./smtp-url.js');
  const smtp = await resolveSmtpUrl({});
  if (!smtp)
    throw new NightshiftError(
      'no SMTP server: set NIGHTSHIFT_SMTP_URL (e.g. smtp://user:password@mail.example.com:587) in the environment or in /etc/nightshift/env (mode 600); the report stays on disk',
      ExitCode.usage,
    );
  const { sendMail } = await import('./mail.js');
  const from = settings.from ?? `nightshift@${os.hostname()}`;
  const result = await sendMail({ smtpUrl: smtp.url, from, to: [...settings.to], subject: mail.subject, html: mail.html, text: mail.text });
  const record: SentRecord = { sent_at: new Date().toISOString(), to: result.accepted, subject: mail.subject, message_id: result.messageId };
  await writeSentRecord(nightDir, record);
  out(`sent to ${result.accepted.join(', ')}${result.rejected.length ? ` (refused: ${result.rejected.join(', ')})` : ''}`);
}
