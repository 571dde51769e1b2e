// `pgwarden cost`: the estimate for every configured target, from what is really stored there (a listing under
// the prefix) and, for the restore figure, the newest full backup of each database in the catalog.
import type { Catalog } from '../catalog/catalog.js';
import type { Config } from '../config/index.js';
import { errorMessage } from '../errors.js';
import type { TargetSet } from '../storage/target-set.js';
import { estimateCost, type TargetCost } from './estimate.js';

export interface CostReport {
  targets: (TargetCost | { target: string; error: string })[];
  monthlyDollars: number;
}

export async function costReport(app: { config: Config; catalog: Catalog; storage: TargetSet; now: () => Date }): Promise<CostReport> {
  const { config } = app;
  const under = config.storage.prefix === '' ? '' : `${config.storage.prefix}/`;
  let restoreBytes = 0;
  for (const db of config.databases) {
    const [full] = await app.catalog.listBackups({ database: db.name, type: 'full', status: 'succeeded', limit: 1 });
    restoreBytes += full?.fileSize ?? 0;
  }
  const targets = await Promise.all(
    app.storage.targets.map(async (t) => {
      try {
        const objects = await t.list(under);
        return estimateCost({ target: t.name, kind: t.kind, objects, restoreBytes }, config.cost, { now: app.now(), glacierAfterDays: glacierAfterDays(config, t.kind) });
      } catch (error) {
        return { target: t.name, error: errorMessage(error) };
      }
    }),
  );
  const monthlyDollars = targets.reduce((sum, t) => sum + ('monthlyDollars' in t ? t.monthlyDollars : 0), 0);
  return { targets, monthlyDollars: Math.round(monthlyDollars * 10_000) / 10_000 };
}

export function glacierAfterDays(config: Config, kind: string): number | undefined {
  return kind === 's3' ? config.storage.s3?.glacierAfterDays : undefined;
}
