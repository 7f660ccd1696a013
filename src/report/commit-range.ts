/**
 * Which recipes commits a failing cell lies between: the commit of the last night it succeeded and
 * the commit of the first night of its failing streak, as short hashes, and a compare view when the
 * recipes repository is on GitHub or GitLab over https. Pure.
 */

export interface CommitRange {
  /** The recipes commit tonight's build of the cell used. */
  tonight: string | null;
  /** The recipes commit of the last night the cell succeeded (null: the history knows no such night). */
  lastGood: string | null;
  /** The recipes commit of the first night of the current failing streak. */
  firstBad: string | null;
  /** A web page comparing the two, when the repository has one. */
  compareUrl: string | null;
}

export const SHORT_HASH = 7;
export const shortHash = (commit: string) => commit.slice(0, SHORT_HASH);

/**
 * The compare view of a GitHub- or GitLab-style https repository URL, or null (ssh, file, other hosts).
 * Credentials in the URL are dropped: the link is for people reading the report.
 */
export function compareUrl(repo: string, from: string, to: string): string | null {
  let url: URL;
  try {
    url = new URL(repo);
  } catch {
    return null;
  }
  if (url.protocol !== 'https:') return null;
  const project = url.pathname.replace(/\/+$/, '').replace(/\.git$/, '');
  if (project.split('/').filter(Boolean).length < 2) return null;
  const host = url.host.toLowerCase();
  const compare = host === 'github.com' || host.startsWith('github.') ? '/compare/' : host.includes('gitlab') ? '/-/compare/' : undefined;
  if (!compare) return null;
  return `https://${url.host}${project}${compare}${encodeURIComponent(from)}...${encodeURIComponent(to)}`;
}

/** The range as the report says it: `abc1234..def5678`, or why there is none. */
export function rangeText(range: CommitRange): string | null {
  if (!range.firstBad) return null;
  const bad = shortHash(range.firstBad);
  if (!range.lastGood) return `first failing night at ${bad} (no good night in the history)`;
  if (range.lastGood === range.firstBad) return `${bad} on both nights (the recipes did not change: the cause is elsewhere)`;
  return `${shortHash(range.lastGood)}..${bad}`;
}
