/** Durations (`90m`, `4h`, `1h30m`, `45s`) and sizes (`32g`, `512m`) as users write them in YAML. */

const DURATION_UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 };
const DURATION = /^(?:\d+(?:\.\d+)?[smhd])+$/;

/** Seconds, or undefined when `text` is not a duration. */
export function parseDuration(text: string): number | undefined {
  const trimmed = text.trim().toLowerCase();
  if (!DURATION.test(trimmed)) return undefined;
  let seconds = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+(?:\.\d+)?)([smhd])/g)) {
    seconds += Number(amount) * DURATION_UNITS[unit!]!;
  }
  return seconds > 0 ? Math.round(seconds) : undefined;
}

export function formatDuration(seconds: number): string {
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = s % 60;
  if (h === 0) return rest ? `${m}m${rest}s` : `${m}m`;
  return m ? `${h}h${m}m` : `${h}h`;
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4 };
const SIZE = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/;

/** Bytes (binary units, like Docker's `--memory 32g`), or undefined when `text` is not a size. */
export function parseSize(text: string): number | undefined {
  const match = SIZE.exec(text.trim().toLowerCase());
  if (!match) return undefined;
  const bytes = Number(match[1]) * SIZE_UNITS[match[2]!]!;
  return bytes > 0 ? Math.round(bytes) : undefined;
}

export function formatSize(bytes: number): string {
  for (const [unit, factor] of [
    ['T', 1024 ** 4],
    ['G', 1024 ** 3],
    ['M', 1024 ** 2],
    ['K', 1024],
  ] as const) {
    if (bytes >= factor) return `${(bytes / factor).toFixed(bytes % factor ? 1 : 0)}${unit}`;
  }
  return `${bytes}B`;
}
