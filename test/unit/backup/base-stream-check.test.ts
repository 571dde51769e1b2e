// The in-stream check of pg_basebackup's tar against its backup_manifest: built tars (ustar, as pg_basebackup
// writes them) with manifests checksummed as PostgreSQL does, then damaged in each way pg_verifybackup notices.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, it } from 'node:test';
import { BaseStreamCheck, type BaseStreamReport, type ManifestChecksumAlgorithm } from '../../../src/backup/base-stream-check.js';
import { VerificationError } from '../../../src/errors.js';
import { crc32c, crc32cManifestHex } from '../../../src/pipeline/crc32c.js';

interface TarFile {
  path: string;
  content?: Buffer;
  type?: '0' | '5' | '2' | 'x';
}

function tarHeader(path: string, size: number, type: string): Buffer {
  const h = Buffer.alloc(512);
  h.write(path, 0, 100, 'latin1');
  h.write('0000600\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write(type, 156);
  h.write('ustar\x0000', 257, 'latin1');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

function tar(files: TarFile[], options: { end?: boolean } = {}): Buffer {
  const parts: Buffer[] = [];
  for (const file of files) {
    const content = file.content ?? Buffer.alloc(0);
    parts.push(tarHeader(file.path, content.length, file.type ?? '0'), content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  if (options.end !== false) parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}

function checksumOf(algorithm: ManifestChecksumAlgorithm, content: Buffer): string | undefined {
  if (algorithm === 'NONE') return undefined;
  if (algorithm === 'CRC32C') return crc32cManifestHex(crc32c(content));
  return createHash(algorithm.toLowerCase()).update(content).digest('hex');
}

/** A backup_manifest as PostgreSQL writes it: one line per file, its SHA-256 over everything before the last line. */
function manifest(files: { path: string; content: Buffer; encoded?: boolean }[], options: { algorithm?: ManifestChecksumAlgorithm; version?: number; systemIdentifier?: string } = {}): Buffer {
  const algorithm = options.algorithm ?? 'CRC32C';
  const lines = [`{ "PostgreSQL-Backup-Manifest-Version": ${options.version ?? 1},`];
  if (options.systemIdentifier) lines.push(`"System-Identifier": ${options.systemIdentifier},`);
  lines.push('"Files": [');
  files.forEach((f, i) => {
    const name = f.encoded ? `"Encoded-Path": "${Buffer.from(f.path, 'latin1').toString('hex')}"` : `"Path": ${JSON.stringify(f.path)}`;
    const sum = checksumOf(algorithm, f.content);
    const check = sum === undefined ? '' : `, "Checksum-Algorithm": "${algorithm}", "Checksum": "${sum}"`;
    lines.push(`{ ${name}, "Size": ${f.content.length}, "Last-Modified": "2026-11-25 14:04:04 GMT"${check} }${i < files.length - 1 ? ',' : ''}`);
  });
  lines.push('],', '"WAL-Ranges": [', '{ "Timeline": 1, "Start-LSN": "0/2000028", "End-LSN": "0/2000100" }', '],');
  const body = `${lines.join('\n')}\n`;
  const sum = createHash('sha256').update(body).digest('hex');
  return Buffer.from(`${body}"Manifest-Checksum": "${sum}"}\n`);
}

const FILES = [
  { path: 'backup_label', content: Buffer.from('START WAL LOCATION: 0/2000028\n') },
  { path: 'PG_VERSION', content: Buffer.from('15\n') },
  { path: 'base/1/1259', content: Buffer.alloc(8192 * 3 + 100, 7) },
  { path: 'global/pg_control', content: Buffer.concat([Buffer.from([0x15, 0xcd, 0x5b, 0x07, 0x00, 0x00, 0x00, 0x00]), Buffer.alloc(8184, 1)]) },
  { path: 'tablespace_map', content: Buffer.alloc(0) },
];

/** The entries of a good backup, in pg_basebackup's order: directories and files, the manifest last. */
function goodEntries(m = manifest(FILES)): TarFile[] {
  return [
    { path: 'base/', type: '5' },
    { path: 'pg_wal/', type: '5' },
    ...FILES,
    { path: 'backup_manifest', content: m },
  ];
}

/** Streams `input` through the check in chunks of `chunk` bytes; returns its report and the bytes that came out. */
async function check(input: Buffer, options: { chunk?: number; algorithm?: ManifestChecksumAlgorithm } = {}): Promise<{ report: BaseStreamReport; out: Buffer }> {
  const size = options.chunk ?? 4096;
  const chunks: Buffer[] = [];
  for (let i = 0; i < input.length; i += size) chunks.push(input.subarray(i, i + size));
  const out: Buffer[] = [];
  const stage = new BaseStreamCheck({ algorithm: options.algorithm });
  await pipeline(
    Readable.from(chunks),
    stage,
    new Writable({
      write(chunk: Buffer, _e, callback) {
        out.push(chunk);
        callback();
      },
    }),
  );
  return { report: stage.report(), out: Buffer.concat(out) };
}

async function rejects(input: Buffer, pattern: RegExp, options: { algorithm?: ManifestChecksumAlgorithm } = {}): Promise<VerificationError> {
  let caught: unknown;
  await check(input, options).catch((error: unknown) => {
    caught = error;
  });
  assert.ok(caught instanceof VerificationError, `expected a VerificationError, got ${String(caught)}`);
  assert.match(caught.message, pattern);
  return caught;
}

describe('BaseStreamCheck', () => {
  it('passes a whole backup through unchanged and reports what it checked, whatever the chunking', async () => {
    const input = tar(goodEntries());
    for (const chunk of [1, 511, 512, 4096, 1 << 20]) {
      const { report, out } = await check(input, { chunk });
      assert.ok(out.equals(input), `chunk ${chunk}: the bytes pass unchanged`);
      assert.equal(report.files, FILES.length);
      assert.equal(report.bytes, FILES.reduce((n, f) => n + f.content.length, 0));
      assert.deepEqual(report.walRanges, [{ timeline: 1, startLsn: '0/2000028', endLsn: '0/2000100' }]);
      assert.equal(report.checksumAlgorithm, 'CRC32C');
    }
  });

  it('computes CRC-32C as PostgreSQL prints it in a manifest', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    // "15\n" as a PostgreSQL 15 backup_manifest lists PG_VERSION.
    assert.equal(crc32cManifestHex(crc32c(Buffer.from('15\n'))), '8a744722');
    assert.equal(crc32c(Buffer.from('6789'), crc32c(Buffer.from('12345'))), 0xe3069283);
  });

  it('checks SHA-256 checksums and size-only manifests too', async () => {
    const sha = await check(tar(goodEntries(manifest(FILES, { algorithm: 'SHA256' }))), { algorithm: 'SHA256' });
    assert.equal(sha.report.checksumAlgorithm, 'SHA256');
    await check(tar(goodEntries(manifest(FILES, { algorithm: 'NONE' }))));
    await rejects(tar(goodEntries(manifest(FILES, { algorithm: 'SHA256' }))), /"PG_VERSION" has a SHA256 checksum in the manifest, but the backup was checked with CRC32C/);
  });

  it('fails a file whose checksum differs from the manifest', async () => {
    const entries = goodEntries().map((e) => (e.path === 'base/1/1259' ? { ...e, content: Buffer.concat([Buffer.alloc(8192, 7), Buffer.from([8]), Buffer.alloc(8192 * 2 + 99, 7)]) } : e));
    const error = await rejects(tar(entries), /the base backup does not match its backup_manifest: checksum mismatch for file "base\/1\/1259"/);
    assert.equal(error.check, 'checksum');
  });

  it('fails a file whose size differs from the manifest', async () => {
    const entries = goodEntries().map((e) => (e.path === 'PG_VERSION' ? { ...e, content: Buffer.from('15\n\n') } : e));
    await rejects(tar(entries), /"PG_VERSION" has size 4 in the backup but size 3 in the manifest/);
  });

  it('fails a file the manifest lists that the stream lacks', async () => {
    const entries = goodEntries().filter((e) => e.path !== 'base/1/1259');
    await rejects(tar(entries), /"base\/1\/1259" is present in the manifest but not in the backup/);
  });

  it('fails a file in the stream that the manifest does not list, but not in the paths pg_verifybackup ignores', async () => {
    const extra = goodEntries();
    extra.splice(3, 0, { path: 'base/1/stray', content: Buffer.from('x') });
    await rejects(tar(extra), /"base\/1\/stray" is present in the backup but not in the manifest/);
    const ignored = goodEntries();
    ignored.splice(3, 0, { path: 'pg_wal/000000010000000000000002', content: Buffer.alloc(100) }, { path: 'postgresql.auto.conf', content: Buffer.from('x') });
    assert.equal((await check(tar(ignored))).report.files, FILES.length);
  });

  it('lists several problems in one message, and how many more there are', async () => {
    const entries = [...goodEntries().filter((e) => !FILES.some((f) => f.path === e.path)), { path: 'base/1/stray', content: Buffer.from('x') }];
    await rejects(tar(entries), /^the base backup does not match its backup_manifest: "base\/1\/stray" is present in the backup but not in the manifest; ("[^"]+" is present in the manifest but not in the backup; ){4}and 1 more$/);
  });

  it('fails a truncated stream, inside a file or before the end-of-archive blocks', async () => {
    const whole = tar(goodEntries());
    await rejects(whole.subarray(0, 512 * 7 + 700), /the base backup stream is truncated: it ended inside "base\/1\/1259" \(\d+ of its \d+ bytes missing\)/);
    await rejects(whole.subarray(0, whole.length - 1024), /the base backup stream is truncated: it ended before the end of its tar archive/);
    await rejects(whole.subarray(0, 100), /truncated/);
  });

  it('fails a stream without a manifest, or whose manifest fails its own checksum', async () => {
    await rejects(tar(goodEntries().filter((e) => e.path !== 'backup_manifest')), /holds no backup_manifest/);
    const tampered = Buffer.from(manifest(FILES).toString().replace('"Size": 3,', '"Size": 4,'));
    const error = await rejects(tar(goodEntries(tampered)), /backup_manifest fails its own checksum/);
    assert.equal(error.check, 'manifest');
  });

  it('fails a manifest that lists a path twice, and one with Encoded-Path entries is read as bytes', async () => {
    await rejects(tar(goodEntries(manifest([...FILES, FILES[1]!])), {}), /duplicate path name: "PG_VERSION"/);
    const odd = { path: 'base/1/na\xefve', content: Buffer.from('odd name') };
    const entries = goodEntries(manifest([...FILES, { ...odd, encoded: true }]));
    entries.splice(3, 0, odd);
    assert.equal((await check(tar(entries))).report.files, FILES.length + 1);
  });

  it('checks the system identifier of a version 2 manifest against pg_control', async () => {
    const good = manifest(FILES, { version: 2, systemIdentifier: String(0x075bcd15n) });
    await check(tar(goodEntries(good)));
    const other = manifest(FILES, { version: 2, systemIdentifier: '7311111111111111111' });
    await rejects(tar(goodEntries(other)), /system identifier 7311111111111111111 is not pg_control's \(123456789\)/);
  });

  it('fails a damaged tar header, an entry type pg_basebackup never writes, and data after the end', async () => {
    const whole = tar(goodEntries());
    const damaged = Buffer.from(whole);
    damaged[512 * 2 + 10] = 0x41; // inside the third header's name
    await rejects(damaged, /the header of entry 3 fails its checksum/);
    const pax = goodEntries();
    pax.splice(2, 0, { path: 'PaxHeaders/x', content: Buffer.from('30 path=base/1/x\n'), type: 'x' });
    await rejects(tar(pax), /entry of type 'x', which pg_basebackup does not write/);
    await rejects(Buffer.concat([whole, Buffer.from('junk')]), /data after the end of its tar archive/);
    const twice = goodEntries();
    twice.splice(3, 0, FILES[1]!);
    await rejects(tar(twice), /holds "PG_VERSION" twice/);
  });
});
