// Every configured storage target behind the one StorageDriver contract: a write goes to all of them at once
// (one stream, backpressure from the slowest), reads come from the first target that holds the object, and a
// target that fails drops out of a write without failing it, as long as one target still takes the bytes.
// Callers learn which targets hold what from the writer's outcomes and record it (manifest, catalog).
import { once } from 'node:events';
import { PassThrough, type Readable, Writable } from 'node:stream';
import { StorageError, errorMessage } from '../errors.js';
import type { ObjectInfo, StorageDriver, StorageFeature, StorageKind, StorageWriter, WriteHints } from './types.js';

export interface TargetOutcome {
  target: string;
  ok: boolean;
  /** Why the target does not hold the object (when !ok). */
  error?: string | undefined;
}

export interface TargetSetWriter extends StorageWriter {
  /** Per target: did it take the object? Complete after commit() (or abort()). */
  outcomes(): TargetOutcome[];
  /**
   * The first target, in order, whose write is going and can be read back while it writes, with a way to open
   * readers on it (StorageWriter.readBack); none when no such target is being written.
   */
  readWhileWriting(): { target: string; read: () => Readable } | undefined;
}

export interface TargetStatus {
  target: string;
  kind: StorageKind;
  location: string;
  ok: boolean;
  error?: string | undefined;
}

export class TargetSet implements StorageDriver {
  readonly name: string;
  readonly kind: StorageKind;
  readonly features: ReadonlySet<StorageFeature>;
  readonly location: string;

  constructor(readonly targets: readonly StorageDriver[]) {
    if (targets.length === 0) throw new Error('TargetSet: at least one storage target is required');
    this.name = targets.map((t) => t.name).join('+');
    this.kind = targets[0]!.kind;
    this.features = new Set(targets.flatMap((t) => [...t.features]));
    this.location = targets.map((t) => `${t.name}=${t.location}`).join(', ');
  }

  /** The named targets only, in this set's order (e.g. where a backup's manifest goes: the holders of its artifact). */
  only(names: readonly string[]): TargetSet {
    const picked = this.targets.filter((t) => names.includes(t.name));
    const unknown = names.filter((n) => !this.targets.some((t) => t.name === n));
    if (unknown.length > 0 || picked.length === 0) {
      throw new StorageError(`no storage target named ${unknown.join(', ') || names.join(', ')}: configured targets are ${this.targets.map((t) => t.name).join(', ')}`);
    }
    return new TargetSet(picked);
  }

  target(name: string): StorageDriver | undefined {
    return this.targets.find((t) => t.name === name);
  }

  /** Targets that hold `path` now, in order; a target that cannot answer is skipped (its error in `failures`). */
  async holders(path: string): Promise<{ holders: { driver: StorageDriver; info: ObjectInfo }[]; failures: TargetOutcome[] }> {
    const answers = await Promise.allSettled(this.targets.map((t) => t.stat(path)));
    const holders: { driver: StorageDriver; info: ObjectInfo }[] = [];
    const failures: TargetOutcome[] = [];
    answers.forEach((answer, i) => {
      const driver = this.targets[i]!;
      if (answer.status === 'rejected') failures.push({ target: driver.name, ok: false, error: errorMessage(answer.reason) });
      else if (answer.value) holders.push({ driver, info: answer.value });
    });
    return { holders, failures };
  }

  async stat(path: string): Promise<ObjectInfo | undefined> {
    const { holders, failures } = await this.holders(path);
    if (holders.length > 0) return holders[0]!.info;
    if (failures.length === this.targets.length) throw allFailed(`look up ${path}`, failures);
    return undefined;
  }

  /** The union of every target's listing (first target wins for an object several hold); unreachable targets are skipped unless all are. */
  async list(prefix: string): Promise<ObjectInfo[]> {
    const answers = await Promise.allSettled(this.targets.map((t) => t.list(prefix)));
    const byPath = new Map<string, ObjectInfo>();
    const failures: TargetOutcome[] = [];
    answers.forEach((answer, i) => {
      if (answer.status === 'rejected') failures.push({ target: this.targets[i]!.name, ok: false, error: errorMessage(answer.reason) });
      else for (const object of answer.value) if (!byPath.has(object.path)) byPath.set(object.path, object);
    });
    if (failures.length === this.targets.length) throw allFailed(`list ${prefix}`, failures);
    return [...byPath.values()];
  }

