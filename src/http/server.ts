// Serves an app on a host and port (0: a free one) and closes it gracefully: no new connections, in-flight
// requests finish, idle keep-alive connections close, and whatever is still open after a timeout is cut.
import { createServer, type RequestListener, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import { ConfigError } from '../errors.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  /** How long close() waits for in-flight requests before cutting their connections. Default 10 s. */
  shutdownTimeoutMs?: number;
  logger?: Logger;
}

export interface RunningHttpServer {
  /** `http://host:port`, with the port actually bound. */
  url: string;
  port: number;
  /** Resolves once every connection is closed; calling it again returns the same promise. */
  close(): Promise<void>;
}

export async function startHttpServer(app: RequestListener, options: HttpServerOptions): Promise<RunningHttpServer> {
  const inFlight = new Set<ServerResponse>();
  let closing = false;
  const server = createServer((req, res) => {
    inFlight.add(res);
    if (closing) res.setHeader('Connection', 'close');
    res.once('close', () => {
      inFlight.delete(res);
      // A keep-alive connection whose last response just ended is idle once Node has finished with it.
      if (closing) setImmediate(() => server.closeIdleConnections());
    });
    app(req, res);
  });

  await new Promise<void>((resolve, reject) => {
    const onError = (error: NodeJS.ErrnoException) => reject(listenError(error, options));
    server.once('error', onError);
    server.listen(options.port, options.host, () => {
      server.off('error', onError);
      resolve();
    });
  });

  const { port } = server.address() as AddressInfo;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  let closed: Promise<void> | undefined;
  const close = () => {
    closed ??= new Promise<void>((resolve) => {
      closing = true;
      for (const res of inFlight) if (!res.headersSent) res.setHeader('Connection', 'close');
      const timeoutMs = options.shutdownTimeoutMs ?? 10_000;
      const timer = setTimeout(() => {
        options.logger?.warn({ requests: inFlight.size, timeoutMs }, 'http server: requests still running at shutdown were cut');
        server.closeAllConnections();
      }, timeoutMs);
      server.close(() => {
        clearTimeout(timer);
        resolve();
      });
      server.closeIdleConnections();
    });
    return closed;
  };
  return { url: `http://${host}:${port}`, port, close };
}

function listenError(error: NodeJS.ErrnoException, options: HttpServerOptions): Error {
  const where = `${options.host}:${options.port}`;
  switch (error.code) {
    case 'EADDRINUSE':
      return new ConfigError(`server.port: ${where} is already in use`, [], {
        hints: ['stop the other process listening there, or choose another server.port'],
        cause: error,
      });
    case 'EACCES':
      return new ConfigError(`server.port: not allowed to listen on ${where}`, [], {
        hints: ['ports below 1024 need privileges; choose a higher server.port'],
        cause: error,
      });
    case 'EADDRNOTAVAIL':
    case 'ENOTFOUND':
      return new ConfigError(`server.host: ${options.host} is not an address of this machine`, [], { cause: error });
    default:
      return error;
  }
}
