// A child process as a stage of a stream pipeline: bytes written go to its stdin, its stdout is read out.
// The readable side ends only once the program exited 0, so a compressor that dies after writing part of
// its output fails the pipeline instead of ending it early with a short stream that looks whole.
import { Duplex, Readable } from 'node:stream';
import type { ToolProcess } from '../postgres/run-tool.js';

const HIGH_WATER = 1024 * 1024;

/** Forwards the program's stdout into `target` with backpressure; ends it when the program succeeded. */
function forwardOutput(tool: ToolProcess, target: Readable): void {
  const out = tool.stdout;
  if (!out) throw new Error('processStage: the program was started without stdout: "pipe"');
  out.on('data', (chunk: Buffer) => {
    if (!target.push(chunk)) out.pause();
  });
  out.once('end', () => {
    tool.done.then(
      () => target.push(null),
      (error: unknown) => target.destroy(error as Error),
    );
  });
  // An error reading the pipe says less than the program's exit status: report that one.
  out.once('error', (error) => {
    tool.done.then(
      () => target.destroy(error),
      (failure: unknown) => target.destroy(failure as Error),
    );
  });
}

class ProcessStage extends Duplex {
  constructor(private readonly tool: ToolProcess) {
    super({ readableHighWaterMark: HIGH_WATER, writableHighWaterMark: HIGH_WATER });
    forwardOutput(tool, this);
    // Writing to a program that died fails with EPIPE; its exit status is the real story.
    tool.stdin?.on('error', (error) => {
      tool.done.then(
        () => this.destroy(error),
        (failure: unknown) => this.destroy(failure as Error),
      );
    });
  }

  override _read(): void {
    this.tool.stdout?.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    const stdin = this.tool.stdin!;
    if (stdin.write(chunk)) {
      callback();
      return;
    }
    const resume = () => {
      stdin.off('drain', resume);
      stdin.off('close', resume);
      callback();
    };
    stdin.on('drain', resume);
    stdin.on('close', resume);
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.tool.stdin!.end(() => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.tool.kill();
    callback(error);
  }
}

/** The program as a Transform-like stage: write plain input, read its output. */
export function processStage(tool: ToolProcess): Duplex {
  return new ProcessStage(tool);
}

/** The output of a program whose input was handed over (it reads another program's pipe): a pipeline's source. */
export function processOutput(tool: ToolProcess): Readable {
  const readable = new Readable({
    highWaterMark: HIGH_WATER,
    read: () => {
      tool.stdout?.resume();
    },
    destroy: (error, callback) => {
      tool.kill();
      callback(error);
    },
  });
  forwardOutput(tool, readable);
  return readable;
}