  /** Reads from the first target that holds the object. */
  read(path: string): Readable {
    if (this.targets.length === 1) return this.targets[0]!.read(path);
    const out = new PassThrough({ highWaterMark: 1024 * 1024 });
    this.holders(path).then(
      ({ holders, failures }) => {
        const first = holders[0];
        if (!first) {
          out.destroy(
            failures.length > 0
              ? allFailed(`read ${path}`, failures, this.targets.length - failures.length)
              : new StorageError(`${path} is on none of the storage targets (${this.targets.map((t) => t.name).join(', ')})`),
          );
          return;
        }
        const source = first.driver.read(path);
        source.on('error', (error) => out.destroy(error));
        source.pipe(out);
        out.on('close', () => source.destroy());
      },
      (error) => out.destroy(error),
    );
    return out;
  }

  write(path: string, hints?: WriteHints): TargetSetWriter {
    return new MultiWriter(this.targets, path, hints);
  }

  /** Removes the object from every target; throws naming each target that failed (the others are done). */
  async remove(path: string): Promise<void> {
    const answers = await Promise.allSettled(this.targets.map((t) => t.remove(path)));
    const failures = answers.flatMap((a, i) => (a.status === 'rejected' ? [{ target: this.targets[i]!.name, ok: false, error: errorMessage(a.reason) }] : []));
    if (failures.length > 0) throw allFailed(`remove ${path}`, failures, this.targets.length - failures.length);
  }

  async freeBytes(path: string): Promise<number> {
    const measured = await Promise.all(this.targets.filter((t) => t.features.has('freeSpace') && t.freeBytes).map((t) => t.freeBytes!(path)));
    return measured.length === 0 ? Number.POSITIVE_INFINITY : Math.min(...measured);
  }

  /** Usable if one target is; `checkEach` says which. */
  async check(): Promise<void> {
    const statuses = await this.checkEach();
    const failures = statuses.filter((s) => !s.ok);
    if (failures.length === statuses.length) throw allFailed('be reached', failures.map((f) => ({ target: f.target, ok: false, error: f.error })));
  }

  async checkEach(): Promise<TargetStatus[]> {
    const answers = await Promise.allSettled(this.targets.map((t) => t.check()));
    return answers.map((a, i) => {
      const t = this.targets[i]!;
      return { target: t.name, kind: t.kind, location: t.location, ok: a.status === 'fulfilled', error: a.status === 'rejected' ? errorMessage(a.reason) : undefined };
    });
  }

  async removeIncomplete(prefix: string): Promise<string[]> {
    const answers = await Promise.allSettled(this.targets.map((t) => t.removeIncomplete(prefix)));
    return answers.flatMap((a, i) => (a.status === 'fulfilled' ? a.value.map((p) => `${this.targets[i]!.name}:${p}`) : []));
  }
}

function allFailed(what: string, failures: TargetOutcome[], succeeded = 0): StorageError {
  const detail = failures.map((f) => `${f.target}: ${f.error ?? 'failed'}`).join('; ');
  const scope = succeeded > 0 ? `${failures.length} storage target(s) could not ${what}` : `no storage target could ${what}`;
  return new StorageError(`${scope} (${detail})`, { hints: ['`pgwarden storage check` tests every target and says what is wrong with each'] });
}

/**
 * One write to every target. A target whose stream or commit fails is aborted and dropped (its partial object
 * removed); the write as a whole fails only when no target is left. Backpressure: a chunk is done when every
 * remaining target took it, so memory stays bounded by the slowest target's buffer.
 */
class MultiWriter implements TargetSetWriter {
  readonly stream: Writable;
  private readonly live = new Map<string, StorageWriter>();
  private readonly results = new Map<string, TargetOutcome>();

