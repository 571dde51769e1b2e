// Sign-in sessions of the status page, held in this process's memory: the cookie carries a random id and
// nothing else. In memory, not in the catalog, so the page still signs in and shows "catalog unreachable"
// when the catalog is down, and sign-out really ends a session (a signed cookie would stay valid until it
// expires). The cost: a restart signs everyone out, and behind a load balancer each replica has its own
// sessions (use sticky sessions, or sign in again). Ids are kept as SHA-256 digests, never as given.
import { createHash, randomBytes } from 'node:crypto';

export interface Session {
  /** The token it was signed in with (by name: its role is read from the config at each request). */
  tokenName: string;
  /** Sent back in every form; a POST without it is refused (CSRF). */
  csrf: string;
  createdAt: Date;
  expiresAt: Date;
  /** One message for the next page (the outcome of an action), then cleared. */
  flash?: { kind: 'ok' | 'error'; text: string } | undefined;
}

export interface SessionStore {
  /** A new session; returns the id for the cookie. */
  create(tokenName: string): { id: string; session: Session };
  /** The live session of this id, or undefined (unknown or expired, then forgotten). */
  get(id: string): Session | undefined;
  destroy(id: string): void;
  readonly size: number;
}

export interface SessionStoreOptions {
  lifetimeMs: number;
  now: () => Date;
  /** Past this many live sessions the oldest is dropped (sign-ins need a valid token, so this is a bound, not a defence). */
  maxSessions?: number;
}

const digest = (id: string): string => createHash('sha256').update(id).digest('base64url');

export function createSessionStore(options: SessionStoreOptions): SessionStore {
  const sessions = new Map<string, Session>();
  const max = options.maxSessions ?? 10_000;

  const sweep = (now: number) => {
    for (const [key, s] of sessions) if (s.expiresAt.getTime() <= now) sessions.delete(key);
  };

  return {
    create(tokenName) {
      const now = options.now();
      if (sessions.size >= max) sweep(now.getTime());
      // Map iteration is insertion order: the first key is the oldest session.
      while (sessions.size >= max) sessions.delete(sessions.keys().next().value!);
      const id = randomBytes(32).toString('base64url');
      const session: Session = { tokenName, csrf: randomBytes(32).toString('base64url'), createdAt: now, expiresAt: new Date(now.getTime() + options.lifetimeMs) };
      sessions.set(digest(id), session);
      return { id, session };
    },
    get(id) {
      const key = digest(id);
      const session = sessions.get(key);
      if (session && session.expiresAt.getTime() <= options.now().getTime()) {
        sessions.delete(key);
        return undefined;
      }
      return session;
    },
    destroy(id) {
      sessions.delete(digest(id));
    },
    get size() {
      return sessions.size;
    },
  };
}
