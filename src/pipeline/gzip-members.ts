// gzip as independent members, so a restore can decompress on every core. The plain stream is cut into members
// of a fixed size, each compressed on its own (Node's zlib, on the libuv pool, several at once) and written in
// order. A concatenation of gzip members is one standard gzip stream (`gzip -t`, pigz, zlib and older pgwarden
// versions read it whole); each member's header carries, in a gzip extra subfield 'PW' (RFC 1952 FEXTRA, which
// other readers skip), the member's stored length and plain length: the index that lets a reader cut the stream
// into members without inflating it first. A reader trusts no index: each member must inflate to exactly the
// plain length its header claims (zlib also checks the member's CRC-32 and size), and the next member must start
// where the index says, or the read fails.
import { availableParallelism } from 'node:os';
import { Transform, type TransformCallback } from 'node:stream';
import { promisify } from 'node:util';
import { createGunzip, type Gunzip, gunzip, gzip } from 'node:zlib';
import { VerificationError } from '../errors.js';

const gzipAsync = promisify(gzip);
const gunzipAsync = promisify(gunzip);

/** Plain bytes per member: big enough that the restarted dictionary costs nothing measurable, small enough to spread over cores. */
export const GZIP_MEMBER_BYTES = 2 * 1024 * 1024;

// Header: magic, CM=deflate, FLG=FEXTRA, MTIME 0, XFL 0, OS 3 (Unix); XLEN 12; subfield 'P','W', LEN 8: stored length, plain length (uint32 LE).
const HEADER_BYTES = 10 + 2 + 12;
const SUBFIELD = [0x50, 0x57] as const;

function memberHeader(storedLength: number, plainLength: number): Buffer {
  const h = Buffer.alloc(HEADER_BYTES);
  h.set([0x1f, 0x8b, 0x08, 0x04, 0, 0, 0, 0, 0, 0x03], 0);
  h.writeUInt16LE(12, 10);
  h.set(SUBFIELD, 12);
  h.writeUInt16LE(8, 14);
  h.writeUInt32LE(storedLength, 16);
  h.writeUInt32LE(plainLength, 20);
  return h;
}

/** The index of a member starting at `bytes[0]`: undefined when it is a gzip member without one (pigz, older pgwarden). */
export function readMemberIndex(bytes: Buffer): { storedLength: number; plainLength: number } | undefined {
  if (bytes.length < HEADER_BYTES || bytes[0] !== 0x1f || bytes[1] !== 0x8b || bytes[2] !== 0x08 || bytes[3] !== 0x04) return undefined;
  if (bytes.readUInt16LE(10) !== 12 || bytes[12] !== SUBFIELD[0] || bytes[13] !== SUBFIELD[1] || bytes.readUInt16LE(14) !== 8) return undefined;
  return { storedLength: bytes.readUInt32LE(16), plainLength: bytes.readUInt32LE(20) };
}

/** Compresses its input into indexed gzip members, `concurrency` at once, output in order. */
export class GzipMemberWriter extends Transform {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  private started = false;

  constructor(
    private readonly options: { level: number; concurrency?: number | undefined; memberBytes?: number | undefined },
  ) {
    super({ highWaterMark: 1024 * 1024 });
  }

  private get memberBytes(): number {
    return this.options.memberBytes ?? GZIP_MEMBER_BYTES;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    this.drainFull().then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    this.drainFull()
      .then(async () => {
        // An empty input still makes one (empty) member: an empty file is not a gzip stream.
        if (this.pendingBytes > 0 || !this.started) this.startMember(Buffer.concat(this.pending));
        while (this.inFlight.length > 0) this.push(await this.inFlight.shift()!);
      })
      .then(() => callback(), callback);
  }

  /** Starts a member for every full member's worth of input; waits for the oldest while too many are running. */
  private async drainFull(): Promise<void> {
    while (this.pendingBytes >= this.memberBytes) {
      const all = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending);
      this.startMember(all.subarray(0, this.memberBytes));
      const rest = all.subarray(this.memberBytes);
      this.pending = rest.length > 0 ? [rest] : [];
      this.pendingBytes = rest.length;
      while (this.inFlight.length >= (this.options.concurrency ?? availableParallelism())) this.push(await this.inFlight.shift()!);
    }
  }

  private startMember(plain: Buffer): void {
    this.started = true;
    const member = gzipAsync(plain, { level: this.options.level }).then((compressed) => {
      // zlib's own 10-byte header without FLG.FEXTRA is replaced by ours; its deflate body and trailer stay.
      const body = compressed.subarray(10);
      return Buffer.concat([memberHeader(HEADER_BYTES + body.length, plain.length), body]);
    });
    member.catch(() => {});
    this.inFlight.push(member);
  }
}

/**
 * Decompresses a gzip stream. Indexed members (GzipMemberWriter) are inflated `concurrency` at once and written
 * in order; any other gzip stream (pigz's, older pgwarden's) goes through one streaming gunzip.
 * `plainBytes` counts what came out.
 */
