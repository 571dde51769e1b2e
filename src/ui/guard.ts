// What stands between a browser and the status page's actions: the session cookie (HttpOnly, SameSite=Strict,
// Secure over TLS, expiring), the per-session CSRF token every form carries, and an Origin check on POST.
import type { Request, Response } from 'express';
import { constantTimeEqual } from '../http/auth.js';
import { HttpError } from '../http/http-error.js';

export const SESSION_COOKIE = 'pgwarden_session';

/** The cookies of a request (no dependency: the header format is simple and we read one cookie). */
export function cookiesOf(req: Request): Map<string, string> {
  const out = new Map<string, string>();
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq <= 0) continue;
    const name = part.slice(0, eq).trim();
    if (!out.has(name)) out.set(name, part.slice(eq + 1).trim());
  }
  return out;
}

/** Over TLS directly, or behind a proxy that terminated it (X-Forwarded-Proto: https). */
export function servedOverTls(req: Request): boolean {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  return req.secure || proto === 'https';
}

export function sessionCookie(req: Request, value: string, maxAgeSeconds: number): string {
  const flags = [`${SESSION_COOKIE}=${value}`, 'Path=/', 'HttpOnly', 'SameSite=Strict', `Max-Age=${maxAgeSeconds}`];
  if (servedOverTls(req)) flags.push('Secure');
  return flags.join('; ');
}

export function clearedSessionCookie(req: Request): string {
  return sessionCookie(req, '', 0);
}

/**
 * 403 unless a POST comes from a page of this server: the Origin header (every current browser sends it on a
 * POST) must name this host; without one, Sec-Fetch-Site must not say the request is cross-site.
 */
export function checkSameOrigin(req: Request): void {
  const origin = req.headers.origin;
  const host = req.headers.host;
  if (origin !== undefined && origin !== 'null') {
    let originHost: string | undefined;
    try {
      originHost = new URL(origin).host;
    } catch {
      originHost = undefined;
    }
    if (originHost === undefined || host === undefined || originHost.toLowerCase() !== host.toLowerCase()) {
      throw new HttpError(403, 'CROSS_ORIGIN', 'this form was sent from another site; open the status page itself and try again');
    }
    return;
  }
  const site = req.headers['sec-fetch-site'];
  if (origin === 'null' || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
    throw new HttpError(403, 'CROSS_ORIGIN', 'this form was sent from another site; open the status page itself and try again');
  }
}

/** 403 unless the form's csrf field is the session's token. */
export function checkCsrf(req: Request, expected: string): void {
  const body = req.body as Record<string, unknown> | undefined;
  const given = typeof body?.['csrf'] === 'string' ? body['csrf'] : '';
  if (!constantTimeEqual(given, expected)) {
    throw new HttpError(403, 'CSRF', 'the form has expired or did not come from this page; reload the page and try again');
  }
}

/** Headers of every page: scripts and styles only from this server, no inline code, no framing. */
export function pageHeaders(res: Response): void {
  res.set({
    'Content-Security-Policy':
      "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    'Cache-Control': 'no-store',
    'Content-Type': 'text/html; charset=utf-8',
    // Not no-referrer (the API's): under it a browser sends `Origin: null` with a form's POST, and the
    // origin check could not tell our own forms from a sandboxed attacker's.
    'Referrer-Policy': 'same-origin',
  });
}
