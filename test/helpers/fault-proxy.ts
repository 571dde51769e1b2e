// A TCP proxy on 127.0.0.1:0 in front of any server (s3rver, the GCS fake, an HTTP recorder) with switches
// that break the path the way networks and dying servers do. Point the client at `url` instead of the server:
//   down()          reset every open connection and every new one (a dead endpoint), until up()
//   cutAfter(n)     reset the connection that carries the n-th request byte from now (an upload killed
//                   mid-way); with { thenDown: true } the whole endpoint dies at that moment
//   stall()         open and new connections stay open but nothing passes either way (timeouts must fire)
// Protocol-blind: it counts the bytes clients send (request heads and bodies), not HTTP messages.
import { createServer, type Socket, connect } from 'node:net';

export interface FaultProxy {
  /** `http://127.0.0.1:PORT` */
  url: string;
  port: number;
  down(): void;
  /** Forwards normally again (after down() or stall()). */
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
    if (mode === 'stall') {
      client.resume();
      return;
    }
    const upstream = connect(target.port, host);
    track(upstream);
    const kill = () => {
      client.resetAndDestroy();
      upstream.destroy();
    };
    client.on('data', (chunk: Buffer) => {
      if (mode === 'stall') return;
      if (cut && up + chunk.length >= cut.at) {
        const pending = cut;
        cut = undefined;
        upstream.write(chunk.subarray(0, pending.at - up));
        up = pending.at;
        kill();
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
    upstream.on('drain', () => client.resume());
    upstream.on('data', (chunk: Buffer) => {
      if (mode === 'stall') return;
      if (!client.write(chunk)) upstream.pause();
    });
    client.on('drain', () => upstream.resume());
    client.on('close', () => upstream.destroy());
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
      mode = 'up';
    },
    cutAfter(bytes, options = {}) {
      return new Promise<void>((resolve) => {
        cut = { at: up + bytes, thenDown: options.thenDown ?? false, done: resolve };
      });
    },
    stall() {
      mode = 'stall';
    },
    bytesUp: () => up,
    connections: () => accepted,
    close,
  };
}
