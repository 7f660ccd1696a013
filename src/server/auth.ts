/**
 * The token check in front of every route but the public ones (`/healthz`). A client shows the token
 * once, as `Authorization: Bearer T` or as `?token=T`; the latter sets a cookie (HttpOnly, SameSite=Strict)
 * and sends the browser to the same address without the token, so the page's links work and the token
 * stays out of the address bar and its history. The cookie holds a value derived from the token, not
 * the token. Comparisons take the same time whatever the guess.
 */
import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';

export const AUTH_COOKIE = 'nightshift_serve';

export interface TokenGuard {
  /** Lets the request through (true), or answers it: 401, or the redirect that trades `?token=` for the cookie. */
  check(request: FastifyRequest, reply: FastifyReply): boolean;
}

const digest = (text: string) => createHash('sha256').update(text).digest();
/** Equal digests of equal length: the time does not depend on where the texts differ, nor on their lengths. */
const sameSecret = (a: string, b: string) => timingSafeEqual(digest(a), digest(b));

export function tokenGuard(token: string): TokenGuard {
  const cookieValue = createHmac('sha256', token).update('nightshift serve cookie v1').digest('base64url');
  return {
    check(request, reply) {
      const bearer = /^Bearer\s+(.+)$/i.exec(request.headers.authorization ?? '')?.[1]?.trim();
      if (bearer !== undefined && sameSecret(bearer, token)) return true;
      const cookie = cookieOf(request.headers.cookie, AUTH_COOKIE);
      if (cookie !== undefined && sameSecret(cookie, cookieValue)) return true;
      const url = new URL(request.url, 'http://serve.invalid');
      const given = url.searchParams.get('token');
      if (given !== null && sameSecret(given, token)) {
        url.searchParams.delete('token');
        void reply
          .code(303)
          .header('set-cookie', `${AUTH_COOKIE}=${cookieValue}; Path=/; HttpOnly; SameSite=Strict`)
          .header('cache-control', 'no-store')
          .redirect(url.pathname + url.search, 303);
        return false;
      }
      void reply
        .code(401)
        .header('www-authenticate', 'Bearer realm="nightshift"')
        .header('cache-control', 'no-store')
        .type('text/plain; charset=utf-8')
        .send(
          'nightshift serve: this page needs the token it was started with (NIGHTSHIFT_SERVE_TOKEN): open it once as ' +
            `${url.pathname}?token=... (a cookie then keeps you in), or send the header Authorization: Bearer ...\n`,
        );
      return false;
    },
  };
}

function cookieOf(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const at = part.indexOf('=');
    if (at > 0 && part.slice(0, at).trim() === name) return part.slice(at + 1).trim();
  }
  return undefined;
}
