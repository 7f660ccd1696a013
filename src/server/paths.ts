/**
 * The live page's addresses. They are a contract: the morning report links to them, so they change
 * only with a line in CHANGELOG.md. routes.ts serves `patterns`; pages link with `paths`.
 */
function addresses(part: (text: string) => string) {
  return {
    healthz: '/healthz',
    metrics: '/metrics',
    current: '/',
    night: (date: string) => `/nights/${part(date)}`,
    nightJson: (date: string) => `/api/nights/${part(date)}`,
    nightEvents: (date: string) => `/api/nights/${part(date)}/events`,
    build: (date: string, id: string) => `/nights/${part(date)}/builds/${part(id)}`,
    logEvents: (date: string, id: string) => `/nights/${part(date)}/builds/${part(id)}/log`,
    logText: (date: string, id: string) => `/nights/${part(date)}/builds/${part(id)}/log.txt`,
  };
}

/** Addresses of a night and build, each part URL-encoded. */
export const paths = addresses(encodeURIComponent);
/** The same addresses as route patterns (`:date`, `:id`). */
export const patterns = addresses((name) => `:${name}`);
