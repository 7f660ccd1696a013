/**
 * The morning report as mail — pure: a subject, an HTML body and a plain-text alternative from a
 * ReportModel. The HTML is written for mail clients, not browsers: nested tables, inline styles only,
 * no classes, no scripts, no external images or fonts, because Gmail and Outlook drop the rest.
 * Everything that comes from a build (ids, machines, reasons, log lines, URLs) passes escapeHtml.
 */
import { formatDuration } from '../units.js';
import { rangeText, shortHash } from './commit-range.js';
import { STATUS_COLOURS } from './status-colours.js';
import { isFailure, type CellStatus, type ReportCell, type ReportMachine, type ReportModel } from './model.js';

export interface RenderedReport {
  subject: string;
  html: string;
  text: string;
}

export interface RenderOptions {
  /** `failures`: an all-green night sends nothing; `always`: it sends a short "all N builds succeeded". */
  when: 'always' | 'failures';
}

/** How many log lines each failure shows; the full log is one link away. */
export const LOG_TAIL_LINES = 40;
/** One minified or generated line must not bury the rest of the tail (or push Gmail over its clip size). */
const MAX_LINE_CHARS = 400;

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text into HTML text or a quoted attribute value; quotes included so it is safe in both. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (ch) => ENTITIES[ch]!);
}

interface Look {
  symbol: string;
  /** In sentences ("timed out"). */
  word: string;
  /** In the monospace text grid, loud for what needs attention. */
  short: string;
  bg: string;
  fg: string;
}

// The words of each status; its symbol and colours are status-colours.ts's, shared with the live page.
const WORDS: Record<CellStatus, Pick<Look, 'word' | 'short'>> = {
  succeeded: { word: 'succeeded', short: 'ok' },
  failed: { word: 'failed', short: 'FAILED' },
  timed_out: { word: 'timed out', short: 'TIMEOUT' },
  canceled: { word: 'canceled', short: 'canceled' },
  not_run: { word: 'not run', short: 'NOT RUN' },
  skipped: { word: 'skipped', short: 'skipped' },
  pending: { word: 'pending', short: 'pending' },
  running: { word: 'still running', short: 'running' },
  missing: { word: 'missing', short: 'MISSING' },
};
const LOOKS = Object.fromEntries(Object.entries(WORDS).map(([status, words]) => [status, { ...STATUS_COLOURS[status as CellStatus], ...words }])) as Record<CellStatus, Look>;
const STATUS_ORDER: CellStatus[] = ['succeeded', 'failed', 'timed_out', 'canceled', 'not_run', 'running', 'pending', 'missing', 'skipped'];

// ---- What the night says, computed once for both renderings ----

interface GridRow {
  package: string;
  values: string[];
  cells: Map<string, ReportCell[]>;
}
interface Grid {
  axis: string;
  columns: string[];
  rows: GridRow[];
}

interface Night {
  model: ReportModel;
  /** Did not succeed and did report: newly broken first, then the longest streaks. */
  failures: ReportCell[];
  newly: ReportCell[];
  still: ReportCell[];
  /** Pending or running when the report was made: not broken, not done. */
  unfinished: ReportCell[];
  fixed: ReportCell[];
  silentMachines: ReportMachine[];
  /** Missing cells of machines that did report (a silent machine's cells are said once, as the machine). */
  missingCells: ReportCell[];
  byStatus: [CellStatus, number][];
  allGreen: boolean;
}

/** Failed, timed out, canceled or unfinished, and reported: gets a section with its log. */
const hasSection = (cell: ReportCell) => isFailure(cell.status) && cell.status !== 'missing';
const isUnfinished = (cell: ReportCell) => cell.status === 'pending' || cell.status === 'running';
const isNew = (cell: ReportCell) => cell.change === 'newly-failed' || cell.change === 'first-night' || (cell.change !== 'still-failing' && cell.streak <= 1);

