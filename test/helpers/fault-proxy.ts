// A TCP proxy on 127.0.0.1:0 in front of any server (s3rver, the GCS fake, an HTTP recorder) with switches
// that break the path the way networks and dying servers do. Point the client at `url` instead of the server:
//   down()          reset every open connection and every new one (a dead endpoint), until up()
//   cutAfter(n)     reset the connection that carries the n-th request byte from now (an upload killed
//                   mid-way); with { thenDown: true } the whole endpoint dies at that moment
//   stall()         open and new connections stay open but nothing passes either way until up() (a hung
//                   server: timeouts must fire; bytes are held back, not lost)
// Protocol-blind: it counts the bytes clients send (request heads and bodies), not HTTP messages.
import { createServer, type Socket, connect } from 'node:net';

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  down(): void;
  /** Forwards normally again: new connections after down(), held-back bytes after stall(). */
  up(): void;
  /** Resolves when the cut happened. */
  cutAfter(bytes: number, options?: { thenDown?: boolean }): Promise<void>;
  stall(): void;
  /** Bytes clients sent through the proxy so far. */
  bytesUp(): number;
  /** Connections accepted so far (refused ones included). */
  connections(): number;
  close(): Promise<void>;
}

type Mode = 'up' | 'down' | 'stall';

export async function startFaultProxy(
  t: { after(fn: () => Promise<void>): void } | undefined,
  target: { host?: string; port: number },
): Promise<FaultProxy> {
  const host = target.host ?? '127.0.0.1';
  let mode: Mode = 'up';
  let up = 0;
  let accepted = 0;
  let cut: { at: number; thenDown: boolean; done: () => void } | undefined;
  const open = new Set<Socket>();

  const pairs = new Set<[Socket, Socket]>();
  const track = (socket: Socket) => {
    open.add(socket);
    socket.on('close', () => open.delete(socket));
    socket.on('error', () => {});
  };
  const resetAll = () => {
    for (const socket of open) socket.resetAndDestroy();
  };

  const server = createServer((client) => {
    accepted++;
    track(client);
    if (mode === 'down') {
      client.resetAndDestroy();
      return;
    }
    const upstream = connect(target.port, host);
    track(upstream);
    const pair: [Socket, Socket] = [client, upstream];
    pairs.add(pair);
    // A stalled proxy holds bytes back (TCP buffers fill, as on a hung server); up() lets them through.
    if (mode === 'stall') {
      client.pause();
      upstream.pause();
    }
    client.on('data', (chunk: Buffer) => {
      if (cut && up + chunk.length >= cut.at) {
        const pending = cut;
        cut = undefined;
        upstream.write(chunk.subarray(0, pending.at - up));
        up = pending.at;
        client.resetAndDestroy();
        upstream.destroy();
        if (pending.thenDown) {
          mode = 'down';
          resetAll();
        }
        pending.done();
        return;
      }
      up += chunk.length;
      if (!upstream.write(chunk)) client.pause();
    });
    upstream.on('data', (chunk: Buffer) => {
      if (!client.write(chunk)) upstream.pause();
    });
    upstream.on('drain', () => mode !== 'stall' && client.resume());
    client.on('drain', () => mode !== 'stall' && upstream.resume());
    client.on('close', () => {
      pairs.delete(pair);
      upstream.destroy();
    });
    upstream.on('close', () => client.destroy());
  });
  server.on('connection', (socket) => socket.setNoDelay(true));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as import('node:net').AddressInfo).port;

  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    for (const socket of open) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
  t?.after(close);

  return {
    url: `http://127.0.0.1:${port}`,
    port,
    down() {
      mode = 'down';
      resetAll();
    },
    up() {
      const wasStalled = mode === 'stall';
      mode = 'up';
      if (wasStalled) for (const sockets of pairs) for (const socket of sockets) socket.resume();
    },
    cutAfter(bytes, options = {}) {
      return new Promise<void>((resolve) => {
        cut = { at: up + bytes, thenDown: options.thenDown ?? false, done: resolve };
      });
    },
    stall() {
      mode = 'stall';
      for (const sockets of pairs) for (const socket of sockets) socket.pause();
    },
    bytesUp: () => up,
    connections: () => accepted,
    close,
  };
}
