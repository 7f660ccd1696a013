/**
 * `nightshift report`: the morning report of a night across the fleet. It is always written to the
 * night folder first (report.html, report.txt); `--send` mails it, `--print` shows the text instead.
 * The delivery itself is src/report/deliver.ts, which the daemon calls too.
 */
import { existsSync } from 'node:fs';
import { loadSchedule, machineName, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { humanOutput, printJson } from '../output/json.js';
import { ExitCode } from '../errors.js';
import { nightLayout } from '../night/layout.js';
import { nightDate, resolveNightDate } from '../night/night-date.js';
import { reportNightDate } from '../daemon/due.js';
import { sendReport, writeReport, type DeliveredReport } from '../report/deliver.js';
import { readSentRecord, readWebhookRecord } from '../report/sent-record.js';

export interface ReportOptions extends GlobalOptions {
  print?: boolean;
  send?: boolean;
  resend?: boolean;
  json?: boolean;
}

export async function report(options: ReportOptions, io: Io): Promise<number> {
  const { config, schedule } = await loadSchedule(options);
  const date = options.date === undefined ? defaultNight(schedule) : resolveNightDate(options.date, schedule.timezone);
  // With --json the printed report and what the delivery says go to stderr; stdout gets the JSON.
  const human = humanOutput(io, options.json);
  const delivery = {
    config,
    schedule,
    date,
    machine: machineName(options),
    print: options.print,
    send: options.send,
    resend: options.resend,
    out: (text: string) => human.out(text),
    warn: (text: string) => io.err(`nightshift: ${text}`),
  };
  const written = await writeReport(delivery);
  // A mail or webhook that failed is said (and its exit code kept) after the JSON, which shows what did go.
  const failure = await sendReport(written, delivery).then(
    () => undefined,
    (error: unknown) => (error instanceof Error ? error : new Error(String(error))),
  );
  if (options.json) printJson(io, await reportJson(written, nightLayout(schedule.root, date), (text) => io.err(`nightshift: warning: ${text}`)));
  if (failure !== undefined) throw failure;
  return ExitCode.ok;
}

/**
 * The night a report is about by default: the latest whose scheduled start has come (a 07:00 report of a
 * 23:30 night is about the night before), as the daemon's; but today's when it has run already, started
 * by hand before its time (`nightshift run`, then `nightshift report`).
 */
function defaultNight(schedule: { cron: string; timezone: string; root: string }): string {
  const now = new Date();
  const today = nightDate(now, schedule.timezone);
  const scheduled = reportNightDate(schedule.cron, schedule.timezone, now, today);
  return scheduled !== today && existsSync(nightLayout(schedule.root, today).state) ? today : scheduled;
}

/**
 * `report --json`: the report model (src/report/model.ts) with every optional field present, where it
 * was written, and the records of what went out (report.sent.json, report.webhooks.json) as they stand.
 */
async function reportJson({ model, subject }: DeliveredReport, layout: ReturnType<typeof nightLayout>, warn: (text: string) => void) {
  const mail = await readSentRecord(layout.dir);
  const webhooks = await readWebhookRecord(layout.dir);
  for (const problem of [mail.problem, webhooks.problem]) if (problem) warn(problem);
  return {
    date: model.date,
    schedule: model.schedule,
    subject,
    destination: model.destination,
    degraded: model.degraded ?? null,
    queue: model.queue ?? false,
    written: { html: layout.reportHtml, text: layout.reportText },
    sent: { mail: mail.record ?? null, webhooks: webhooks.record },
    counts: model.counts,
    history: model.history,
    axes: model.axes,
    machines: model.machines.map((m) => ({
      name: m.name,
      reported: m.reported,
      builds: m.builds,
      failed: m.failed,
      queue_outages: (m.queueOutages ?? []).map((o) => ({ from: o.from, to: o.to ?? null })),
    })),
    cells: model.cells.map((c) => ({
      id: c.id,
      package: c.package,
      axes: c.axes,
      machine: c.machine,
      status: c.status,
      reason: c.reason,
      duration_s: c.duration_s,
      exit_code: c.exit_code,
      streak: c.streak,
      failing_since: c.failing_since,
      last_success: c.last_success,
      change: c.change,
      first_error: c.first_error ?? null,
      usual_s: c.usual_s ?? null,
      log: c.log,
      commits: c.commits ?? null,
      also_ran_on: c.also_ran_on ?? [],
    })),
  };
}
