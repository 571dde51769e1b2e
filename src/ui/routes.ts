// The status page (issue #10): server-rendered HTML at `/` for people, next to the JSON API for programs.
// Sign-in turns an API token into a session cookie; every action goes through the same functions as the
// API (HttpActions) with the actor `ui:<token name>`, and a `read` token sees no actions and may run none.
import express, { type ErrorRequestHandler, type Request, type RequestHandler, type Response, Router } from 'express';
import type { Logger } from 'pino';
import type { BackupStatus, BackupType } from '../catalog/types.js';
import type { Config } from '../config/index.js';
import { errorMessage } from '../errors.js';
import { createTokenResolver, setIdentity, type TokenRole } from '../http/auth.js';
import { describeError, HttpError } from '../http/http-error.js';
import type { HttpActions } from '../http/types.js';
import { checkBackupId, parseRunBackupBody, parseSilenceBody } from '../http/validate.js';
import type { StatusSource } from '../status/types.js';
import { loadAssets } from './assets.js';
import { checkCsrf, checkSameOrigin, clearedSessionCookie, cookiesOf, pageHeaders, SESSION_COOKIE, sessionCookie } from './guard.js';
import { html } from './html.js';
import { createSessionStore, type Session, type SessionStore } from './sessions.js';
import { databasePage } from './views/database.js';
import { page, type Viewer } from './views/layout.js';
import { overviewPage } from './views/overview.js';
import { signInPage } from './views/sign-in.js';

export interface StatusPageDeps {
  config: Pick<Config, 'server' | 'databases'>;
  logger: Logger;
  status: StatusSource;
  /** The same actions the API routes call. */
  actions: HttpActions;
  now?: () => Date;
  /** Default: an in-memory store with server.sessionLifetime. */
  sessions?: SessionStore;
}

const BACKUP_TYPES: readonly BackupType[] = ['full', 'base', 'incremental', 'wal'];
const BACKUP_STATUSES: readonly BackupStatus[] = ['running', 'succeeded', 'failed', 'expired'];
const FORM_LIMIT = '16kb';

interface Signed {
  id: string;
  session: Session;
  viewer: Viewer;
}

const signedOf = (res: Response): Signed | undefined => res.locals.ui as Signed | undefined;

function send(res: Response, status: number, body: string): void {
  pageHeaders(res);
  res.status(status).send(body);
}

/** After a POST: back to a page with a 303, so reloading does not repeat the action. */
function back(res: Response, to: string): void {
  res.redirect(303, to);
}

