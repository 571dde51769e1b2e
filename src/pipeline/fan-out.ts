// Writes one stream to several destinations at once with backpressure: a chunk is done when every
// destination took it, so memory stays bounded by the slowest target's buffer.
import { once } from 'node:events';
import { Writable } from 'node:stream';

export class FanOut extends Writable {
  constructor(private readonly destinations: Writable[]) {
    super({ highWaterMark: 1024 * 1024 });
    // A destination's error may come between writes, when nobody awaits it: fail the whole fan-out then.
    for (const destination of destinations) destination.on('error', (error) => this.destroy(error));
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const waits: Promise<unknown>[] = [];
    for (const destination of this.destinations) {
      if (!destination.write(chunk)) waits.push(drainOrError(destination));
    }
    if (waits.length === 0) callback();
    else Promise.all(waits).then(() => callback(), callback);
  }

  override _final(callback: (error?: Error | null) => void): void {
    Promise.all(
      this.destinations.map((destination) => {
        const finished = finishOrError(destination);
        destination.end();
        return finished;
      }),
    ).then(() => callback(), callback);
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    for (const destination of this.destinations) destination.destroy(error ?? undefined);
    callback(error);
  }
}

async function drainOrError(stream: Writable): Promise<void> {
  if (stream.destroyed) throw stream.errored ?? new Error('destination closed');
  await once(stream, 'drain');
}

async function finishOrError(stream: Writable): Promise<void> {
  if (stream.writableFinished) return;
  if (stream.errored) throw stream.errored;
  await once(stream, 'finish');
}
