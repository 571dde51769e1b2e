// The authenticated API under /api: backups from the catalog, runs and verifications through the actions,
// catalog health, and the alerting endpoints. Bearer auth has run before any of these, so the actor is set.
import { type Response, Router } from 'express';
import type { Logger } from 'pino';
import { actorOf, requireOperate } from './auth.js';
import { HttpError } from './http-error.js';
import { jsonBody, methodNotAllowed } from './middleware.js';
import type { HttpDeps } from './types.js';
import { checkBackupId, checkNoBody, parseAlertmanagerBody, parseListQuery, parseRunBackupBody, parseSilenceBody } from './validate.js';

const DEFAULT_BODY_LIMIT_BYTES = 64 * 1024;

function actor(res: Response): string {
  const name = actorOf(res);
  // bearerAuth guards the whole router; reaching here without an actor is a wiring bug.
  if (name === undefined) throw new Error('api route reached without bearer auth');
  return name;
}

function notProvided(what: string): HttpError {
  return new HttpError(501, 'NOT_IMPLEMENTED', `${what} are not available in this version of pgwarden`);
}

export function apiRoutes(deps: HttpDeps, logger: Logger): Router {
  const router = Router();
  const body = jsonBody(deps.bodyLimitBytes ?? DEFAULT_BODY_LIMIT_BYTES);
  const databases = deps.config.databases;
  const { catalog, actions } = deps;

  async function knownBackup(id: string) {
    const row = await catalog.getBackup(checkBackupId(id));
    if (!row) throw new HttpError(404, 'BACKUP_NOT_FOUND', `no backup ${id} in the catalog`);
    return row;
  }

  router
    .route('/backups')
    .get(async (req, res) => {
      res.json(await catalog.listBackups(parseListQuery(req.query)));
    })
    .post(requireOperate, body, async (req, res) => {
      const input = parseRunBackupBody(req.body, databases);
      const who = actor(res);
      const outcome = await actions.runBackup({ ...input, actor: who });
      logger.info({ actor: who, ...input, accepted: outcome.accepted, runs: outcome.runs }, 'backup run requested through the API');
      if (outcome.accepted) {
        res.status(202).json({ accepted: true, kind: input.kind, runs: outcome.runs });
      } else {
        res.status(409).json({ error: 'BACKUP_RUNNING', message: outcome.message, runs: outcome.runs });
      }
    })
    .all(methodNotAllowed(['GET', 'POST']));

  router
    .route('/backups/:id')
    .get(async (req, res) => {
      const row = await knownBackup(req.params.id);
      // A read of the catalog row, not of the backup's bytes: logged, but not an access-log 'download'.
      logger.info({ actor: actor(res), backupId: row.backupId }, 'backup details read through the API');
      res.json(row);
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/backups/:id/verify')
    .post(requireOperate, body, async (req, res) => {
      checkNoBody(req.body);
      const row = await knownBackup(req.params.id);
      // 200 either way: the verification ran, and `ok` says what it found. verifyBackup writes the access log.
      res.json(await actions.verifyBackup(row.backupId, actor(res)));
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/health')
    .get(async (_req, res) => {
      res.json(await catalog.health());
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/status')
    .get(async (_req, res) => {
      if (!deps.status) throw notProvided('status reports');
      res.json(await deps.status.overview());
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/status/:database')
    .get(async (req, res) => {
      if (!deps.status) throw notProvided('status reports');
      const detail = await deps.status.database(req.params.database);
      if (!detail) throw new HttpError(404, 'DATABASE_NOT_FOUND', `no database named ${JSON.stringify(req.params.database)} in the config`);
      res.json(detail);
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/alerts')
    .get(async (_req, res) => {
      res.json(actions.alerts ? await actions.alerts() : []);
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/silences')
    .post(requireOperate, body, async (req, res) => {
      const input = parseSilenceBody(req.body);
      if (!actions.silence) throw notProvided('silences');
      const who = actor(res);
      const result = await actions.silence({ ...input, actor: who });
      logger.info({ actor: who, ...input }, 'silence created through the API');
      if (result === undefined) res.status(204).end();
      else res.status(201).json(result);
    })
    .all(methodNotAllowed(['POST']));

  router
    .route('/alertmanager')
    .post(requireOperate, body, async (req, res) => {
      const payload = parseAlertmanagerBody(req.body);
      if (!actions.alertmanagerWebhook) throw notProvided('Alertmanager webhooks');
      await actions.alertmanagerWebhook(payload);
      res.json({ status: 'ok', alerts: payload.alerts.length });
    })
    .all(methodNotAllowed(['POST']));

  return router;
}
