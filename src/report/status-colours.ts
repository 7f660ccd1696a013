/**
 * What each status looks like wherever nightshift shows one — the morning report and the live page —
 * so that a colour and a mark mean the same in the mail and in the browser. Every symbol is one DejaVu
 * Sans and Liberation Sans have (Linux mail readers and browsers fall back to them): no emoji, and the
 * timeout mark is ◷, not ⏱, which those fonts lack. A timeout gets its own colour: it is never to be
 * mistaken for a plain failure.
 */
import type { CellStatus } from './model.js';

export interface StatusColours {
  symbol: string;
  bg: string;
  fg: string;
}

export const STATUS_COLOURS: Record<CellStatus, StatusColours> = {
  succeeded: { symbol: '✓', bg: '#dcfce7', fg: '#14532d' },
  failed: { symbol: '✗', bg: '#dc2626', fg: '#ffffff' },
  timed_out: { symbol: '◷', bg: '#ea580c', fg: '#ffffff' },
  canceled: { symbol: '—', bg: '#d1d5db', fg: '#1f2937' },
  // The machine's fault (its Docker engine was down), not the build's: apart from failures too.
  not_run: { symbol: '⚠', bg: '#fde68a', fg: '#78350f' },
  skipped: { symbol: '·', bg: '#f3f4f6', fg: '#6b7280' },
  pending: { symbol: '…', bg: '#dbeafe', fg: '#1e3a8a' },
  running: { symbol: '▶', bg: '#dbeafe', fg: '#1e3a8a' },
  missing: { symbol: '?', bg: '#f3e8ff', fg: '#6b21a8' },
};