function nightOf(model: ReportModel): Night {
  const failures = model.cells.filter(hasSection);
  failures.sort((a, b) => Number(isNew(b)) - Number(isNew(a)) || b.streak - a.streak);
  const silentMachines = model.machines.filter((machine) => !machine.reported);
  const silent = new Set(silentMachines.map((machine) => machine.name));
  const byStatus = STATUS_ORDER.map((status): [CellStatus, number] => [status, model.cells.filter((cell) => cell.status === status).length]);
  return {
    model,
    failures,
    newly: failures.filter((cell) => !isUnfinished(cell) && isNew(cell)),
    still: failures.filter((cell) => !isUnfinished(cell) && !isNew(cell)),
    unfinished: failures.filter(isUnfinished),
    fixed: model.cells.filter((cell) => cell.change === 'fixed' && cell.status === 'succeeded'),
    silentMachines,
    missingCells: model.cells.filter((cell) => cell.status === 'missing' && !silent.has(cell.machine)),
    byStatus: byStatus.filter(([, count]) => count > 0),
    allGreen: model.counts.failed === 0 && model.counts.missing === 0 && failures.length === 0 && silentMachines.length === 0 && !model.degraded,
  };
}

/** Columns are the `cuda` axis (the one everybody scans by); rows are the package and its other axis values. */
function gridOf(model: ReportModel): Grid {
  const axis = model.cells.some((cell) => 'cuda' in cell.axes) ? 'cuda' : (model.axes.at(-1) ?? '');
  const columns: string[] = [];
  const rows = new Map<string, GridRow>();
  for (const cell of model.cells) {
    const column = cell.axes[axis] ?? '';
    if (!columns.includes(column)) columns.push(column);
    const values = Object.entries(cell.axes)
      .filter(([name]) => name !== axis)
      .map(([, value]) => value);
    const key = [cell.package, ...values].join('\u0000');
    const row = rows.get(key) ?? { package: cell.package, values, cells: new Map<string, ReportCell[]>() };
    rows.set(key, row);
    row.cells.set(column, [...(row.cells.get(column) ?? []), cell]);
  }
  return { axis, columns, rows: [...rows.values()] };
}

// ---- Words shared by both renderings ----

const plural = (count: number, word: string) => `${count} ${word}${count === 1 ? '' : 's'}`;
const duration = (cell: ReportCell) => (cell.duration_s === null ? '' : formatDuration(cell.duration_s));

/** How tonight's duration compares with the usual one, when it differs enough to matter (a tenth and a
 * minute): `+40%`, `−25%`. Seconds more or less on a short build are noise. */
export function durationChange(cell: ReportCell): string {
  if (cell.duration_s === null || !cell.usual_s || Math.abs(cell.duration_s - cell.usual_s) < 60) return '';
  const percent = Math.round(((cell.duration_s - cell.usual_s) / cell.usual_s) * 100);
  if (Math.abs(percent) < 10) return '';
  return percent > 0 ? `+${percent}%` : `−${-percent}%`;
}

/** `42m (usual 30m)`; the duration alone when there is no usual one. */
function durationWithUsual(cell: ReportCell): string {
  if (cell.duration_s === null) return '—';
  return cell.usual_s ? `${duration(cell)} (usual ${formatDuration(cell.usual_s)})` : duration(cell);
}

function subjectOf(night: Night): string {
  const { model } = night;
  const skipped = model.cells.filter((cell) => cell.status === 'skipped').length;
  // Builds the machine could not run are not the builds' failures: named apart so nobody hunts a bug in them.
  const { failed, not_run: notRun } = model.counts;
  const parts = night.allGreen
    ? [`all ${model.counts.succeeded} builds succeeded${skipped ? ` (${skipped} skipped)` : ''}`]
    : [failed || !notRun ? `${failed} of ${model.counts.total} builds failed` : `${notRun} of ${model.counts.total} builds not run`];
  if (!night.allGreen && notRun && failed) parts.push(`${notRun} not run`);
  if (night.silentMachines.length) parts.push(`${plural(night.silentMachines.length, 'machine')} missing`);
  // With the shared queue a silent machine had no share of its own: its cells are not counted apart.
  if (night.missingCells.length) parts.push(`${night.missingCells.length}${night.silentMachines.length && !model.queue ? ' more' : ''} missing`);
  if (model.degraded) parts.push('partial report');
  return `nightshift ${model.date}: ${parts.join(', ')}`;
}

