// Serialising and checking manifests. The checksum covers the canonical JSON (keys sorted) so any edit, even
// one that keeps the JSON valid, is caught before a restore trusts the file.
import { createHash } from 'node:crypto';
import * as z from 'zod';
import { VerificationError } from '../errors.js';
import { COMPRESSION_ALGORITHMS } from '../pipeline/compression.js';
import { type BackupManifest, MANIFEST_FORMAT_VERSION } from './types.js';

const manifestSchema = z.strictObject({
  formatVersion: z.number().int(),
  backupId: z.string().min(1),
  kind: z.enum(['full', 'base', 'incremental']),
  database: z.string().min(1),
  serverVersion: z.string(),
  toolVersion: z.string(),
  startedAt: z.string(),
  finishedAt: z.string(),
  startLsn: z.string().nullable(),
  endLsn: z.string().nullable().optional(),
  timeline: z.number().int().positive().nullable().optional(),
  wal: z
    .strictObject({ first: z.string(), last: z.string(), segments: z.number().int().nonnegative(), bytes: z.number().int().nonnegative() })
    .nullable()
    .optional(),
  artifact: z.strictObject({
    file: z.string().regex(/^[A-Za-z0-9._-]+$/),
    format: z.enum(['custom', 'directory-tar', 'tar']),
    compression: z.strictObject({ algorithm: z.enum(COMPRESSION_ALGORITHMS), level: z.number().int() }),
    encryption: z
      .strictObject({
        keyId: z.string(),
        format: z.literal('pgwenc-1'),
        // Absent in manifests of config-key backups, and in every manifest written before KMS support.
        kms: z.strictObject({ keyId: z.string().min(1), wrappedKey: z.string().min(1) }).optional(),
      })
      .nullable(),
    rawBytes: z.number().int().nonnegative(),
    storedBytes: z.number().int().nonnegative(),
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
  }).nullable(),
  tables: z.strictObject({
    count: z.number().int().nonnegative(),
    rows: z.record(z.string(), z.number().int().nonnegative()).optional(),
  }),
  expectedBytes: z.number().nullable(),
  verification: z
    .strictObject({
      ok: z.boolean(),
      at: z.string(),
      error: z.string().nullable(),
      tablesInArchive: z.number().int().optional(),
      durationSeconds: z.number().optional(),
    })
    .nullable(),
  copies: z.record(z.string(), z.strictObject({ status: z.enum(['stored', 'failed']), error: z.string().optional() })).optional(),
  checksum: z.string(),
});

function canonical(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(canonical);
  if (value !== null && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const key of Object.keys(value).sort()) {
      const v = (value as Record<string, unknown>)[key];
      if (v !== undefined) out[key] = canonical(v);
    }
    return out;
  }
  return value;
}

export function manifestChecksum(manifest: Omit<BackupManifest, 'checksum'> | BackupManifest): string {
  const { checksum: _ignored, ...rest } = manifest as BackupManifest;
  return createHash('sha256').update(JSON.stringify(canonical(rest))).digest('hex');
}

/** Seals a manifest: fills in its checksum and returns the text to store. */
export function sealManifest(manifest: Omit<BackupManifest, 'checksum'>): { manifest: BackupManifest; text: string } {
  const sealed = { ...manifest, checksum: manifestChecksum(manifest) } as BackupManifest;
  return { manifest: sealed, text: `${JSON.stringify(sealed, null, 2)}\n` };
}

/** Parses and checks a stored manifest; `where` names it in messages. */
export function parseManifest(text: string, where: string): BackupManifest {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new VerificationError('manifest', `manifest ${where} is not valid JSON: ${(error as Error).message}`);
  }
  const parsed = manifestSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new VerificationError('manifest', `manifest ${where} is malformed: ${issue.path.join('.') || '(root)'}: ${issue.message}`);
  }
  const manifest = parsed.data as BackupManifest;
  if (manifest.formatVersion > MANIFEST_FORMAT_VERSION) {
    throw new VerificationError('manifest', `manifest ${where} has format version ${manifest.formatVersion}; this pgwarden reads up to ${MANIFEST_FORMAT_VERSION}`, {
      hints: ['upgrade pgwarden'],
    });
  }
  if (manifestChecksum(manifest) !== manifest.checksum) {
    throw new VerificationError('manifest', `manifest ${where} was modified: its checksum does not match its content`, {
      hints: ['restore the manifest from another storage target, or rebuild it from the catalog copy'],
    });
  }
  return manifest;
}

/** The artifact of a manifest that must have one (full and base backups); incrementals have none. */
export function requireArtifact(manifest: BackupManifest, where: string): NonNullable<BackupManifest['artifact']> {
  if (!manifest.artifact) {
    throw new VerificationError('manifest', `backup ${manifest.backupId} (${manifest.kind}) has no artifact of its own (${where})`, {
      hints: ['incremental backups seal WAL in the archive; restore with restore-pitr'],
    });
  }
  return manifest.artifact;
}
