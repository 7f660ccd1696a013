/**
 * How the live page looks: the status colours (the morning report's, src/report/status-colours.ts, so a
 * colour means the same in the mail and on the page) and the one stylesheet. Everything is inline in the page:
 * no file, font or script from anywhere else.
 */
import type { BuildStatus } from '../night/layout.js';
import { STATUS_COLOURS } from '../report/status-colours.js';

export interface StatusLook {
  symbol: string;
  word: string;
  bg: string;
  fg: string;
  /** The small square of an earlier night: strong enough to read on any cell's colour. */
  mark: string;
}

// The report's symbols and colours (STATUS_COLOURS); the page adds the strip's marks, and a running build
// in the report's blue, deeper: on a live page what runs now is what the eye looks for.
const MARKS: Record<BuildStatus, Pick<StatusLook, 'word' | 'mark'>> = {
  succeeded: { word: 'succeeded', mark: '#22c55e' },
  failed: { word: 'failed', mark: '#dc2626' },
  timed_out: { word: 'timed out', mark: '#ea580c' },
  canceled: { word: 'canceled', mark: '#9ca3af' },
  not_run: { word: 'not run', mark: '#f59e0b' },
  skipped: { word: 'skipped', mark: '#e5e7eb' },
  pending: { word: 'pending', mark: '#93c5fd' },
  running: { word: 'running', mark: '#2563eb' },
};
const DEEPER: Partial<Record<BuildStatus, Pick<StatusLook, 'bg' | 'fg'>>> = { running: { bg: '#2563eb', fg: '#ffffff' } };

export const STATUS_LOOKS = Object.fromEntries(
  Object.entries(MARKS).map(([status, look]) => [status, { ...STATUS_COLOURS[status as BuildStatus], ...look, ...DEEPER[status as BuildStatus] }]),
) as Record<BuildStatus, StatusLook>;

/** The order statuses are counted and explained in. */
export const STATUS_ORDER: BuildStatus[] = ['running', 'pending', 'succeeded', 'failed', 'timed_out', 'canceled', 'not_run', 'skipped'];

const statusClasses = Object.entries(STATUS_LOOKS)
  .map(([status, look]) => `.s-${status}{background:${look.bg};color:${look.fg}}\n.m-${status}{background:${look.mark}}`)
  .join('\n');

export const PAGE_CSS = `
*{box-sizing:border-box}
html{-webkit-text-size-adjust:100%}
body{margin:0;background:#f3f4f6;color:#111827;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans","Liberation Sans",sans-serif}
a{color:#1d4ed8}
.mono{font-family:"DejaVu Sans Mono","Liberation Mono",ui-monospace,Menlo,monospace}
.top{background:#111827;color:#f9fafb}
.wrap{max-width:1180px;margin:0 auto;padding:16px}
.top .wrap{padding:14px 16px 16px}
.kicker{display:flex;flex-wrap:wrap;justify-content:space-between;gap:4px 12px;font-size:12px;letter-spacing:1px;text-transform:uppercase;color:#9ca3af}
.kicker a{color:#9ca3af;text-decoration:none}
.kicker a:hover{color:#f9fafb}
h1{margin:4px 0 0;font-size:22px;line-height:1.25;overflow-wrap:anywhere}
.live{white-space:nowrap}
.live::before{content:"";display:inline-block;width:8px;height:8px;margin-right:6px;border-radius:50%;background:#22c55e;vertical-align:1px}
.live.off::before{background:#f87171}
.summary{display:flex;flex-wrap:wrap;gap:6px;margin-top:10px}
.badge{display:inline-block;padding:2px 9px;border-radius:10px;font-size:12px;font-weight:700;white-space:nowrap}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:14px 16px;margin:0 0 16px;min-width:0}
h2{margin:0 0 10px;font-size:16px}
h2 .sub{font-weight:400;font-size:13px;color:#6b7280}
.notice{margin:0 0 16px;padding:10px 14px;border-left:4px solid #d97706;border-radius:4px;background:#fffbeb;overflow-wrap:anywhere}
.notice:empty{display:none}
.grid-box{max-width:100%;overflow-x:auto;-webkit-overflow-scrolling:touch;border:1px solid #e5e7eb;border-radius:6px}
table.grid{border-collapse:separate;border-spacing:0;width:100%}
.grid th{padding:7px 8px;background:#f3f4f6;border-bottom:1px solid #e5e7eb;font-size:13px;color:#374151;white-space:nowrap}
.grid th.row{position:sticky;left:0;z-index:1;text-align:left;background:#f9fafb;border-right:1px solid #e5e7eb;font-weight:400}
.grid th.row b{color:#111827}
.grid th.row span{color:#6b7280}
.grid td{padding:3px;border-bottom:1px solid #f3f4f6;vertical-align:top}
.grid tr.group th,.grid tr.group td{border-top:2px solid #9ca3af}
.cell{display:block;min-width:124px;padding:6px 8px;border-radius:6px;text-decoration:none}
.cell+.cell{margin-top:3px}
.cell:hover{outline:2px solid #111827}
.cell .st{font-size:13px;font-weight:700;white-space:nowrap}
.cell .dur{font-size:12px;white-space:nowrap;opacity:.92}
.cell .dur.slow{font-weight:700}
.strip{display:inline-flex;gap:2px;margin-top:5px;padding:2px;border-radius:3px;background:#ffffff}
.strip:empty{display:none}
.strip i{width:9px;height:9px;border-radius:2px}
.legend{display:flex;flex-wrap:wrap;align-items:center;gap:6px;margin-top:10px;font-size:12px;color:#6b7280}
.fleet{display:grid;grid-template-columns:repeat(auto-fit,minmax(220px,1fr));gap:8px 16px}
.fleet h3{margin:0 0 4px;font-size:13px;color:#374151}
.fleet ul{margin:0;padding-left:18px}
.fleet li{overflow-wrap:anywhere}
.muted{color:#6b7280}
.nights{display:flex;flex-wrap:wrap;gap:4px 12px;font-size:13px}
.facts{display:grid;grid-template-columns:max-content minmax(0,1fr);gap:4px 16px;margin:0}
.facts dt{color:#6b7280}
.facts dd{margin:0;overflow-wrap:anywhere}
.links{display:flex;flex-wrap:wrap;gap:4px 16px;margin-top:12px}
pre.log{margin:0;padding:10px 12px;max-height:70vh;overflow:auto;border-radius:6px;background:#0f172a;color:#e2e8f0;font:12px/1.45 "DejaVu Sans Mono","Liberation Mono",ui-monospace,Menlo,monospace;white-space:pre-wrap;overflow-wrap:anywhere}
@media (max-width:600px){
.wrap{padding:10px}
.top .wrap{padding:12px 12px 14px}
h1{font-size:20px}
.card{padding:12px}
.grid th.row{white-space:normal;min-width:88px;max-width:120px;font-size:12px}
.grid th.row b{display:block}
.cell{min-width:112px;padding:5px 7px}
}
${statusClasses}
`;
