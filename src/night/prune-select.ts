/**
 * Which night folders to remove — pure, so every boundary is tested without a disk. The 2018 cron
 * silently never pruned because it compared a path to a date: here a folder name is first parsed
 * into a calendar day (or left alone), and only days are compared.
 */
import { MAX_KEEP_DAYS } from '../config/model.js';
import { addDays, isNightDate } from './night-date.js';

export { MAX_KEEP_DAYS };

/** Why a night is kept. */
export type KeepReason =
  /** Inside the keep_days window. */
  | 'recent'
  /** The current night. */
  | 'today'
  /** Dated after today (a clock set wrong, a test run with --date): not ours to judge. */
  | 'future'
  /** A live process holds its lock. */
  | 'locked'
  /** Old enough to go, but the newest such: some night always stays. */
  | 'newest';

export interface PruneSelection {
  /** The day ages were counted from: the requested today, or the clock's when that is earlier (pruneToday). */
  today: string;
  /** Set when nothing may be removed at all, saying why (the cut-off is not a real date). */
  refused?: string;
  /** Nights to remove, oldest first. */
  remove: string[];
  /** Nights kept, oldest first; only real night folders (junk names are in neither list). */
  keep: string[];
  /** Why each kept night is kept. */
  reasons: ReadonlyMap<string, KeepReason>;
}

export interface PruneRequest {
  /** Folder names under root, junk included: only real YYYY_MM_DD dates are ever considered. */
  nights: readonly string[];
  /** The current night as asked for (run's or prune's --date), YYYY_MM_DD. */
  today: string;
  /** Today by the real clock in the schedule's time zone: ages are never counted from a later day. */
  clockToday: string;
  /** How many nights to keep: with 5 on 2026_11_22, nights 18..22 stay and 17 and older go. */
  keepDays: number;
  /** Nights whose lock is held by a live process. */
  locked?: ReadonlySet<string>;
}

/**
 * The nights older than the keep_days window. Never today, a future night, a locked night, or the
 * last remaining night (when every night qualifies, the newest stays).
 */
export function selectNightsToPrune(request: PruneRequest): PruneSelection {
  const today = pruneToday(request.today, request.clockToday);
  if (!Number.isSafeInteger(request.keepDays) || request.keepDays < 1) {
    throw new Error(`keepDays must be a whole number of nights, 1 or more (got ${request.keepDays})`);
  }
  // Like the old cron, which on the 12th removed the 7th with 5 days: the window is today and the
  // keepDays - 1 nights before it, so today - keepDays and older go.
  const cutoff = addDays(today, -request.keepDays);
  const locked = request.locked ?? new Set<string>();
  const reasons = new Map<string, KeepReason>();
  const remove: string[] = [];
  const nights = realNights(request.nights);
  if (!isNightDate(cutoff)) {
    // A window reaching before year 1 (or past what dates can hold) compares as nonsense: remove nothing.
    for (const night of nights) reasons.set(night, protection(night, today, locked) ?? 'recent');
    const refused = `the oldest night to keep, ${request.keepDays} nights before ${today}, is not a date; no night was removed (keep_days is at most ${MAX_KEEP_DAYS})`;
    return { today, refused, remove, keep: nights, reasons };
  }
  for (const night of nights) {
    const protectedBy = protection(night, today, locked);
    if (protectedBy) reasons.set(night, protectedBy);
    else if (night > cutoff) reasons.set(night, 'recent');
    else remove.push(night);
  }
  if (remove.length > 0 && remove.length === nights.length) reasons.set(remove.pop()!, 'newest');
  return { today, remove, keep: nights.filter((n) => reasons.has(n)), reasons };
}

/**
 * The day prune counts ages from: the requested night, but never a day after the real clock's (a typo'd
 * `run --date 2027_11_22` must not make this month's nights look a year old). Every pruning — run,
 * daemon, `nightshift prune`, the disk guard — goes through here.
 */
export function pruneToday(requested: string, clockToday: string): string {
  checkToday(requested);
  checkToday(clockToday);
  return requested < clockToday ? requested : clockToday;
}

export interface SpaceRequest {
  nights: readonly string[];
  /** The night about to start, as asked for. */
  today: string;
  /** Today by the real clock (see pruneToday). */
  clockToday: string;
  locked?: ReadonlySet<string>;
  /** How many bytes must be freed. */
  bytesNeeded: number;
  /** Bytes each night's folder takes (see folderSize); a night missing here counts as 0. */
  sizes: ReadonlyMap<string, number>;
}

export interface SpaceSelection {
  /** Nights to remove, oldest first: as few as free bytesNeeded, or every allowed one when that is not enough. */
  remove: string[];
  /** Bytes the removed nights take. */
  freed: number;
  /** True when `freed` reaches `bytesNeeded`. */
  enough: boolean;
}

/**
 * The oldest nights to remove to free `bytesNeeded`, ignoring keep_days (space comes first), with
 * the protections of spaceCandidates.
 */
export function selectForSpace(request: SpaceRequest): SpaceSelection {
  const remove: string[] = [];
  let freed = 0;
  for (const night of spaceCandidates(request)) {
    if (freed >= request.bytesNeeded) break;
    remove.push(night);
    freed += request.sizes.get(night) ?? 0;
  }
  return { remove, freed, enough: freed >= request.bytesNeeded };
}

/**
 * The nights that may go to make room, oldest first: never today, a future night or a locked night,
 * and never the newest night before today — the last finished night stays even when today's folder
 * already exists (a resumed or freshly created night has no results yet).
 */
export function spaceCandidates(request: Pick<SpaceRequest, 'nights' | 'today' | 'clockToday' | 'locked'>): string[] {
  const today = pruneToday(request.today, request.clockToday);
  const locked = request.locked ?? new Set<string>();
  const past = realNights(request.nights).filter((night) => night < today);
  const newest = past.at(-1);
  return past.filter((night) => night !== newest && !locked.has(night));
}

/** Real dates only, oldest first (YYYY_MM_DD sorts as text in date order), each once. */
function realNights(names: readonly string[]): string[] {
  return [...new Set(names.filter(isNightDate))].sort();
}

function protection(night: string, today: string, locked: ReadonlySet<string>): KeepReason | undefined {
  if (night === today) return 'today';
  if (night > today) return 'future';
  if (locked.has(night)) return 'locked';
  return undefined;
}

function checkToday(today: string): void {
  if (!isNightDate(today)) throw new Error(`today must be a date in the form YYYY_MM_DD (got ${JSON.stringify(today)})`);
}
