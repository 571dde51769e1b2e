// An HTTP or HTTPS server on 127.0.0.1:0 standing in for Slack, PagerDuty and Twilio: it records every
// request (method, path, headers, body parsed from JSON or a form, credentials) and answers from a
// programmable sequence of replies, each with an optional delay, or not at all ("hang").
import { createServer as createHttpServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** The path without the query string. */
  path: string;
  query: Record<string, string>;
  headers: IncomingHttpHeaders;
  rawBody: string;
  /** The JSON body, or the form fields; {} when there is neither. */
  body: Record<string, unknown>;
  /** From an `Authorization: Basic …` header. */
  basicAuth?: { user: string; password: string };
  /** From an `Authorization: Bearer …` header. */
  bearer?: string;
  receivedAt: number;
}

export type Reply =
  | { status: number; body?: unknown; headers?: Record<string, string>; delayMs?: number }
  /** Read the request, never answer: for timeouts. */
  | { hang: true };
export type Responder = Reply | ((request: RecordedRequest) => Reply);

export interface Recorder {
  /** `http://127.0.0.1:PORT` or `https://…`, no trailing slash. */
  url: string;
  port: number;
  requests: RecordedRequest[];
  /** Replies for the next requests, one each in order; after them the default reply. */
  enqueue(...replies: Responder[]): void;
  setDefault(responder: Responder): void;
  /** Resolves once `count` requests have arrived. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface RecorderOptions {
  /** Serve HTTPS with this key and certificate (see tls.ts). */
  tls?: { key: string; cert: string };
  /** What to answer when no queued reply is left; 200 `{}` unless set. */
  default?: Responder;
}

/** `t` is a test context (or anything with `after`) that closes the recorder when the test ends. */
export async function startRecorder(t: { after(fn: () => Promise<void>): void } | undefined, options: RecorderOptions = {}): Promise<Recorder> {
  const requests: RecordedRequest[] = [];
  const queue: Responder[] = [];
  let fallback: Responder = options.default ?? { status: 200, body: {} };
  const timers = new Set<NodeJS.Timeout>();
  const waiters = new Set<() => void>();

  const handle = (req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const recorded = record(req, Buffer.concat(chunks).toString('utf8'));
      requests.push(recorded);
      for (const wake of waiters) wake();
      const responder = queue.shift() ?? fallback;
      const reply = typeof responder === 'function' ? responder(recorded) : responder;
      if ('hang' in reply) return;
      const send = () => {
        const isText = typeof reply.body === 'string';
        const payload = reply.body === undefined ? '' : isText ? (reply.body as string) : JSON.stringify(reply.body);
        res.writeHead(reply.status, { 'content-type': isText ? 'text/html; charset=utf-8' : 'application/json', ...reply.headers });
        res.end(payload);
      };
      if (reply.delayMs === undefined) return send();
      const timer = setTimeout(() => {
        timers.delete(timer);
        send();
      }, reply.delayMs);
      timers.add(timer);
    });
  };

  const server: Server = options.tls === undefined ? createHttpServer(handle) : createHttpsServer({ key: options.tls.key, cert: options.tls.cert }, handle);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  let closed = false;

  const recorder: Recorder = {
    url: `${options.tls === undefined ? 'http' : 'https'}://127.0.0.1:${port}`,
    port,
    requests,
    enqueue: (...replies) => queue.push(...replies),
    setDefault: (responder) => {
      fallback = responder;
    },
    waitForRequests(count, timeoutMs = 5000) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (requests.length < count) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve();
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`expected ${count} requests within ${timeoutMs} ms, got ${requests.length}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      });
    },
    async close() {
      if (closed) return;
      closed = true;
      for (const timer of timers) clearTimeout(timer);
      const done = new Promise<void>((resolve) => server.close(() => resolve()));
      // Hanging requests and keep-alive sockets would hold close() open.
      server.closeAllConnections();
      await done;
    },
  };
  t?.after(() => recorder.close());
  return recorder;
}

function record(req: IncomingMessage, rawBody: string): RecordedRequest {
  const url = new URL(req.url ?? '/', 'http://recorder');
  const recorded: RecordedRequest = {
    method: req.method ?? 'GET',
    path: url.pathname,
    query: Object.fromEntries(url.searchParams),
    headers: req.headers,
    rawBody,
    body: parseBody(req.headers['content-type'], rawBody),
    receivedAt: Date.now(),
  };
  const authorization = req.headers.authorization ?? '';
  const basic = /^Basic\s+(.+)$/i.exec(authorization);
  if (basic?.[1] !== undefined) {
    const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    recorded.basicAuth = { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  const bearer = /^Bearer\s+(.+)$/i.exec(authorization);
  if (bearer?.[1] !== undefined) recorded.bearer = bearer[1];
  return recorded;
}

function parseBody(contentType: string | undefined, raw: string): Record<string, unknown> {
  if (raw === '') return {};
  if (contentType?.includes('application/json')) return JSON.parse(raw) as Record<string, unknown>;
  if (contentType?.includes('application/x-www-form-urlencoded')) {
    const fields: Record<string, unknown> = {};
    for (const [key, value] of new URLSearchParams(raw)) {
      const existing = fields[key];
      fields[key] = existing === undefined ? value : Array.isArray(existing) ? [...existing, value] : [existing, value];
    }
    return fields;
  }
  return {};
}
