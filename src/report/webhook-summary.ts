/**
 * The morning report as one chat message for Slack and Mattermost incoming webhooks — pure. Both take
 * `{ "text": ... }` and both read `<url|label>` links and `code`; bold is left out (`*x*` is bold in
 * Slack but italic in Mattermost). Lists are capped so the message stays a message: the mail and
 * report.html have the rest.
 */
import { isFailure, type CellStatus, type ReportCell, type ReportModel } from './model.js';

export interface WebhookSummaryOptions {
  /** Cells shown per list before "and N more" (default 10). */
  maxPerList?: number;
}

/** The JSON body both Slack and Mattermost incoming webhooks accept. */
export interface WebhookPayload {
  text: string;
}

const WORDS: Record<CellStatus, string> = {
  succeeded: 'succeeded',
  failed: 'failed',
  timed_out: 'timed out',
  canceled: 'canceled',
  not_run: 'not run',
  skipped: 'skipped',
  pending: 'pending',
  running: 'still running',
  missing: 'missing',
};

/** The summary's text: headline, newly broken, still failing, fixed, silent machines, missing builds. */
export function webhookSummary(model: ReportModel, options: WebhookSummaryOptions = {}): string {
  const max = options.maxPerList ?? 10;
  const reported = model.cells.filter((cell) => isFailure(cell.status) && cell.status !== 'missing');
  const newly = reported.filter((cell) => cell.change !== 'still-failing');
  const still = reported.filter((cell) => cell.change === 'still-failing').sort((a, b) => b.streak - a.streak);
  const fixed = model.cells.filter((cell) => cell.change === 'fixed' && cell.status === 'succeeded');
  const silent = model.machines.filter((machine) => !machine.reported);
  const silentNames = new Set(silent.map((machine) => machine.name));
  // A silent machine's cells are said once, as the machine; the other missing cells are listed.
  const missing = model.cells.filter((cell) => cell.status === 'missing' && !silentNames.has(cell.machine));

  const lines = [escape(headline(model, silent.length))];
  if (model.degraded) lines.push(`Partial report: ${escape(model.degraded)}`);
  section(lines, 'Newly broken', newly, max, (cell) => `${id(cell)} ${escape(what(cell))}${on(cell)}${logLink(cell)}`);
  section(
    lines,
    'Still failing',
    still,
    max,
    (cell) => `${id(cell)} since ${cell.failing_since ?? 'before the history'} (${plural(cell.streak, 'night')}): ${escape(what(cell))}${logLink(cell)}`,
  );
  section(lines, 'Fixed', fixed, max, (cell) => `${id(cell)}${on(cell)}`);
  section(lines, 'Machines that did not report', silent, max, (machine) =>
    model.queue ? escape(machine.name) : `${escape(machine.name)} (${plural(machine.builds, 'build')} missing)`,
  );
  section(lines, 'Missing (no machine reported a result)', missing, max, (cell) => `${id(cell)}${model.queue ? '' : on(cell)}`);
  return lines.join('\n');
}

/** The body to POST: the summary as `text`. */
export function webhookPayload(model: ReportModel, options?: WebhookSummaryOptions): WebhookPayload {
  return { text: webhookSummary(model, options) };
}

function headline(model: ReportModel, silentMachines: number): string {
  const { counts } = model;
  const allGreen = counts.failed === 0 && counts.not_run === 0 && counts.missing === 0 && silentMachines === 0;
  // As the mail's subject: the machine's trouble (not run) is named apart from the builds' failures.
  const parts = allGreen
    ? [`all ${counts.succeeded} builds succeeded`]
    : [counts.failed || !counts.not_run ? `${counts.failed} of ${counts.total} builds failed` : `${counts.not_run} of ${counts.total} builds not run`];
  if (!allGreen && counts.failed && counts.not_run) parts.push(`${counts.not_run} not run`);
  if (silentMachines) parts.push(`${plural(silentMachines, 'machine')} did not report`);
  if (counts.missing) parts.push(`${counts.missing} missing`);
  return `nightshift ${model.schedule} ${model.date}: ${parts.join(', ')}`;
}

function section<T>(lines: string[], title: string, items: readonly T[], max: number, line: (item: T) => string): void {
  if (items.length === 0) return;
  lines.push('', `${title} (${items.length}):`, ...items.slice(0, max).map((item) => `• ${line(item)}`));
  if (items.length > max) lines.push(`… and ${items.length - max} more`);
}

/** "timed out after 3h and was killed", "failed: exit code 2". */
function what(cell: ReportCell): string {
  const word = WORDS[cell.status];
  if (!cell.reason) return word;
  return cell.reason.toLowerCase().startsWith(word) ? cell.reason : `${word}: ${cell.reason}`;
}

const id = (cell: ReportCell) => `\`${cell.id.replaceAll('`', "'")}\``;
const on = (cell: ReportCell) => (cell.machine ? ` on ${escape(cell.machine)}` : '');
// Web links only: a file:// log (a local destination) opens nothing on a chat reader's machine.
const logLink = (cell: ReportCell) => (cell.log.url && /^https?:\/\//i.test(cell.log.url) ? ` <${cell.log.url.replaceAll('|', '%7C').replaceAll('>', '%3E')}|log>` : '');
const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;

/** Slack's three control characters in message text (Mattermost reads the entities the same way). */
function escape(text: string): string {
  return text.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');
}