/** "failed: exit code 1", but "timed out after 3h and was killed" rather than "timed out: timed out ...". */
function statusLine(cell: ReportCell): string {
  const { word } = LOOKS[cell.status];
  if (!cell.reason) return word;
  return cell.reason.toLowerCase().startsWith(word) ? cell.reason : `${word}: ${cell.reason}`;
}

function streakLine(cell: ReportCell): string {
  const last = cell.last_success && cell.last_success !== cell.failing_since ? `; last succeeded ${cell.last_success}` : '';
  if (isUnfinished(cell)) return 'had not finished when the report was made';
  if (cell.change === 'first-night') return 'did not succeed on its first night (no earlier night to compare)';
  if (isNew(cell)) return `newly broken tonight${last}`;
  return `failing ${plural(cell.streak, 'night')}${cell.failing_since ? `, since ${cell.failing_since}` : ''}${last}`;
}

/** The machine shown, and the others the cell also ended on (the shared queue took it over): "m1 (also ran on m0: failed)". */
function machineLine(cell: ReportCell): string {
  const others = cell.also_ran_on ?? [];
  return others.length ? `${cell.machine} (also ran on ${others.map((other) => `${other.machine}: ${LOOKS[other.status].word}`).join(', ')})` : cell.machine;
}

function changeLine(cell: ReportCell): string {
  if (cell.status === 'succeeded') return `succeeded${cell.duration_s === null ? '' : ` in ${duration(cell)}`} on ${machineLine(cell)}`;
  const since = isNew(cell) || isUnfinished(cell) ? '' : `since ${cell.failing_since ?? 'before the history'} (${plural(cell.streak, 'night')}) — `;
  return `${since}${statusLine(cell)} on ${machineLine(cell)}`;
}

/** Missing cells with what is said of them: each with its machine under the static split, once for all with the queue (no machine ran them). */
function missingGroups(night: Night): { cells: ReportCell[]; why: string | null }[] {
  if (!night.model.queue) return night.missingCells.length ? [{ cells: night.missingCells, why: null }] : [];
  const byWhy = new Map<string, ReportCell[]>();
  for (const cell of night.missingCells) byWhy.set(statusLine(cell), [...(byWhy.get(statusLine(cell)) ?? []), cell]);
  return [...byWhy].map(([why, cells]) => ({ cells, why }));
}

/** A machine that published nothing: under the static split its share is missing; with the queue the others could take its builds. */
const silentMeaning = (model: ReportModel, machine: ReportMachine) =>
  model.queue
    ? 'the other machines could take its builds from the shared queue, and what none of them ran is listed as missing'
    : `its ${plural(machine.builds, 'build')} are missing`;