  constructor(
    private readonly targets: readonly StorageDriver[],
    private readonly path: string,
    hints?: WriteHints,
  ) {
    for (const target of targets) {
      try {
        const writer = target.write(path, hints);
        this.live.set(target.name, writer);
        // An error between writes, when nobody awaits the destination, drops the target at once.
        writer.stream.on('error', (error) => this.drop(target.name, error));
      } catch (error) {
        this.results.set(target.name, { target: target.name, ok: false, error: errorMessage(error) });
      }
    }
    this.stream = new Writable({
      highWaterMark: 1024 * 1024,
      write: (chunk: Buffer, _encoding, callback) => {
        this.writeAll(chunk).then(() => callback(), callback);
      },
      final: (callback) => {
        this.endAll().then(() => callback(), callback);
      },
      destroy: (error, callback) => {
        for (const writer of this.live.values()) writer.stream.destroy();
        callback(error);
      },
    });
    if (this.live.size === 0) queueMicrotask(() => this.stream.destroy(this.noneLeft()));
  }

  private drop(name: string, error: unknown): void {
    const writer = this.live.get(name);
    if (!writer) return;
    this.live.delete(name);
    this.results.set(name, { target: name, ok: false, error: errorMessage(error) });
    writer.stream.destroy();
    void writer.abort().catch(() => {});
  }

  private noneLeft(): StorageError {
    return allFailed(`store ${this.path}`, this.targets.map((t) => this.results.get(t.name) ?? { target: t.name, ok: false }));
  }

  private async writeAll(chunk: Buffer): Promise<void> {
    const waits: Promise<void>[] = [];
    for (const [name, writer] of this.live) {
      const dest = writer.stream;
      if (dest.destroyed) {
        this.drop(name, dest.errored ?? new Error('its stream closed'));
        continue;
      }
      if (!dest.write(chunk)) waits.push(waitDrain(dest).catch((error) => this.drop(name, error)));
    }
    await Promise.all(waits);
    if (this.live.size === 0) throw this.noneLeft();
  }

  private async endAll(): Promise<void> {
    await Promise.all(
      [...this.live].map(async ([name, writer]) => {
        try {
          const dest = writer.stream;
          if (dest.errored) throw dest.errored;
          if (!dest.writableFinished) {
            const finished = once(dest, 'finish');
            dest.end();
            await finished;
          }
        } catch (error) {
          this.drop(name, error);
        }
      }),
    );
    if (this.live.size === 0) throw this.noneLeft();
  }

  async commit(): Promise<void> {
    await Promise.all(
      [...this.live].map(async ([name, writer]) => {
        try {
          await writer.commit();
          this.results.set(name, { target: name, ok: true });
        } catch (error) {
          this.drop(name, error);
        }
      }),
    );
    if (![...this.results.values()].some((r) => r.ok)) throw this.noneLeft();
  }

  async abort(): Promise<void> {
    const writers = [...this.live];
    this.live.clear();
    await Promise.all(
      writers.map(async ([name, writer]) => {
        if (!this.results.has(name)) this.results.set(name, { target: name, ok: false, error: 'aborted' });
        await writer.abort().catch(() => {});
      }),
    );
  }

  outcomes(): TargetOutcome[] {
    return this.targets.map((t) => this.results.get(t.name) ?? { target: t.name, ok: false, error: 'not written' });
  }

  readWhileWriting(): { target: string; read: () => Readable } | undefined {
    for (const target of this.targets) {
      const writer = this.live.get(target.name);
      if (target.features.has('readWhileWriting') && writer?.readBack) return { target: target.name, read: () => writer.readBack!() };
    }
    return undefined;
  }
}

async function waitDrain(stream: Writable): Promise<void> {
  if (stream.destroyed) throw stream.errored ?? new Error('its stream closed');
  await new Promise<void>((resolve, reject) => {
    const onDrain = () => {
      cleanup();
      resolve();
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onClose = () => {
      cleanup();
      reject(stream.errored ?? new Error('its stream closed'));
    };
    const cleanup = () => {
      stream.off('drain', onDrain);
      stream.off('error', onError);
      stream.off('close', onClose);
    };
    stream.on('drain', onDrain);
    stream.on('error', onError);
    stream.on('close', onClose);
  });
}

/**
 * The targets holding `path`, in read order: a restore or verify tries them one after another until a copy
 * passes its checks ("read from whichever copy survives"). A plain driver is its own only copy.
 */
export async function copiesOf(storage: StorageDriver, path: string): Promise<StorageDriver[]> {
  if (!(storage instanceof TargetSet)) return [storage];
  const { holders, failures } = await storage.holders(path);
  if (holders.length === 0 && failures.length > 0) throw allFailed(`look up ${path}`, failures, storage.targets.length - failures.length);
  return holders.map((h) => h.driver);
}
