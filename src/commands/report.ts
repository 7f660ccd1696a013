/**
 * `nightshift report`: the morning report of a night across the fleet. It is always written to the
 * night folder first (report.html, report.txt); `--send` mails it, `--print` shows the text instead.
 * The delivery itself is src/report/deliver.ts, which the daemon calls too.
 */
import { loadSchedule, machineName, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { ExitCode } from '../errors.js';
import { nightDate, resolveNightDate } from '../night/night-date.js';
import { reportNightDate } from '../daemon/due.js';
import { deliverReport } from '../report/deliver.js';

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
  const date =
    options.date === undefined ? reportNightDate(schedule.cron, schedule.timezone, now, nightDate(now, schedule.timezone)) : resolveNightDate(options.date, schedule.timezone);
  await deliverReport({
    config,
    schedule,
    date,
    machine: machineName(options),
    print: options.print,
    send: options.send,
    resend: options.resend,
    out: (text) => io.out(text),
    warn: (text) => io.err(`nightshift: ${text}`),
  });
  return ExitCode.ok;
}
