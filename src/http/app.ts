// The express app of `pgwarden serve` (DESIGN.md "HTTP"): probes and metrics at the root, the API under
// /api behind bearer tokens, and every error as JSON. Everything it uses is passed in.
import express, { type Express } from 'express';
import { apiRoutes } from './api-routes.js';
import { bearerAuth } from './auth.js';
import { errorHandler, notFound, requestLog, securityHeaders } from './middleware.js';
import { probeRoutes } from './probe-routes.js';
import type { HttpDeps } from './types.js';

export function createHttpApp(deps: HttpDeps): Express {
  const logger = deps.logger.child({ component: 'http' });
  if (deps.config.server.tokens.length === 0) {
    logger.warn('server.tokens is empty: every /api request will be refused');
  }

  const app = express();
  app.disable('x-powered-by');
  // Answers are small and never cached (Cache-Control: no-store); hashing them for an ETag is wasted work.
  app.disable('etag');

  app.use(securityHeaders, requestLog(logger));
  if (deps.page) app.use(deps.page);
  app.use(probeRoutes(deps, logger));
  // Auth runs before any body is read, so an unauthenticated client cannot make us parse anything.
  app.use('/api', bearerAuth(deps.config.server.tokens), apiRoutes(deps, logger));
  app.use(notFound);
  app.use(errorHandler(logger));
  return app;
}
