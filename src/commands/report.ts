/**
 * `nightshift report`: the morning report of a night across the fleet. It is always written to the
 * night folder first (report.html, report.txt); `--send` mails it, `--print` shows the text instead.
 */
import os from 'node:os';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { loadSchedule, machineName, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { writeFileAtomic } from '../files.js';
import { nightLayout } from '../night/layout.js';
import { nightDate, resolveNightDate } from '../night/night-date.js';
import { reportNightDate } from '../daemon/due.js';
import { gatherReport } from '../report/gather.js';
import { renderReport } from '../report/render.js';
import { readSentRecord, writeSentRecord, type SentRecord } from '../report/sent-record.js';

export interface ReportOptions extends GlobalOptions {
  print?: boolean;
  send?: boolean;
  resend?: boolean;
}

export async function report(options: ReportOptions, io: Io): Promise<number> {
  const { config, schedule } = await loadSchedule(options);
  // By default the latest night whose scheduled start has come (a 07:00 report of a 23:30 night is about
  // the night before), as the daemon does; --date names another.
  const now = new Date();
  const date = options.date === undefined ? reportNightDate(schedule.cron, schedule.timezone, now, nightDate(now, schedule.timezone)) : resolveNightDate(options.date, schedule.timezone);
  const layout = nightLayout(schedule.root, date);
  const axes = [...new Set(config.matrix.packages.flatMap((p) => p.axes.map((a) => a.name)))];
  const model = await gatherReport({ schedule, cells: config.cells, axes, date, machine: machineName(options), warn: (message) => io.err(`nightshift: warning: ${message}`) });
  if (model.degraded) io.err(`nightshift: ${model.degraded}`);

  // Always rendered and kept, even when no mail goes out or the mail fails.
  const rendered = renderReport(model, { when: 'always' })!;
  await mkdir(layout.dir, { recursive: true });
  await writeFileAtomic(layout.reportHtml, rendered.html);
  await writeFileAtomic(layout.reportText, rendered.text);

  if (options.print) {
    io.out(`Subject: ${rendered.subject}\n\n${rendered.text}`);
    return ExitCode.ok;
  }
  io.out(`${rendered.subject}\nwritten to ${layout.reportHtml} and ${path.basename(layout.reportText)}`);
  if (!options.send && !options.resend) return ExitCode.ok;
  return send(schedule, model, layout.dir, options, io);
}

async function send(schedule: Awaited<ReturnType<typeof loadSchedule>>['schedule'], model: Parameters<typeof renderReport>[0], nightDir: string, options: ReportOptions, io: Io): Promise<number> {
  const settings = schedule.report;
  if (!settings || settings.to.length === 0) {
    throw new NightshiftError(`${schedule.file} names no report recipients: add report: { cron: "0 7 * * *", to: [builds@example.com] }`, ExitCode.usage);
  }
  const sent = await readSentRecord(nightDir);
  if (sent.record && !options.resend) {
    io.out(`already sent at ${sent.record.sent_at} to ${sent.record.to.join(', ')}; --resend sends it again`);
    return ExitCode.ok;
  }
  if (sent.problem && !options.resend) {
    throw new NightshiftError(`${sent.problem}: whether this night's report went is not known; --resend sends it (again)`, ExitCode.usage);
  }
  const mail = renderReport(model, { when: settings.when });
  if (!mail) {
    io.out('every build succeeded and report.when is failures: no mail');
    return ExitCode.ok;
  }
  const { resolveSmtpUrl } = await import('../report/smtp-url.js');
  const smtp = await resolveSmtpUrl({});
  if (!smtp) throw new NightshiftError('no SMTP server: set NIGHTSHIFT_SMTP_URL (e.g. smtp://user:password@mail.example.com:587) in the environment or in /etc/nightshift/env (mode 600); the report stays on disk', ExitCode.usage);
  const { sendMail } = await import('../report/mail.js');
  const from = settings.from ?? `nightshift@${os.hostname()}`;
  const result = await sendMail({ smtpUrl: smtp.url, from, to: [...settings.to], subject: mail.subject, html: mail.html, text: mail.text });
  const record: SentRecord = { sent_at: new Date().toISOString(), to: result.accepted, subject: mail.subject, message_id: result.messageId };
  await writeSentRecord(nightDir, record);
  io.out(`sent to ${result.accepted.join(', ')}${result.rejected.length ? ` (refused: ${result.rejected.join(', ')})` : ''}`);
  return ExitCode.ok;
}
