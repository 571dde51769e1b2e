// Who may call what: bearer tokens for /api (named in config; the name is the actor) and optional basic auth
// for /metrics. Secrets are compared as SHA-256 digests with timingSafeEqual, so neither where two values
// differ nor how long they are shows in the response time.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler, Response } from 'express';
import { HttpError } from './http-error.js';

export const REALM = 'pgwarden';

const digest = (value: string): Buffer => createHash('sha256').update(value, 'utf8').digest();

/** Equal strings, compared in constant time; strings of different lengths are simply unequal. */
export function constantTimeEqual(a: string, b: string): boolean {
  return timingSafeEqual(digest(a), digest(b));
}

export type TokenRole = 'read' | 'operate';

export interface NamedToken {
  readonly name: string;
  readonly token: string;
  /** Default `operate` (what every token could do before roles existed). */
  readonly role?: TokenRole | undefined;
}

export interface TokenIdentity {
  name: string;
  role: TokenRole;
}

/** Returns the name and role of the token presented, or undefined. Every token is compared, whichever matches. */
export function createTokenResolver(tokens: readonly NamedToken[]): (presented: string) => TokenIdentity | undefined {
  const known = tokens.map((t) => ({ name: t.name, role: t.role ?? 'operate', digest: digest(t.token) }));
  return (presented) => {
    const candidate = digest(presented);
    let found: TokenIdentity | undefined;
    for (const token of known) {
      if (timingSafeEqual(candidate, token.digest) && found === undefined) found = { name: token.name, role: token.role };
    }
    return found;
  };
}

/** Returns the name of the token presented, or undefined. Every token is compared, whichever matches. */
export function createTokenMatcher(tokens: readonly NamedToken[]): (presented: string) => string | undefined {
  const resolve = createTokenResolver(tokens);
  return (presented) => resolve(presented)?.name;
}

/** The credentials of an `Authorization: <scheme> <credentials>` header, when the scheme is `scheme`. */
export function credentialsOf(header: string | undefined, scheme: 'Bearer' | 'Basic'): string | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(\S+)\s+(\S+)\s*$/.exec(header);
  if (!match || match[1]!.toLowerCase() !== scheme.toLowerCase()) return undefined;
  return match[2];
}

/** The actor recorded for this request (`api:<token name>`), once bearer auth has passed. */
export function actorOf(res: Response): string | undefined {
  const actor: unknown = res.locals.actor;
  return typeof actor === 'string' ? actor : undefined;
}

/** The role of the token this request was authenticated with; undefined before auth. */
export function roleOf(res: Response): TokenRole | undefined {
  const role: unknown = res.locals.role;
  return role === 'read' || role === 'operate' ? role : undefined;
}

/** Records who is calling: the actor for logs and access logs, the role for requireOperate. */
export function setIdentity(res: Response, actor: string, role: TokenRole): void {
  res.locals.actor = actor;
  res.locals.role = role;
}

/** 401 without a bearer token, 403 with one that is not configured; else sets the actor and role. */
export function bearerAuth(tokens: readonly NamedToken[]): RequestHandler {
  const resolve = createTokenResolver(tokens);
  return (req, res, next) => {
    const presented = credentialsOf(req.headers.authorization, 'Bearer');
    if (presented === undefined) {
      throw new HttpError(401, 'UNAUTHENTICATED', 'this endpoint needs an API token: send "Authorization: Bearer <token>"', {
        'WWW-Authenticate': `Bearer realm="${REALM}"`,
      });
    }
    const identity = resolve(presented);
    if (identity === undefined) {
      throw new HttpError(403, 'FORBIDDEN', 'the API token is not valid (it is not one of server.tokens)');
    }
    setIdentity(res, `api:${identity.name}`, identity.role);
    next();
  };
}

/** 403 unless the caller's token has role `operate`: runs, verifications and silences change things. */
export const requireOperate: RequestHandler = (req, res, next) => {
  if (roleOf(res) !== 'operate') {
    throw new HttpError(403, 'FORBIDDEN', `${req.method} ${req.baseUrl}${req.path} needs a token with role "operate"; ${actorOf(res) ?? 'this token'} has role "read"`);
  }
  next();
};

/** HTTP basic auth against one username and password; any failure is 401 with the challenge. */
export function basicAuth(expected: { readonly username: string; readonly password: string }): RequestHandler {
  return (req, _res, next) => {
    const encoded = credentialsOf(req.headers.authorization, 'Basic');
    const decoded = encoded === undefined ? undefined : Buffer.from(encoded, 'base64').toString('utf8');
    const colon = decoded?.indexOf(':') ?? -1;
    if (decoded !== undefined && colon >= 0) {
      // Both halves are compared every time, so a right username does not answer faster than a wrong one.
      const userOk = constantTimeEqual(decoded.slice(0, colon), expected.username);
      const passwordOk = constantTimeEqual(decoded.slice(colon + 1), expected.password);
      if (userOk && passwordOk) {
        next();
        return;
      }
    }
    throw new HttpError(401, 'UNAUTHENTICATED', 'metrics need HTTP basic auth (server.metricsAuth)', {
      'WWW-Authenticate': `Basic realm="${REALM}"`,
    });
  };
}
