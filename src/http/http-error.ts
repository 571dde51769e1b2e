// Every failure the API reports is JSON `{ error: <stable code>, message }` with a fitting status. This
// module decides both for anything thrown: our own HttpErrors, body-parser's errors, PgwardenErrors and bugs.
import { isPgwardenError } from '../errors.js';

export interface ErrorBody {
  error: string;
  message: string;
  hints?: string[];
}

/** An error a route raises on purpose: the status, code and message go to the client as they are. */
export class HttpError extends Error {
  readonly status: number;
  readonly code: string;
  readonly headers: Record<string, string>;

  constructor(status: number, code: string, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.name = 'HttpError';
    this.status = status;
    this.code = code;
    this.headers = headers;
  }
}

export interface DescribedError {
  status: number;
  body: ErrorBody;
  headers: Record<string, string>;
  /** A server-side failure: log it with its stack. */
  internal: boolean;
}

// PgwardenError codes that are not a failure of the server. The rest answer 500 with their message.
// ConfigError is not 400: the server's config is at fault, and no change to the request can fix it.
const STATUS_OF_CODE: Readonly<Record<string, number>> = {
  USAGE: 400,
  NOT_FOUND: 404,
  DATABASE_UNREACHABLE: 503,
  ABORTED: 503,
};

// body-parser (http-errors) `type`s: the client sent a body we will not read.
const BODY_ERRORS: Readonly<Record<string, { status: number; code: string; message: (e: { message: string; limit?: number; encoding?: string; charset?: string }) => string }>> = {
  'entity.parse.failed': { status: 400, code: 'INVALID_JSON', message: (e) => `request body is not valid JSON: ${e.message}` },
  'entity.too.large': { status: 413, code: 'PAYLOAD_TOO_LARGE', message: (e) => `request body is larger than the limit of ${formatLimit(e.limit)}` },
  'encoding.unsupported': {
    status: 415,
    code: 'UNSUPPORTED_MEDIA_TYPE',
    message: (e) => `Content-Encoding "${e.encoding ?? 'unknown'}" is not accepted; send the body uncompressed`,
  },
  'charset.unsupported': { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', message: (e) => `charset "${e.charset ?? 'unknown'}" is not accepted; send UTF-8` },
  'request.aborted': { status: 400, code: 'REQUEST_ABORTED', message: () => 'the request body was cut short' },
  'request.size.invalid': { status: 400, code: 'INVALID_REQUEST', message: () => 'the request body does not match its Content-Length' },
};

const CODE_OF_STATUS: Readonly<Record<number, string>> = {
  400: 'INVALID_REQUEST',
  401: 'UNAUTHENTICATED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
};

function formatLimit(bytes: number | undefined): string {
  if (bytes === undefined) return 'this server';
  return bytes % 1024 === 0 ? `${bytes / 1024} KiB` : `${bytes} bytes`;
}

/**
 * The response for a thrown value. PgwardenError messages are written for operators and go to authenticated
 * callers; anywhere else, and for every other error, a 500 says only that the log has the details.
 */
export function describeError(error: unknown, options: { authenticated: boolean; requestId: string }): DescribedError {
  if (error instanceof HttpError) {
    return { status: error.status, body: { error: error.code, message: error.message }, headers: error.headers, internal: error.status >= 500 };
  }
  if (isPgwardenError(error) && options.authenticated) {
    const status = STATUS_OF_CODE[error.code] ?? 500;
    const body: ErrorBody = { error: error.code, message: error.message };
    if (error.hints.length > 0) body.hints = [...error.hints];
    return { status, body, headers: {}, internal: status >= 500 };
  }
  const clientError = asClientError(error);
  if (clientError) return { ...clientError, headers: {}, internal: false };
  return {
    status: 500,
    body: { error: 'INTERNAL', message: `internal error (request ${options.requestId}); the service log has the details` },
    headers: {},
    internal: true,
  };
}

/** body-parser's and the router's errors about what the client sent (status 4xx), if it is one. */
function asClientError(error: unknown): { status: number; body: ErrorBody } | undefined {
  if (typeof error !== 'object' || error === null) return undefined;
  const e = error as { status?: unknown; type?: unknown; message?: unknown; limit?: unknown; encoding?: unknown; charset?: unknown };
  if (typeof e.status !== 'number' || e.status < 400 || e.status > 499) return undefined;
  const known = typeof e.type === 'string' ? BODY_ERRORS[e.type] : undefined;
  const message = typeof e.message === 'string' ? e.message : 'bad request';
  if (known) {
    const details = {
      message,
      limit: typeof e.limit === 'number' ? e.limit : undefined,
      encoding: typeof e.encoding === 'string' ? e.encoding : undefined,
      charset: typeof e.charset === 'string' ? e.charset : undefined,
    };
    return { status: known.status, body: { error: known.code, message: known.message(details) } };
  }
  return { status: e.status, body: { error: CODE_OF_STATUS[e.status] ?? 'INVALID_REQUEST', message } };
}