/** Terminal colours and progress-bar redraws are noise in mail; so are other control characters. */
function cleanLogLine(line: string): string {
  const lastFrame =
    line
      .split('\r')
      .filter((frame) => frame !== '')
      .at(-1) ?? '';
  // Control characters are what this removes: no-control-regex is for patterns that match them by mistake.
  // eslint-disable-next-line no-control-regex
  const plain = lastFrame.replace(/\u001b\[[0-9;?]*[ -/]*[@-~]/g, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, '');
  const chars = Array.from(plain);
  return chars.length > MAX_LINE_CHARS ? `${chars.slice(0, MAX_LINE_CHARS).join('')} … (${chars.length - MAX_LINE_CHARS} more characters)` : plain;
}

const logTail = (cell: ReportCell) =>
  cell.log.tail
    .flatMap((line) => line.split('\n'))
    .slice(-LOG_TAIL_LINES)
    .map(cleanLogLine);
/** Only web and file links become links: a `javascript:` or odd scheme from a manifest stays inert text. */
const webUrl = (cell: ReportCell) => (cell.log.url && /^(?:https?:\/\/|file:\/\/\/)/i.test(cell.log.url) ? cell.log.url : null);
/** A compare link only when it is a web page. */
const compareLink = (cell: ReportCell) => (cell.commits?.compare_url && /^https:\/\//i.test(cell.commits.compare_url) ? cell.commits.compare_url : null);
const logWhere = (cell: ReportCell) => cell.log.url ?? cell.log.key ?? 'no log was published';

/** The recipes commit range a failure broke in, as text (the HTML links it when it can). */
const commitsLine = (cell: ReportCell) =>
  cell.commits ? rangeText({ tonight: cell.commits.tonight, lastGood: cell.commits.last_good, firstBad: cell.commits.first_bad, compareUrl: null }) : null;

function facts(cell: ReportCell): [string, string][] {
  const tonight = cell.commits?.tonight;
  const range = commitsLine(cell);
  return [
    ['Machine', machineLine(cell)],
    ['Status', statusLine(cell)],
    ...(cell.first_error ? [['First error', cleanLogLine(cell.first_error)] satisfies [string, string]] : []),
    ['Streak', streakLine(cell)],
    ['Duration', durationWithUsual(cell)],
    ['Exit code', cell.exit_code === null ? 'none' : String(cell.exit_code)],
    ...(tonight ? [['Recipes', shortHash(tonight)] satisfies [string, string]] : []),
    ...(range ? [['Commit range', range] satisfies [string, string]] : []),
  ];
}

// ---- HTML ----

const FONT = "font-family:-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;";
const MONO = "font-family:Menlo,Consolas,'DejaVu Sans Mono','Courier New',monospace;";
const MUTED = '#6b7280';

const badge = (status: CellStatus, text: string) => {
  const look = LOOKS[status];
  return `<span style="display:inline-block;padding:2px 8px;border-radius:10px;background:${look.bg};color:${look.fg};font-size:12px;font-weight:bold;white-space:nowrap;">${escapeHtml(text)}</span>`;
};
const row = (content: string, padding = '16px 24px 0') => `<tr><td style="padding:${padding};">${content}</td></tr>`;
const heading = (text: string) => `<div style="margin:8px 0 8px;font-size:16px;font-weight:bold;color:#111827;">${escapeHtml(text)}</div>`;
const banner = (colour: string, background: string, html: string) =>
  row(`<div style="padding:12px 14px;border-left:4px solid ${colour};background:${background};font-size:14px;line-height:1.5;color:#1f2937;">${html}</div>`);
/** Jumps to the failure's section further down; a fixed cell has none, so it is plain text. */
const idLink = (cell: ReportCell) => {
  const id = `<span style="${MONO}color:#111827;font-weight:bold;">${escapeHtml(cell.id)}</span>`;
  return hasSection(cell) ? `<a href="#f-${escapeHtml(cell.id)}" style="text-decoration:none;">${id}</a>` : id;
};

function htmlHeader(night: Night, subject: string): string {
  const { model } = night;
  const rest = subject.slice(`nightshift ${model.date}: `.length);
  const headline = rest.charAt(0).toUpperCase() + rest.slice(1);
  const colour = night.allGreen ? '#16a34a' : '#dc2626';
  const chips = night.byStatus.map(([status, count]) => badge(status, `${count} ${LOOKS[status].word}`)).join(' ');
  return (
    `<tr><td style="padding:20px 24px;background:#111827;color:#f9fafb;">` +
    `<div style="font-size:12px;letter-spacing:1px;text-transform:uppercase;color:#9ca3af;">nightshift · ${escapeHtml(model.schedule)}</div>` +
    `<div style="margin-top:4px;font-size:22px;font-weight:bold;">Nightly builds of ${escapeHtml(model.date)}</div></td></tr>` +
    row(`<div style="padding:10px 14px;border-radius:6px;background:${colour};color:#ffffff;font-size:18px;font-weight:bold;">${escapeHtml(headline)}</div>`) +
    row(`<div style="line-height:2;">${chips}</div>`, '10px 24px 0')
  );
}

function htmlBanners(night: Night): string {
  const { model } = night;
  let html = model.degraded ? banner('#d97706', '#fffbeb', `<b>⚠ Partial report.</b> ${escapeHtml(model.degraded)}`) : '';
  for (const machine of night.silentMachines) {
    html += banner(
      '#7e22ce',
      '#faf5ff',
      model.queue
        ? `<b>${escapeHtml(machine.name)} did not report.</b> It published nothing for this night (down, still running, or its upload failed); ${silentMeaning(model, machine)}.`
        : `<b>${escapeHtml(machine.name)} did not report.</b> It published nothing for this night (down, still running, or its upload failed), so ${silentMeaning(model, machine)}: purple in the grid.`,
    );
  }
  for (const { cells, why } of missingGroups(night)) {
    const ids = cells.map((cell) => `<span style="${MONO}">${escapeHtml(cell.id)}</span>${why === null ? ` (${escapeHtml(cell.machine)})` : ''}`).join(', ');
    html += banner(
      '#7e22ce',
      '#faf5ff',
      why === null
        ? `<b>No result for ${plural(cells.length, 'build')}</b> on machines that did report: ${ids}.`
        : `<b>No result for ${plural(cells.length, 'build')}</b>, ${escapeHtml(why)}: ${ids}.`,
    );
  }
  return html;
}

/** One table for all the lists, so ids and explanations line up across them. */
function htmlChanges(night: Night): string {
  const cellStyle = 'padding:4px 12px 4px 0;vertical-align:top;';
  const list = (title: string, cells: ReportCell[]) =>
    cells.length === 0
      ? ''
      : `<tr><td colspan="2" style="padding:12px 0 4px;font-size:16px;font-weight:bold;color:#111827;">${escapeHtml(`${title} (${cells.length})`)}</td></tr>` +
        cells
          .map(
            (cell) =>
              `<tr><td style="${cellStyle}width:1%;white-space:nowrap;">${badge(cell.status, LOOKS[cell.status].word)}</td><td style="${cellStyle}overflow-wrap:anywhere;">${idLink(cell)}<div style="color:#374151;">${escapeHtml(changeLine(cell))}</div></td></tr>`,
          )
          .join('');
  const rows =
    list('Newly broken tonight', night.newly) + list('Still failing', night.still) + list('Not finished at report time', night.unfinished) + list('Fixed tonight', night.fixed);
  return rows ? row(`<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="width:100%;font-size:14px;">${rows}</table>`, '4px 24px 0') : '';
}

function htmlGridCell(cells: ReportCell[] | undefined, top: string): string {
  if (!cells) return `<td style="padding:6px;border:1px solid #e5e7eb;${top}background:#ffffff;"></td>`;
  return cells
    .map((cell) => {
      const look = LOOKS[cell.status];
      const title = [cell.id, statusLine(cell), duration(cell), machineLine(cell)].filter(Boolean).join(' · ');
      const text = cell.status === 'missing' ? 'missing' : `${look.symbol} ${duration(cell)}`.trim();
      // Which machine built it, and how long it took against the usual: a slow machine shows as a pattern.
      const detail = [cell.machine, durationChange(cell)].filter(Boolean).join(' ');
      const second = detail ? `<br><span style="font-size:11px;font-weight:normal;">${escapeHtml(detail)}</span>` : '';
      return `<td title="${escapeHtml(title)}" style="padding:4px 6px;border:1px solid #ffffff;${top}background:${look.bg};color:${look.fg};text-align:center;font-size:13px;font-weight:bold;white-space:nowrap;line-height:1.3;">${escapeHtml(text)}${second}</td>`;
    })
    .join('');
}

function htmlGrid(grid: Grid): string {
  const th = (text: string, align = 'center') =>
    `<th style="padding:6px 8px;background:#f3f4f6;border:1px solid #e5e7eb;font-size:13px;text-align:${align};color:#374151;">${escapeHtml(text)}</th>`;
  let previous = '';
  const rows = grid.rows.map((gridRow) => {
    // A heavier line where a package starts, so manywheel, conda and libtorch read as groups.
    const top = gridRow.package !== previous && previous !== '' ? 'border-top:3px solid #9ca3af;' : '';
    previous = gridRow.package;
    const label = `<td style="padding:6px 10px;border:1px solid #e5e7eb;${top}font-size:13px;white-space:nowrap;"><span style="color:${MUTED};">${escapeHtml(gridRow.package)}</span> <b>${escapeHtml(gridRow.values.join(' '))}</b></td>`;
    return `<tr>${label}${grid.columns.map((column) => htmlGridCell(gridRow.cells.get(column), top)).join('')}</tr>`;
  });
  // Only what tonight shows: a legend of ten colours nobody saw is noise.
  const shown = new Set(grid.rows.flatMap((gridRow) => [...gridRow.cells.values()].flat().map((cell) => cell.status)));
  const legend = STATUS_ORDER.filter((status) => shown.has(status))
    .map((status) => badge(status, `${status === 'missing' ? '' : `${LOOKS[status].symbol} `}${LOOKS[status].word}`))
    .join(' ');
  return row(
    heading(`Build matrix (columns: ${grid.axis || 'builds'})`) +
      // The grid scrolls sideways in its own box on a narrow screen; the rest of the mail stays put.
      `<div style="overflow-x:auto;-webkit-overflow-scrolling:touch;max-width:100%;">` +
      `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="border-collapse:collapse;width:100%;">` +
      `<tr>${th('', 'left')}${grid.columns.map((column) => th(column || '—')).join('')}</tr>${rows.join('')}</table></div>` +
      `<div style="margin-top:8px;line-height:2;font-size:12px;color:${MUTED};">${legend} &nbsp;blank: not in the matrix</div>`,
  );
}

/** Failures that get their log tail in the mail; more would push it past mail clients' size limits
 * (Gmail clips a message over ~100 KB). The others keep the link to their full log. */
export const MAX_TAILS = 15;
const TAIL_LEFT_OUT = `Log tail left out to keep this mail small (only the first ${MAX_TAILS} failures carry theirs); see the full log.`;

function htmlFailure(cell: ReportCell, index: number): string {
  const look = LOOKS[cell.status];
  const url = webUrl(cell);
  const log = url
    ? `<a href="${escapeHtml(url)}" style="color:#1d4ed8;word-break:break-all;">${escapeHtml(url)}</a>`
    : `<span style="${MONO}word-break:break-all;">${escapeHtml(logWhere(cell))}</span>`;
  // Long ids, reasons and error lines wrap anywhere rather than widen the card past a phone's screen.
  const fact = (name: string, html: string) =>
    `<tr><td style="padding:2px 12px 2px 0;color:${MUTED};white-space:nowrap;vertical-align:top;">${name}</td><td style="padding:2px 0;overflow-wrap:anywhere;word-break:break-word;">${html}</td></tr>`;
  const compare = compareLink(cell);
  const valueHtml = (name: string, value: string) => {
    if (name === 'Commit range' && compare) return `<a href="${escapeHtml(compare)}" style="color:#1d4ed8;">${escapeHtml(value)}</a>`;
    // Hashes in monospace; a sentence about them (no good night, same recipes) in the text face.
    if (name === 'Recipes' || /^[0-9a-f]+\.\.[0-9a-f]+$/.test(value)) return `<span style="${MONO}">${escapeHtml(value)}</span>`;
    return escapeHtml(value);
  };
  // The first error line stands above the facts, full width: it is what the reader came for.
  const [firstError] = facts(cell).filter(([name]) => name === 'First error');
  const errorBox = firstError
    ? `<div style="margin:0 0 2px;font-size:12px;color:${MUTED};">First error</div>` +
      `<div style="margin:0 0 8px;padding:6px 8px;background:#fef2f2;border-left:3px solid #dc2626;${MONO}font-size:12px;line-height:1.45;color:#991b1b;word-break:break-all;">${escapeHtml(firstError[1])}</div>`
    : '';
  const factRows =
    facts(cell)
      .filter(([name]) => name !== 'First error')
      .map(([name, value]) => fact(name, valueHtml(name, value)))
      .join('') + fact('Full log', log);
  const tail = index < MAX_TAILS ? logTail(cell) : [];
  const pre =
    index >= MAX_TAILS
      ? `<div style="margin-top:10px;font-size:13px;color:${MUTED};">${TAIL_LEFT_OUT}</div>`
      : tail.length
        ? `<div style="margin:12px 0 4px;font-size:12px;color:${MUTED};">Last ${plural(tail.length, 'line')} of the log</div>` +
          `<pre style="margin:0;padding:10px 12px;background:#0f172a;color:#e2e8f0;${MONO}font-size:12px;line-height:1.45;white-space:pre-wrap;word-break:break-all;border-radius:4px;">${tail.map(escapeHtml).join('\n')}</pre>`
        : `<div style="margin-top:10px;font-size:13px;color:${MUTED};">The log is empty.</div>`;
  return (
    `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="width:100%;margin:0 0 16px;border:1px solid #e5e7eb;border-left:5px solid ${look.bg};">` +
    `<tr><td id="f-${escapeHtml(cell.id)}" style="padding:12px 14px;">` +
    `<div style="margin-bottom:8px;"><span style="${MONO}font-size:15px;font-weight:bold;word-break:break-all;">${escapeHtml(cell.id)}</span> ${badge(cell.status, look.word)}</div>${errorBox}` +
    `<table role="presentation" cellpadding="0" cellspacing="0" border="0" style="font-size:13px;">${factRows}</table>${pre}</td></tr></table>`
  );
}

function htmlFooter(night: Night, options: RenderOptions): string {
  const { model } = night;
  const machines = model.machines
    .map((machine) => {
      const state = machine.reported
        ? `${plural(machine.builds, 'build')}, ${machine.failed} failed`
        : `<b style="color:#7e22ce;">did not report</b>${model.queue ? '' : ` (${plural(machine.builds, 'build')} planned)`}`;
      return `<b>${escapeHtml(machine.name)}</b>: ${state}`;
    })
    .join(' · ');
  const history = model.history.length
    ? `compared with ${plural(model.history.length, 'earlier night')} (${escapeHtml(model.history.at(-1)!)} to ${escapeHtml(model.history[0]!)})`
    : 'no earlier nights to compare with';
  return row(
    `<div style="padding:12px 0 20px;border-top:1px solid #e5e7eb;font-size:12px;line-height:1.6;color:${MUTED};">` +
      `Machines: ${machines}<br>${queueOutageLines(model)
        .map((line) => `${escapeHtml(line)}<br>`)
        .join('')}Results read from <span style="${MONO}word-break:break-all;">${escapeHtml(model.destination)}</span>; ${history}.<br>` +
      `Sent by nightshift (report.when: ${options.when}).</div>`,
  );
}

function renderHtml(night: Night, subject: string, options: RenderOptions): string {
  const body = night.allGreen
    ? htmlChanges(night)
    : htmlBanners(night) +
      htmlChanges(night) +
      htmlGrid(gridOf(night.model)) +
      (night.failures.length ? row(heading(`What failed (${night.failures.length})`) + night.failures.map(htmlFailure).join('')) : '');
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n<title>${escapeHtml(subject)}</title>\n</head>\n` +
    `<body style="margin:0;padding:0;background:#f3f4f6;">\n` +
    `<table role="presentation" width="100%" cellpadding="0" cellspacing="0" border="0" style="background:#f3f4f6;"><tr><td align="center" style="padding:24px 8px;">\n` +
    `<table role="presentation" width="780" cellpadding="0" cellspacing="0" border="0" style="width:100%;max-width:780px;table-layout:fixed;background:#ffffff;border:1px solid #e5e7eb;text-align:left;${FONT}color:#111827;">\n` +
    [htmlHeader(night, subject), body, htmlFooter(night, options)].join('\n') +
    `\n</table>\n</td></tr></table>\n</body>\n</html>\n`
  );
}

// ---- Plain text ----

/** Columns padded to their widest entry, for a monospace reader. */
function aligned(rows: string[][], indent = '  '): string[] {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((cells) => (cells[column] ?? '').length)));
  return rows.map(
    (cells) =>
      indent +
      cells
        .map((cell, column) => cell.padEnd(widths[column]!))
        .join('  ')
        .trimEnd(),
  );
}

function textGrid(grid: Grid): string[] {
  const rows = grid.rows.map((gridRow) => [
    [gridRow.package, ...gridRow.values].join(' '),
    // No machine names here: they would push a row past what a text reader shows (the HTML grid has them).
    ...grid.columns.map((column) =>
      (gridRow.cells.get(column) ?? []).map((cell) => [LOOKS[cell.status].short, duration(cell), durationChange(cell)].filter(Boolean).join(' ')).join(', '),
    ),
  ]);
  const legend = 'ok = succeeded, FAILED, TIMEOUT = timed out and killed, MISSING = no result, blank = not in the matrix';
  return [`Build matrix (columns: ${grid.axis || 'builds'})`, ...aligned([['', ...grid.columns.map((column) => column || '-')], ...rows]), `  ${legend}`, ''];
}

function textFailure(cell: ReportCell, index: number): string[] {
  const tail = index < MAX_TAILS ? logTail(cell) : [];
  return [
    `${cell.id} -- ${LOOKS[cell.status].word.toUpperCase()}`,
    ...aligned(([...facts(cell), ['Full log', logWhere(cell)]] satisfies [string, string][]).map(([name, value]) => [`${name}:`, value])),
    index >= MAX_TAILS ? `  ${TAIL_LEFT_OUT}` : tail.length ? `  Last ${plural(tail.length, 'line')} of the log:` : '  The log is empty.',
    ...tail.map((line) => `      ${line}`.trimEnd()),
    '',
  ];
}

function renderText(night: Night, subject: string, options: RenderOptions): string {
  const { model } = night;
  const lines = [subject, `schedule ${model.schedule}: ${night.byStatus.map(([status, count]) => `${count} ${LOOKS[status].word}`).join(', ')}`, ''];
  if (model.degraded) lines.push(`!! PARTIAL REPORT: ${model.degraded}`, '');
  for (const machine of night.allGreen ? [] : night.silentMachines)
    lines.push(`!! ${machine.name} DID NOT REPORT: it published nothing for this night (down, still running, or its upload failed); ${silentMeaning(model, machine)}.`, '');
  for (const { cells, why } of missingGroups(night))
    lines.push(
      why === null
        ? `!! No result for ${plural(cells.length, 'build')}: ${cells.map((cell) => `${cell.id} (${cell.machine})`).join(', ')}`
        : `!! No result for ${plural(cells.length, 'build')}, ${why}: ${cells.map((cell) => cell.id).join(', ')}`,
      '',
    );
  for (const [title, cells] of [
    ['Newly broken tonight', night.newly],
    ['Still failing', night.still],
    ['Not finished at report time', night.unfinished],
    ['Fixed tonight', night.fixed],
  ] as const) {
    if (cells.length) lines.push(`${title} (${cells.length}):`, ...aligned(cells.map((cell) => [cell.id, changeLine(cell)])), '');
  }
  if (!night.allGreen) {
    lines.push(...textGrid(gridOf(model)));
    if (night.failures.length) lines.push(`What failed (${night.failures.length})`, '', ...night.failures.flatMap(textFailure));
  }
  const machines = model.machines.map((machine) => `${machine.name} ${machine.reported ? `${machine.builds} builds, ${machine.failed} failed` : 'DID NOT REPORT'}`).join('; ');
  const history = model.history.length
    ? `compared with ${plural(model.history.length, 'earlier night')} (${model.history.at(-1)!} to ${model.history[0]!})`
    : 'no earlier nights to compare with';
  lines.push(
    '--',
    `Machines: ${machines}`,
    ...queueOutageLines(model),
    `Results read from ${model.destination}; ${history}.`,
    `Sent by nightshift (report.when: ${options.when}).`,
  );
  return `${lines.join('\n')}\n`;
}

/** The mail for a night, or undefined when `when: failures` and there is nothing to tell. */
export function renderReport(model: ReportModel, options: RenderOptions): RenderedReport | undefined {
  const night = nightOf(model);
  if (night.allGreen && options.when === 'failures') return undefined;
  const subject = subjectOf(night);
  return { subject, html: renderHtml(night, subject, options), text: renderText(night, subject, options) };
}

/** One line per machine that lost the shared queue during the night: when, and that its builds went on. */
function queueOutageLines(model: ReportModel): string[] {
  const clock = (iso: string) => `${iso.slice(11, 19)} UTC`;
  return model.machines.flatMap((machine) => {
    const outages = machine.queueOutages ?? [];
    if (!outages.length) return [];
    const spans = outages.map((o) => `${clock(o.from)} to ${o.to ? clock(o.to) : 'the end of its night'}`).join(', ');
    return [`${machine.name} could not reach the shared queue ${spans}: its running builds went on, nothing new started there meanwhile.`];
  });
}
