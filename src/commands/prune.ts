/**
 * `nightshift prune`: remove night folders older than keep_days, this machine's leftover containers,
 * and the least recently used package caches beyond cache_size.
 */
import { loadSchedule, machineName, type GlobalOptions } from '../context.js';
import type { Io } from '../output/io.js';
import { humanOutput, printJson } from '../output/json.js';
import { ExitCode, NightshiftError } from '../errors.js';
import { addDays, resolveNightDate } from '../night/night-date.js';
import { pruneNights, type PruneResult } from '../runner/prune.js';
import { MAX_KEEP_DAYS, type KeepReason } from '../night/prune-select.js';
import type { TrimCachesResult } from '../runner/cache-trim.js';
import type { CacheEntry } from '../night/cache-select.js';
import { formatSize } from '../units.js';

export interface PruneOptions extends GlobalOptions {
  /** Overrides the schedule's keep_days (text as given on the command line). */
  keepDays?: string;
  dryRun?: boolean;
  json?: boolean;
}

export async function prune(options: PruneOptions, io: Io): Promise<number> {
  const { schedule } = await loadSchedule(options);
  // --date acts as "today": re-running a missed prune, and tests, need a fixed today.
  const today = resolveNightDate(options.date, schedule.timezone);
  const keepDays = options.keepDays === undefined ? schedule.keepDays : parseKeepDays(options.keepDays);
  const machine = machineName(options);
  const dryRun = options.dryRun ?? false;
  const result = await pruneNights({ root: schedule.root, today, timezone: schedule.timezone, keepDays, dryRun, machine, cacheSizeBytes: schedule.cacheSizeBytes });
  for (const error of result.errors) io.err(`nightshift: ${error}`);
  // Not nightshift's root: a configuration problem, and nothing else was looked at.
  if (result.refused) return ExitCode.usage;

  if (options.json) printJson(io, pruneJson(result, { root: schedule.root, keepDays, dryRun, machine }));
  // With --json the plain lines go to stderr: stdout holds the JSON alone.
  const human = humanOutput(io, options.json);
  const oldestKept = addDays(result.today, -(keepDays - 1));
  const what = keepDays === 1 ? 'only tonight' : `${keepDays} nights, ${oldestKept} to ${result.today}`;
  human.out(`${dryRun ? 'dry run: ' : ''}nights under ${schedule.root}: keeping ${what}`);
  for (const line of resultLines(result, dryRun)) human.out(line);
  return result.errors.length ? ExitCode.serviceUnavailable : ExitCode.ok;
}

/**
 * `prune --json`: what went (with --dry-run: would go) and what stayed, with why, and the bytes freed by
 * the nights and caches removed.
 */
function pruneJson(result: PruneResult, options: { root: string; keepDays: number; dryRun: boolean; machine: string }) {
  const nightBytes = result.removed.reduce((sum, night) => sum + (result.removedBytes.get(night) ?? 0), 0);
  const caches = result.caches;
  const cacheBytes = caches?.removed.reduce((sum, cache) => sum + cache.bytes, 0) ?? 0;
  const cacheJson = (cache: CacheEntry) => ({ key: cache.key, bytes: cache.bytes, last_used_at: new Date(cache.lastUsedMs).toISOString() });
  return {
    root: options.root,
    today: result.today,
    keep_days: options.keepDays,
    dry_run: options.dryRun,
    machine: options.machine,
    nights: {
      removed: result.removed.map((night) => ({ date: night, bytes: result.removedBytes.get(night) ?? 0 })),
      kept: result.kept.map((night) => ({ date: night, reason: result.reasons.get(night) ?? null })),
    },
    containers_removed: result.containersRemoved.map(containerJson),
    caches: caches
      ? {
          dir: caches.dir,
          cap_bytes: caches.capBytes,
          total_bytes: caches.totalBytes,
          bytes_after: caches.bytesAfter,
          removed: caches.removed.map(cacheJson),
          kept: caches.kept.map((cache) => ({ ...cacheJson(cache), reason: caches.reasons.get(cache.key) ?? null })),
        }
      : null,
    bytes_freed: nightBytes + cacheBytes,
    errors: result.errors,
    notes: result.notes,
  };
}

/** `name (night 2026_11_20)`, as leftover-containers.ts names a container it removed, as {name, night}. */
function containerJson(text: string): { name: string; night: string | null } {
  const match = /^(.*) \(night (\d{4}_\d\d_\d\d)\)$/.exec(text);
  return match ? { name: match[1]!, night: match[2]! } : { name: text, night: null };
}

function parseKeepDays(text: string): number {
  const days = /^\d+$/.test(text.trim()) ? Number(text.trim()) : NaN;
  if (Number.isSafeInteger(days) && days >= 1 && days <= MAX_KEEP_DAYS) return days;
  throw new NightshiftError(`--keep-days expects a whole number of nights from 1 (only tonight) to ${MAX_KEEP_DAYS} (ten years), got ${JSON.stringify(text)}`, ExitCode.usage);
}

const REASONS: Record<Exclude<KeepReason, 'recent'>, string> = {
  today: 'tonight',
  future: 'dated after today',
  locked: 'in use: a live nightshift holds its lock',
  newest: 'the newest night, always kept',
};

/** Plain lines: one per removed night or container, recent nights on one line, other kept nights with why. */
export function resultLines(result: PruneResult, dryRun: boolean): string[] {
  const verb = dryRun ? 'would remove' : 'removed';
  const lines = result.removed.map((night) => `${verb} night ${night}`);
  if (result.removed.length === 0) lines.push(dryRun ? 'no night to remove' : 'no night removed');
  const recent = result.kept.filter((night) => result.reasons.get(night) === 'recent');
  if (recent.length) lines.push(`kept ${recent.join(', ')}`);
  for (const night of result.kept) {
    const reason = result.reasons.get(night);
    if (reason && reason !== 'recent') lines.push(`kept ${night}: ${REASONS[reason]}`);
  }
  lines.push(...result.containersRemoved.map((container) => `${verb} leftover container ${container}`));
  if (result.caches) lines.push(...cacheLines(result.caches, dryRun));
  lines.push(...result.notes);
  return lines;
}

/** The caches' total against the cap, each cache removed with its size and last use, those kept in use. */
export function cacheLines(caches: TrimCachesResult, dryRun: boolean): string[] {
  const count = caches.removed.length + caches.kept.length;
  if (count === 0) return [];
  const head = `caches under ${caches.dir}: ${count} taking ${formatSize(caches.totalBytes)}, cache_size ${formatSize(caches.capBytes)}`;
  if (caches.removed.length === 0 && caches.totalBytes <= caches.capBytes) return [`${head}, nothing to trim`];
  const lines = [head];
  const verb = dryRun ? 'would remove' : 'removed';
  for (const cache of caches.removed) lines.push(`${verb} cache ${cache.key} (${formatSize(cache.bytes)}, last used ${formatTime(cache.lastUsedMs)})`);
  for (const cache of caches.kept) {
    if (caches.reasons.get(cache.key) === 'in-use') lines.push(`kept cache ${cache.key} (${formatSize(cache.bytes)}): in use by a running night`);
  }
  const after = `${formatSize(caches.bytesAfter)} of ${formatSize(caches.capBytes)}`;
  lines.push(caches.bytesAfter <= caches.capBytes ? `caches ${dryRun ? 'would take' : 'now take'} ${after}` : `caches stay over cache_size: ${after}`);
  return lines;
}

/** `2026-11-20 01:02 UTC`: one zone for every machine's output. */
function formatTime(ms: number): string {
  return `${new Date(ms).toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
