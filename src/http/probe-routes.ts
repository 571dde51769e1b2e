// The unauthenticated endpoints: an index, liveness, readiness and the Prometheus scrape (which may be
// given basic auth). None of them says more than a probe or a scraper needs.
import { Router } from 'express';
import type { Logger } from 'pino';
import { basicAuth } from './auth.js';
import { methodNotAllowed } from './middleware.js';
import type { HttpDeps, Readiness } from './types.js';

const INDEX = {
  service: 'pgwarden',
  endpoints: [
    'GET /healthz',
    'GET /readyz',
    'GET /metrics',
    'GET /api/backups',
    'GET /api/backups/:id',
    'POST /api/backups',
    'POST /api/backups/:id/verify',
    'GET /api/health',
    'GET /api/status',
    'GET /api/status/:database',
    'GET /api/alerts',
    'POST /api/silences',
    'POST /api/alertmanager',
  ],
  auth: 'everything under /api needs "Authorization: Bearer <token>"',
};

export function probeRoutes(deps: HttpDeps, logger: Logger): Router {
  const router = Router();
  const readinessTimeoutMs = deps.readinessTimeoutMs ?? 5000;

  router
    .route('/')
    .get((_req, res) => {
      res.json(INDEX);
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/healthz')
    .get((_req, res) => {
      res.json({ status: 'ok' });
    })
    .all(methodNotAllowed(['GET']));

  router
    .route('/readyz')
    .get(async (_req, res) => {
      const { ready, checks } = await checkReadiness(deps.readiness, readinessTimeoutMs, logger);
      if (ready) {
        res.json({ status: 'ready', checks });
        return;
      }
      const failing = Object.entries(checks).filter(([, state]) => state !== 'ok');
      const message = failing.length > 0 ? `not ready: ${failing.map(([name, state]) => `${name}: ${state}`).join('; ')}` : 'not ready';
      res.status(503).json({ error: 'NOT_READY', message, status: 'not ready', checks });
    })
    .all(methodNotAllowed(['GET']));

  const metricsAuth = deps.config.server.metricsAuth;
  let lastText: string | undefined;
  let lastBody = Buffer.alloc(0);
  router
    .route('/metrics')
    .get(...(metricsAuth ? [basicAuth(metricsAuth)] : []), async (_req, res) => {
      const text = await deps.metrics.render();
      // express would encode the cached string into a new Buffer for every scrape (~140 KB with 20 databases),
      // and that off-heap churn set off major GCs that dominated p99 (test/bench/metrics.bench.ts): encode
      // once per rendered text instead.
      if (text !== lastText) {
        lastText = text;
        lastBody = Buffer.from(text, 'utf8');
      }
      res.set('Content-Type', deps.metrics.contentType).send(lastBody);
    })
    .all(methodNotAllowed(['GET']));

  return router;
}

/** The readiness answer, or not ready when the check throws or hangs (its error goes to the log, not the probe). */
async function checkReadiness(readiness: HttpDeps['readiness'], timeoutMs: number, logger: Logger): Promise<Readiness> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<Readiness>((resolve) => {
    timer = setTimeout(() => resolve({ ready: false, checks: { readiness: `no answer within ${timeoutMs} ms` } }), timeoutMs);
  });
  try {
    return await Promise.race([readiness(), timeout]);
  } catch (error) {
    logger.warn({ err: error }, 'readiness check failed');
    return { ready: false, checks: { readiness: 'the check failed; the service log has the details' } };
  } finally {
    clearTimeout(timer);
  }
}
