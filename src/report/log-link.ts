/**
 * Where a failure's "Full log" points, in order of preference: the schedule's `report.log_url` (a web
 * server in front of the destination), the build's page on the machine's `nightshift serve`
 * (`report.serve_url`), the published object itself when the destination is a local folder (a file URL),
 * else nothing (the report shows the key as text). Pure.
 */

export interface LogLinkSettings {
  /** `report.log_url`: an http(s) URL with {key}. */
  logUrl?: string;
  /** `report.serve_url`: an http(s) URL with {machine}. */
  serveUrl?: string;
  /** The destination root the keys are under (`file:///…/` or `s3://…/`). */
  destinationUrl: string;
  /** The night, YYYY_MM_DD. */
  date: string;
}

/** The build page of `nightshift serve` (a fixed route of the server). */
export function servePageUrl(serveUrl: string, machine: string, date: string, id: string): string {
  const root = serveUrl.replaceAll('{machine}', encodeURIComponent(machine)).replace(/\/+$/, '');
  return `${root}/nights/${encodeURIComponent(date)}/builds/${encodeURIComponent(id)}`;
}

/** A link that opens the build's log (or its page), or null when none can be made. */
export function logLink(settings: LogLinkSettings, build: { key: string; machine: string; id: string }): string | null {
  if (settings.logUrl) return settings.logUrl.replace('{key}', build.key);
  // With the shared queue a missing cell has no machine; its page cannot be named.
  if (settings.serveUrl && build.machine) return servePageUrl(settings.serveUrl, build.machine, settings.date, build.id);
  if (settings.destinationUrl.startsWith('file:')) return new URL(build.key, settings.destinationUrl).href;
  return null;
}
