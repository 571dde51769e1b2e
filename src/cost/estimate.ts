// What the stored backups cost: bytes per target and storage class, priced per GiB-month from the config's
// price table, plus what one full restore would cost to read out of each cloud target. Figures are estimates
// from list prices (no requests, no minimum-duration charges); the README says so.
import type { Config } from '../config/index.js';
import type { ObjectInfo, StorageKind } from '../storage/types.js';

export type Prices = Config['cost'];

const GIB = 1024 ** 3;
const DAY_MS = 86_400_000;

export interface TargetCost {
  target: string;
  kind: StorageKind;
  /** Bytes per storage class: `standard` (or `local`) and, on S3 with glacierAfterDays, `glacier`. */
  bytes: Record<string, number>;
  monthlyDollars: number;
  /** Reading the newest full backup of every database out of this target once (transfer out). */
  restoreDollars: number;
}

export interface CostInput {
  target: string;
  kind: StorageKind;
  objects: readonly ObjectInfo[];
  /** Bytes one restore reads from this target (the newest full backup of each database). */
  restoreBytes: number;
}

export function estimateCost(input: CostInput, prices: Prices, options: { now: Date; glacierAfterDays?: number | undefined }): TargetCost {
  const bytes: Record<string, number> = {};
  const add = (cls: string, n: number) => {
    bytes[cls] = (bytes[cls] ?? 0) + n;
  };
  for (const object of input.objects) {
    if (input.kind === 'local') add('local', object.size);
    else if (input.kind === 's3' && options.glacierAfterDays !== undefined && options.now.getTime() - object.modifiedAt.getTime() > options.glacierAfterDays * DAY_MS) add('glacier', object.size);
    else add('standard', object.size);
  }
  const rate: Record<string, number> =
    input.kind === 'local' ? { local: prices.localGbMonth } : input.kind === 's3' ? { standard: prices.s3StandardGbMonth, glacier: prices.s3GlacierGbMonth } : { standard: prices.gcsStandardGbMonth };
  const monthly = Object.entries(bytes).reduce((sum, [cls, n]) => sum + (n / GIB) * (rate[cls] ?? 0), 0);
  const egress = input.kind === 's3' ? prices.s3TransferOutGb : input.kind === 'gcs' ? prices.gcsTransferOutGb : 0;
  return { target: input.target, kind: input.kind, bytes, monthlyDollars: round(monthly), restoreDollars: round((input.restoreBytes / GIB) * egress) };
}

const round = (dollars: number) => Math.round(dollars * 10_000) / 10_000;

/** `$12.34`, or `$0.0012` for fractions of a cent. */
export function formatDollars(dollars: number): string {
  return dollars >= 0.01 || dollars === 0 ? `$${dollars.toFixed(2)}` : `$${dollars.toFixed(4)}`;
}
