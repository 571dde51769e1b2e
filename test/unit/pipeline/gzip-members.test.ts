// Indexed gzip members: one standard gzip stream that every gzip reader reads whole, which pgwarden's reader cuts
// at the recorded lengths and inflates in parallel — and refuses when the index lies or the stream is cut.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, type Transform, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { gunzipSync, gzipSync } from 'node:zlib';
import { VerificationError } from '../../../src/errors.js';
import { GzipMemberReader, GzipMemberWriter, readMemberIndex } from '../../../src/pipeline/gzip-members.js';

/** Compressible but not trivial: text with random words. */
function sample(bytes: number): Buffer {
  const words = Array.from({ length: 64 }, () => randomBytes(6).toString('hex'));
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const w = words[Math.floor(Math.random() * words.length)]!;
    parts.push(w);
    n += w.length + 1;
  }
  return Buffer.from(parts.join(' ')).subarray(0, bytes);
}

async function through(stage: Transform, input: Buffer, chunk = 65536): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += chunk) chunks.push(input.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    stage,
    new Writable({
      write(c: Buffer, _e, callback) {
        out.push(c);
        callback();
      },
    }),
  );
  return Buffer.concat(out);
}

/** Each member's [offset, index] walking the recorded lengths. */
function members(gz: Buffer): { offset: number; storedLength: number; plainLength: number }[] {
  const list = [];
  for (let offset = 0; offset < gz.length; ) {
    const index = readMemberIndex(gz.subarray(offset))!;
    assert.ok(index, `an indexed member at ${offset}`);
    list.push({ offset, ...index });
    offset += index.storedLength;
  }
  return list;
}

async function readRejects(input: Buffer, pattern: RegExp): Promise<void> {
  let caught: unknown;
  await through(new GzipMemberReader(), input).catch((error: unknown) => {
    caught = error;
  });
  assert.ok(caught instanceof VerificationError, `expected a VerificationError, got ${String(caught)}`);
  assert.match(caught.message, pattern);
}

describe('indexed gzip members', () => {
  it('writes one standard gzip stream of indexed members that gzip, pigz and zlib read whole', async () => {
    const input = sample(1_000_000);
    const gz = await through(new GzipMemberWriter({ level: 6, memberBytes: 128 * 1024, concurrency: 3 }), input, 10_000);
    assert.ok(gunzipSync(gz).equals(input));
    const list = members(gz);
    assert.equal(list.length, Math.ceil(input.length / (128 * 1024)));
    assert.deepEqual(list.map((m) => m.plainLength), [...Array(7).fill(128 * 1024), input.length - 7 * 128 * 1024]);
    const dir = await mkdtemp(join(tmpdir(), 'pgwarden-gzip-members-'));
    try {
      await writeFile(join(dir, 'x.gz'), gz);
      execFileSync('gzip', ['-t', join(dir, 'x.gz')]);
      assert.ok(execFileSync('pigz', ['-d', '-c', join(dir, 'x.gz')], { maxBuffer: 1 << 24 }).equals(input));
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads its members back in order, whatever the chunking, and counts the plain bytes', async () => {
    const input = sample(700_000);
    const gz = await through(new GzipMemberWriter({ level: 1, memberBytes: 50_000 }), input);
    for (const chunk of [1, 23, 4096, 1 << 20]) {
      const reader = new GzipMemberReader({ concurrency: 3 });
      const out = await through(reader, gz, chunk);
      assert.ok(out.equals(input), `chunk ${chunk}`);
      assert.equal(reader.plainBytes, input.length);
    }
  });

  it('writes an empty input as one empty member, and reads it back', async () => {
    const gz = await through(new GzipMemberWriter({ level: 6 }), Buffer.alloc(0));
    assert.equal(gunzipSync(gz).length, 0);
    assert.equal((await through(new GzipMemberReader(), gz)).length, 0);
  });

  it('reads gzip streams without the index (pigz, older pgwarden) as one stream, members and all', async () => {
    const input = sample(300_000);
    const single = gzipSync(input);
    assert.ok((await through(new GzipMemberReader(), single, 1000)).equals(input));
    const concatenated = Buffer.concat([gzipSync(input.subarray(0, 1000)), gzipSync(input.subarray(1000))]);
    assert.ok((await through(new GzipMemberReader(), concatenated)).equals(input));
    assert.ok((await through(new GzipMemberReader(), gzipSync(Buffer.alloc(0)))).length === 0);
    await readRejects(single.subarray(0, single.length - 100), /the gzip stream does not inflate: unexpected end of file/);
  });

  it('fails when a member index lies about its stored length, in either direction', async () => {
    const input = sample(400_000);
    const gz = await through(new GzipMemberWriter({ level: 6, memberBytes: 100_000 }), input);
    const [, second] = members(gz);
    const longer = Buffer.from(gz);
    longer.writeUInt32LE(second!.storedLength + 40, second!.offset + 16);
    await readRejects(longer, /member 2 of the gzip stream \(offset \d+, \d+ bytes by its index\) does not inflate|no indexed member header at offset/);
    const shorter = Buffer.from(gz);
    shorter.writeUInt32LE(second!.storedLength - 40, second!.offset + 16);
    await readRejects(shorter, /member 2 of the gzip stream \(offset \d+, \d+ bytes by its index\) does not inflate|no indexed member header at offset \d+ \(member 3\): the member index does not match the stream/);
    const impossible = Buffer.from(gz);
    impossible.writeUInt32LE(3, second!.offset + 16);
    await readRejects(impossible, /member 2 of the gzip stream claims an impossible length 3/);
  });

  it('fails when a member index lies about its plain length', async () => {
    const input = sample(400_000);
    const gz = await through(new GzipMemberWriter({ level: 6, memberBytes: 100_000 }), input);
    const [first] = members(gz);
    const lying = Buffer.from(gz);
    lying.writeUInt32LE(first!.plainLength + 1, first!.offset + 20);
    await readRejects(lying, /member 1 of the gzip stream \(offset 0\) inflates to 100000 bytes; its index says 100001/);
  });

  it('fails a truncated stream and a damaged member', async () => {
    const input = sample(400_000);
    const gz = await through(new GzipMemberWriter({ level: 6, memberBytes: 100_000 }), input);
    await readRejects(gz.subarray(0, gz.length - 10), /the gzip stream ends inside member 4/);
    const [, , third] = members(gz);
    const damaged = Buffer.from(gz);
    damaged.writeUInt8(damaged.readUInt8(third!.offset + 500) ^ 0xff, third!.offset + 500);
    await readRejects(damaged, /member 3 of the gzip stream \(offset \d+, \d+ bytes by its index\) does not inflate/);
    await readRejects(Buffer.concat([gz, Buffer.from('trailing garbage that is not a member')]), /no indexed member header at offset \d+ \(member 5\)/);
  });
});
