/**
 * The live page's HTML: a shell rendered on the server (every text from the night through escapeHtml),
 * the night's data as JSON for the first render, and the inline script that keeps it live. Nothing is
 * loaded from anywhere else.
 */
import { escapeHtml } from '../report/render.js';
import { PAGE_SCRIPT } from './page-script.js';
import { PAGE_CSS, STATUS_LOOKS, STATUS_ORDER } from './page-style.js';
import type { NightSnapshot } from './night-watch.js';
import { paths } from './paths.js';

/** JSON inside <script>: `<` escaped so no text from the night can close the element. */
const scriptJson = (value: unknown) => JSON.stringify(value).replace(/</g, '\\u003c');

function shell(options: { title: string; kicker: string; heading: string; body: string; boot?: object }): string {
  const boot = options.boot
    ? `<script id="boot" type="application/json">${scriptJson({ looks: STATUS_LOOKS, order: STATUS_ORDER, ...options.boot })}</script>\n<script>${PAGE_SCRIPT}</script>\n`
    : '';
  return (
    `<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n<meta name="viewport" content="width=device-width, initial-scale=1">\n` +
    `<title>${escapeHtml(options.title)}</title>\n<style>${PAGE_CSS}</style>\n</head>\n<body>\n` +
    `<header class="top"><div class="wrap"><div class="kicker">${options.kicker}</div><h1>${options.heading}</h1></div></header>\n` +
    `<main class="wrap">\n${options.body}\n</main>\n${boot}</body>\n</html>\n`
  );
}

const liveMarker = '<span id="live" class="live">live</span>';

/** The night: summary, the grid of builds, the fleet, the other nights. */
export function nightPage(night: NightSnapshot): string {
  const date = escapeHtml(night.date);
  const others = night.nights
    .filter((other) => other !== night.date)
    .slice(-10)
    .reverse()
    .map((other) => `<a href="${escapeHtml(paths.night(other))}">${escapeHtml(other)}</a>`)
    .join('');
  return shell({
    title: `nightshift · night ${night.date}`,
    kicker: `<a href="/">nightshift · ${escapeHtml(night.schedule)}</a><span><span id="updated"></span> · ${liveMarker}</span>`,
    heading: `Night ${date}<div id="facts" class="kicker" style="text-transform:none;letter-spacing:0;margin-top:4px"></div><div id="summary" class="summary"></div>`,
    body:
      `<div id="notice" class="notice"></div>\n` +
      `<section class="card"><h2>Builds <span class="sub" id="grid-axis"></span></h2><div id="grid" class="grid-box"></div><div id="legend" class="legend"></div></section>\n` +
      `<section class="card" id="fleet-section" hidden><h2>The fleet <span class="sub" id="fleet-url"></span></h2><div id="fleet"></div></section>\n` +
      (others ? `<section class="card"><h2>Other nights</h2><nav class="nights">${others}</nav></section>` : ''),
    boot: { page: 'night', night, eventsUrl: paths.nightEvents(night.date) },
  });
}

/** A build: what is known of it, and its log following live. */
export function buildPage(night: NightSnapshot, id: string): string {
  return shell({
    title: `nightshift · ${id} · ${night.date}`,
    kicker: `<a href="${escapeHtml(paths.night(night.date))}">← night ${escapeHtml(night.date)}</a><span><span id="updated"></span> · ${liveMarker}</span>`,
    heading: `<span class="mono">${escapeHtml(id)}</span> <span id="build-status"></span><div id="facts" class="kicker" style="text-transform:none;letter-spacing:0;margin-top:4px"></div><div id="summary" hidden></div>`,
    body:
      `<div id="notice" class="notice"></div>\n` +
      `<section class="card"><div id="build-facts"></div><div class="links"><a href="${escapeHtml(paths.night(night.date))}">the night’s builds</a>` +
      `<a href="${escapeHtml(paths.logText(night.date, id))}">the whole log (log.txt)</a></div></section>\n` +
      `<section class="card"><h2>Log</h2><div id="log-note" class="notice"></div><pre id="log" class="log"></pre><p id="log-state" class="muted">Following the log as it is written…</p></section>`,
    boot: { page: 'build', id, night, eventsUrl: paths.nightEvents(night.date), logUrl: paths.logEvents(night.date, id), logTxt: paths.logText(night.date, id) },
  });
}

/** No night to show: none under the root yet, or not the one asked for. */
export function noNightPage(options: { root: string; date?: string; nights: string[] }): string {
  const newest = options.nights.slice(-10).reverse();
  const what = options.date ? `There is no night ${escapeHtml(options.date)} on this machine.` : 'There are no nights on this machine yet.';
  return shell({
    title: 'nightshift · no night',
    kicker: '<a href="/">nightshift</a>',
    heading: options.date ? `Night ${escapeHtml(options.date)}` : 'No night yet',
    body:
      `<section class="card"><p>${what} Nights live under <span class="mono">${escapeHtml(options.root)}</span>.</p>` +
      (newest.length ? `<nav class="nights">${newest.map((n) => `<a href="${escapeHtml(paths.night(n))}">${escapeHtml(n)}</a>`).join('')}</nav>` : '') +
      `</section>`,
  });
}

/** A plain page for a missing build or anything else not found. */
export function notFoundPage(message: string, back?: { href: string; text: string }): string {
  return shell({
    title: 'nightshift · not found',
    kicker: '<a href="/">nightshift</a>',
    heading: 'Not found',
    body: `<section class="card"><p>${escapeHtml(message)}</p>${back ? `<p><a href="${escapeHtml(back.href)}">${escapeHtml(back.text)}</a></p>` : ''}</section>`,
  });
}