export function createStatusPage(deps: StatusPageDeps): Router {
  const { config } = deps;
  const logger = deps.logger.child({ component: 'ui' });
  const now = deps.now ?? (() => new Date());
  const lifetimeMs = config.server.sessionLifetimeMs;
  const sessions = deps.sessions ?? createSessionStore({ lifetimeMs, now });
  const resolveToken = createTokenResolver(config.server.tokens);
  const roles = new Map<string, TokenRole>(config.server.tokens.map((t) => [t.name, t.role ?? 'operate']));
  const assets = loadAssets();
  const form = express.urlencoded({ extended: false, limit: FORM_LIMIT, parameterLimit: 20 });
  const router = Router();

  /** Sets res.locals.ui when the request carries a live session of a token still configured. */
  const readSession: RequestHandler = (req, res, next) => {
    const id = cookiesOf(req).get(SESSION_COOKIE);
    const session = id ? sessions.get(id) : undefined;
    const role = session ? roles.get(session.tokenName) : undefined;
    if (id && session && role) {
      res.locals.ui = { id, session, viewer: { tokenName: session.tokenName, role, csrf: session.csrf } } satisfies Signed;
      setIdentity(res, `ui:${session.tokenName}`, role);
    }
    next();
  };

  const requireSession: RequestHandler = (_req, res, next) => {
    if (!signedOf(res)) {
      back(res, '/signin');
      return;
    }
    next();
  };

  /** Every action: same origin, signed in with an operate token, and the form's CSRF token. */
  const action: RequestHandler[] = [
    (req, _res, next) => {
      checkSameOrigin(req);
      next();
    },
    readSession,
    requireSession,
    (_req, res, next) => {
      if (signedOf(res)!.viewer.role !== 'operate') {
        throw new HttpError(403, 'FORBIDDEN', `token "${signedOf(res)!.viewer.tokenName}" has role "read": it may look, not act (server.tokens[].role)`);
      }
      next();
    },
    form,
    (req, res, next) => {
      checkCsrf(req, signedOf(res)!.session.csrf);
      next();
    },
  ];

  const takeFlash = (res: Response) => {
    const s = signedOf(res)?.session;
    const flash = s?.flash;
    if (s) s.flash = undefined;
    return flash;
  };
  const setFlash = (res: Response, kind: 'ok' | 'error', text: string) => {
    const s = signedOf(res)?.session;
    if (s) s.flash = { kind, text };
  };
  const actor = (res: Response) => `ui:${signedOf(res)!.viewer.tokenName}`;
  const databaseParam = (req: Request): string => {
    const name = String(req.params['name']);
    if (!config.databases.some((d) => d.name === name)) throw new HttpError(404, 'DATABASE_NOT_FOUND', `no database named ${JSON.stringify(name)} in the config`);
    return name;
  };
  const dbPath = (name: string) => `/databases/${encodeURIComponent(name)}`;

  router.get('/ui/assets/:file', (req, res, next) => {
    const asset = assets.get(req.params.file);
    if (!asset) {
      next();
      return;
    }
    res.set({ 'Content-Type': asset.contentType, 'Cache-Control': 'public, max-age=3600' }).send(asset.body);
  });

  router.get('/', readSession, (req, res, next) => {
    // Programs (Accept: */* or JSON) keep the JSON index of endpoints; browsers ask for HTML.
    if (req.accepts(['json', 'html']) !== 'html') {
      next();
      return;
    }
    requireSession(req, res, async () => {
      try {
        const overview = await deps.status.overview();
        send(res, 200, overviewPage(overview, signedOf(res)!.viewer, takeFlash(res)));
      } catch (error) {
        next(error);
      }
    });
  });

  router.get('/signin', readSession, (req, res) => {
    if (signedOf(res)) {
      back(res, '/');
      return;
    }
    send(res, 200, signInPage({ signedOut: req.query['signed-out'] === '1' }));
  });

  router.post('/signin', (req, _res, next) => {
    checkSameOrigin(req);
    next();
  }, form, (req, res) => {
    const body = req.body as Record<string, unknown> | undefined;
    const token = typeof body?.['token'] === 'string' ? body['token'].trim() : '';
    const identity = token === '' ? undefined : resolveToken(token);
    if (!identity) {
      // Never the token itself, not even a prefix: only that a sign-in failed, and from where.
      logger.warn({ remoteAddress: req.socket.remoteAddress }, 'status page: sign-in with a token that is not configured');
      send(res, 401, signInPage({ error: token === '' ? 'Enter an API token.' : 'That token is not one of server.tokens. Check it and try again.' }));
      return;
    }
    const previous = cookiesOf(req).get(SESSION_COOKIE);
    if (previous) sessions.destroy(previous);
    const { id } = sessions.create(identity.name);
    logger.info({ token: identity.name, role: identity.role, remoteAddress: req.socket.remoteAddress }, 'status page: signed in');
    res.set('Set-Cookie', sessionCookie(req, id, Math.floor(lifetimeMs / 1000)));
    back(res, '/');
  });

  router.post('/signout', (req, _res, next) => {
    checkSameOrigin(req);
    next();
  }, readSession, form, (req, res) => {
    const signed = signedOf(res);
    if (signed) {
      checkCsrf(req, signed.session.csrf);
      sessions.destroy(signed.id);
      logger.info({ token: signed.viewer.tokenName }, 'status page: signed out');
    }
    res.set('Set-Cookie', clearedSessionCookie(req));
    back(res, '/signin?signed-out=1');
  });

  router.get('/databases/:name', readSession, requireSession, async (req, res) => {
    const name = databaseParam(req);
    const kind = typeof req.query['kind'] === 'string' && req.query['kind'] !== '' ? req.query['kind'] : undefined;
    const status = typeof req.query['status'] === 'string' && req.query['status'] !== '' ? req.query['status'] : undefined;
    if (kind !== undefined && !BACKUP_TYPES.includes(kind as BackupType)) throw new HttpError(400, 'INVALID_REQUEST', `kind: must be one of ${BACKUP_TYPES.join(', ')}`);
    if (status !== undefined && !BACKUP_STATUSES.includes(status as BackupStatus)) throw new HttpError(400, 'INVALID_REQUEST', `status: must be one of ${BACKUP_STATUSES.join(', ')}`);
    const detail = await deps.status.database(name, { kind: kind as BackupType | undefined, status: status as BackupStatus | undefined });
    if (!detail) throw new HttpError(404, 'DATABASE_NOT_FOUND', `no database named ${JSON.stringify(name)} in the config`);
    send(res, 200, databasePage(detail, signedOf(res)!.viewer, takeFlash(res)));
  });

  router.post('/databases/:name/backups', ...action, async (req, res) => {
    const name = databaseParam(req);
    const body = req.body as Record<string, unknown>;
    const input = parseRunBackupBody({ kind: body['kind'], database: name }, config.databases);
    const who = actor(res);
    const outcome = await deps.actions.runBackup({ ...input, actor: who });
    logger.info({ actor: who, ...input, accepted: outcome.accepted, runs: outcome.runs }, 'backup run requested on the status page');
    if (outcome.accepted) setFlash(res, 'ok', `Started ${input.kind} backup ${outcome.runs.map((r) => r.backupId ?? r.database).join(', ')}.`);
    else setFlash(res, 'error', `Not started: ${outcome.message}.`);
    back(res, dbPath(name));
  });

  router.post('/databases/:name/backups/:id/verify', ...action, async (req, res) => {
    const name = databaseParam(req);
    const id = checkBackupId(String(req.params['id']));
    const result = await deps.actions.verifyBackup(id, actor(res));
    if (result.ok) setFlash(res, 'ok', `Backup ${id} verified${result.tables !== null ? `: ${result.tables} tables read back` : ''}.`);
    else setFlash(res, 'error', `Backup ${id} failed verification: ${result.error ?? 'no reason given'}.`);
    back(res, dbPath(name));
  });

  router.post('/databases/:name/silences', ...action, async (req, res) => {
    const name = databaseParam(req);
    if (!deps.actions.silence) throw new HttpError(501, 'NOT_IMPLEMENTED', 'silences are not available in this version of pgwarden');
    const body = req.body as Record<string, unknown>;
    let matchers: unknown;
    try {
      matchers = JSON.parse(String(body['matchers'] ?? ''));
    } catch {
      throw new HttpError(400, 'INVALID_REQUEST', 'matchers: not valid JSON (reload the page and try again)');
    }
    const comment = typeof body['comment'] === 'string' && body['comment'].trim() !== '' ? body['comment'].trim() : undefined;
    const input = parseSilenceBody({ matchers, durationSeconds: Number(body['durationSeconds']), ...(comment ? { comment } : {}) });
    const who = actor(res);
    await deps.actions.silence({ ...input, actor: who });
    logger.info({ actor: who, ...input }, 'silence created on the status page');
    setFlash(res, 'ok', `Silenced ${Object.entries(input.matchers).map(([k, v]) => `${k}=${v}`).join(', ')} for ${Math.round(input.durationSeconds / 3600)} h.`);
    back(res, dbPath(name));
  });

  router.use(pageErrors(logger));
  return router;
}

/** Errors on the page's own routes answer as a page (the API keeps its JSON errors). */
function pageErrors(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const requestId = typeof res.locals.requestId === 'string' ? res.locals.requestId : 'unknown';
    const signed = signedOf(res);
    const described = describeError(error, { authenticated: signed !== undefined, requestId });
    if (described.internal) logger.error({ requestId, method: req.method, url: req.originalUrl, err: error }, `status page request failed: ${errorMessage(error)}`);
    else logger.debug({ requestId, status: described.status, error: described.body.error }, described.body.message);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    const body = html`<h1>${described.status === 403 ? 'Not allowed' : described.status === 404 ? 'Not found' : 'That did not work'}</h1>
<p class="flash flash-error" role="alert">${described.body.message}</p>
${described.body.hints ? html`<ul>${described.body.hints.map((h) => html`<li>${h}</li>`)}</ul>` : ''}
<p><a href="/">Back to the overview</a></p>`;
    send(res, described.status, page({ title: 'Error', viewer: signed?.viewer, body }).text);
  };
}