export class GzipMemberReader extends Transform {
  plainBytes = 0;
  private mode: 'undecided' | 'members' | 'stream' = 'undecided';
  private buffered: Buffer[] = [];
  private bufferedBytes = 0;
  private storedOffset = 0;
  private members = 0;
  private readonly inFlight: Promise<Buffer>[] = [];
  private inner: Gunzip | undefined;
  private innerEnded: Promise<void> | undefined;

  constructor(private readonly options: { concurrency?: number | undefined } = {}) {
    super({ highWaterMark: 1024 * 1024 });
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    if (this.mode === 'stream') {
      this.writeInner(chunk, callback);
      return;
    }
    this.buffered.push(chunk);
    this.bufferedBytes += chunk.length;
    if (this.mode === 'undecided') {
      if (this.bufferedBytes < HEADER_BYTES) {
        callback();
        return;
      }
      const head = this.joined();
      if (readMemberIndex(head)) this.mode = 'members';
      else {
        this.startInner();
        this.writeInner(head, callback);
        return;
      }
    }
    this.cutMembers().then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    if (this.mode === 'stream') {
      this.inner!.end();
      this.innerEnded!.then(() => callback(), callback);
      return;
    }
    if (this.mode === 'undecided' && this.bufferedBytes > 0) {
      // Shorter than an indexed header: whatever it is, the streaming gunzip judges it.
      this.startInner();
      this.writeInner(this.joined(), () => {
        this.inner!.end();
        this.innerEnded!.then(() => callback(), callback);
      });
      return;
    }
    (async () => {
      await this.cutMembers();
      if (this.bufferedBytes > 0) {
        throw new VerificationError('decompress', `the gzip stream ends inside member ${this.members + 1}: ${this.bufferedBytes} bytes after offset ${this.storedOffset} do not make a whole member`);
      }
      if (this.mode === 'undecided') throw new VerificationError('decompress', 'the gzip stream is empty or too short to hold a member');
      while (this.inFlight.length > 0) this.deliver(await this.inFlight.shift()!);
    })().then(() => callback(), callback);
  }

  override _read(size: number): void {
    this.inner?.resume();
    super._read(size);
  }

  /** The buffered bytes as one buffer (kept as the only one). */
  private joined(): Buffer {
    const all = this.buffered.length === 1 ? this.buffered[0]! : Buffer.concat(this.buffered);
    this.buffered = [all];
    return all;
  }

  private async cutMembers(): Promise<void> {
    for (;;) {
      if (this.bufferedBytes < HEADER_BYTES) return;
      const all = this.joined();
      const index = readMemberIndex(all);
      if (!index) {
        throw new VerificationError('decompress', `the gzip stream has no indexed member header at offset ${this.storedOffset} (member ${this.members + 1}): the member index does not match the stream`);
      }
      if (index.storedLength <= HEADER_BYTES) throw new VerificationError('decompress', `member ${this.members + 1} of the gzip stream claims an impossible length ${index.storedLength}`);
      if (all.length < index.storedLength) return;
      const member = all.subarray(0, index.storedLength);
      const rest = all.subarray(index.storedLength);
      this.buffered = rest.length > 0 ? [rest] : [];
      this.bufferedBytes = rest.length;
      const number = ++this.members;
      const offset = this.storedOffset;
      this.storedOffset += index.storedLength;
      const plain = gunzipAsync(member).then(
        (out) => {
          if (out.length !== index.plainLength) {
            throw new VerificationError('decompress', `member ${number} of the gzip stream (offset ${offset}) inflates to ${out.length} bytes; its index says ${index.plainLength}`);
          }
          return out;
        },
        (error: Error) => {
          throw new VerificationError('decompress', `member ${number} of the gzip stream (offset ${offset}, ${index.storedLength} bytes by its index) does not inflate: ${error.message}`, { cause: error });
        },
      );
      plain.catch(() => {});
      this.inFlight.push(plain);
      while (this.inFlight.length >= (this.options.concurrency ?? availableParallelism() + 1)) this.deliver(await this.inFlight.shift()!);
    }
  }

  private deliver(plain: Buffer): void {
    this.plainBytes += plain.length;
    this.push(plain);
  }

  private startInner(): void {
    this.mode = 'stream';
    const inner = createGunzip({ chunkSize: 256 * 1024 });
    this.inner = inner;
    inner.on('data', (out: Buffer) => {
      this.plainBytes += out.length;
      if (!this.push(out)) inner.pause();
    });
    this.innerEnded = new Promise((resolve, reject) => {
      inner.once('end', resolve);
      inner.once('error', (error) => reject(new VerificationError('decompress', `the gzip stream does not inflate: ${error.message}`, { cause: error })));
    });
    this.innerEnded.catch((error: Error) => this.destroy(error));
  }

  private writeInner(chunk: Buffer, callback: TransformCallback): void {
    this.buffered = [];
    this.bufferedBytes = 0;
    if (this.inner!.write(chunk)) callback();
    else this.inner!.once('drain', () => callback());
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.inner?.destroy();
    callback(error);
  }
}
