// The request plumbing every route shares: security headers, the debug request log, JSON bodies, and the
// 404/405/error responses, all as `{ error, message }`.
import { randomUUID } from 'node:crypto';
import express, { type ErrorRequestHandler, type Request, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { errorMessage } from '../errors.js';
import { actorOf } from './auth.js';
import { describeError, HttpError } from './http-error.js';

/** Responses are data for programs, never pages to frame, sniff or cache. */
export const securityHeaders: RequestHandler = (_req, res, next) => {
  res.set({
    'X-Content-Type-Options': 'nosniff',
    'X-Frame-Options': 'DENY',
    'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
    'Referrer-Policy': 'no-referrer',
    'Cache-Control': 'no-store',
  });
  next();
};

/** One debug line per request once it is over. Headers are not logged, so neither is Authorization. */
export function requestLog(logger: Logger): RequestHandler {
  return (req, res, next) => {
    const started = performance.now();
    const requestId = randomUUID();
    res.locals.requestId = requestId;
    res.set('X-Request-Id', requestId);
    res.once('close', () => {
      logger.debug(
        {
          requestId,
          method: req.method,
          url: req.originalUrl,
          status: res.statusCode,
          durationMs: Math.round((performance.now() - started) * 10) / 10,
          actor: actorOf(res),
          remoteAddress: req.socket.remoteAddress,
          completed: res.writableFinished,
        },
        'http request',
      );
    });
    next();
  };
}

function hasBody(req: Request): boolean {
  return req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0;
}

/**
 * Parses a JSON body of at most `limitBytes` into req.body (undefined when there is none). A body of another
 * type is 415; compressed bodies are refused, so the limit is the size actually read.
 */
export function jsonBody(limitBytes: number): RequestHandler {
  // Not strict: a bare `"full"` or `42` parses, and the route's check then says the body must be an object.
  const parse = express.json({ limit: limitBytes, strict: false, inflate: false, type: () => true });
  return (req, res, next) => {
    if (!hasBody(req)) {
      req.body = undefined;
      next();
      return;
    }
    if (!req.is(['application/json', '+json'])) {
      const given = req.headers['content-type'];
      throw new HttpError(
        415,
        'UNSUPPORTED_MEDIA_TYPE',
        `request bodies must be JSON: send Content-Type: application/json${given ? ` (got ${JSON.stringify(given.slice(0, 100))})` : ''}`,
      );
    }
    parse(req, res, next);
  };
}

const pathOf = (req: Request): string => {
  const path = req.baseUrl + req.path;
  return path.length > 200 ? `${path.slice(0, 197)}...` : path;
};

/** The last handler of a route: any method it does not serve is 405 with an Allow header. */
export function methodNotAllowed(allowed: readonly string[]): RequestHandler {
  return (req) => {
    throw new HttpError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${pathOf(req)}; it takes ${allowed.join(' or ')}`, {
      Allow: [...allowed, ...(allowed.includes('GET') ? ['HEAD'] : [])].join(', '),
    });
  };
}

export const notFound: RequestHandler = (req) => {
  throw new HttpError(404, 'NOT_FOUND', `no such endpoint: ${req.method} ${pathOf(req)}`);
};

/** Answers every error as JSON; a server-side failure is logged with its stack, and only a request id is returned. */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const requestId = typeof res.locals.requestId === 'string' ? res.locals.requestId : randomUUID();
    const actor = actorOf(res);
    const described = describeError(error, { authenticated: actor !== undefined, requestId });
    const context = { requestId, method: req.method, url: req.originalUrl, actor, status: described.status };
    if (described.internal) {
      logger.error({ ...context, err: error }, `request failed: ${errorMessage(error)}`);
    } else if (described.status === 403) {
      const message = actor === undefined ? 'refused an API token that is not configured' : 'refused a request the token’s role does not allow';
      logger.warn({ ...context, remoteAddress: req.socket.remoteAddress }, message);
    } else {
      logger.debug({ ...context, error: described.body.error }, described.body.message);
    }
    if (res.headersSent) {
      // Too late for a status: cut the response short so the client sees it fail.
      res.destroy();
      return;
    }
    res.status(described.status).set(described.headers).json(described.body);
  };
}
