// The storage driver contract. Every target (local disk, S3, GCS) implements these few operations; optional
// abilities are announced in `features` and callers ask `driver.features.has(...)`, never `instanceof`.
import type { Readable, Writable } from 'node:stream';

/**
 * 'freeSpace': the driver can say how many bytes fit (local disks; object stores are unbounded).
 * 'readWhileWriting': its writers can read an object back while it is being written (local disks; an object
 * store shows an upload only once it completed).
 */
export type StorageFeature = 'freeSpace' | 'readWhileWriting';

/** What a target is, for retention (cloud copies keep longer), cost and lifecycle rules. */
export type StorageKind = 'local' | 's3' | 'gcs';

export interface ObjectInfo {
  /** Path relative to the target's root, '/'-separated. */
  path: string;
  size: number;
  modifiedAt: Date;
}

export interface WriteHints {
  /**
   * About how many bytes will be written (a backup's expected size), so a target can size its upload: S3
   * allows at most 10 000 parts per object, so parts grow for large objects.
   */
  expectedBytes?: number | undefined;
}

export interface StorageWriter {
  /** Where the bytes go. Nothing is visible under the final name until `commit()`. */
  readonly stream: Writable;
  /** Makes the object visible under its final name, durably (after the stream finished). */
  commit(): Promise<void>;
  /** Removes whatever was written; safe to call after a failure, and more than once. */
  abort(): Promise<void>;
  /**
   * Only with the driver's 'readWhileWriting' feature: reads the object back from the target as its bytes land
   * there, each call a reader of its own, so a backup is verified while it is still being written. The stream
   * ends once every byte written has been read, and fails when the write fails or is aborted. Call it before
   * `commit()`.
   */
  readBack?(): Readable;
}

/** What the bucket itself should do with old objects, so a bucket stays bounded even if pgwarden stops. */
export interface LifecyclePolicy {
  /** Only objects under this key prefix ('' for the whole bucket). */
  prefix: string;
  /** Move objects to the provider's cold class (S3 Glacier) after this many days; absent keeps the class. */
  coldAfterDays?: number | undefined;
  /** Delete objects this many days after they were written. */
  expireAfterDays: number;
}

/** Bucket lifecycle rules, on targets whose provider has them (S3, GCS). */
export interface LifecycleSupport {
  /** The provider's own document for `policy` (S3 LifecycleConfiguration, GCS lifecycle), printed as JSON. */
  document(policy: LifecyclePolicy): unknown;
  /** The document the bucket has now, or undefined when it has none. */
  current(): Promise<unknown>;
  /** Writes `document(policy)` to the bucket, replacing its lifecycle configuration. */
  apply(policy: LifecyclePolicy): Promise<void>;
}

export interface StorageDriver {
  /** The target's name in config, messages and manifests: 'local', 's3', 'gcs', …. */
  readonly name: string;
  readonly kind: StorageKind;
  readonly features: ReadonlySet<StorageFeature>;
  /** Where the target is, for messages: a directory or a bucket URL. */
  readonly location: string;
  stat(path: string): Promise<ObjectInfo | undefined>;
  /** Every object whose path starts with `prefix`, in no particular order. */
  list(prefix: string): Promise<ObjectInfo[]>;
  read(path: string): Readable;
  write(path: string, hints?: WriteHints): StorageWriter;
  remove(path: string): Promise<void>;
  /** Bytes that can still be written; only when `features.has('freeSpace')`. */
  freeBytes?(path: string): Promise<number>;
  /**
   * Proves the target is usable now (the directory or bucket exists, the credentials are accepted) with one
   * cheap request; throws a StorageError naming the target and what to fix.
   */
  check(): Promise<void>;
  /** Present on object stores with bucket lifecycle rules. */
  readonly lifecycle?: LifecycleSupport | undefined;
  /** Removes objects left by writers that never committed (a crash mid-backup) under `prefix`. */
  removeIncomplete(prefix: string): Promise<string[]>;
}
