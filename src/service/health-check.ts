// The 15-minute health check: runs whose process died are marked interrupted, then every metric is
// refreshed — databases reachable, replication, storage, and the catalog-derived backup series — so the
// alert rules (and the alert evaluator, when it lands) see the current state.
import type { Pgwarden } from '../app/open.js';
import { recoverInterruptedRuns } from '../backup/recover-interrupted.js';
import type { MetricsService } from '../metrics/index.js';

export interface HealthCheckContext {
  app: Pgwarden;
  metrics: MetricsService;
  signal: AbortSignal;
}

export async function runHealthCheck(ctx: HealthCheckContext): Promise<void> {
  const { app } = ctx;
  const recovered = await recoverInterruptedRuns({
    catalog: app.catalog,
    catalogClient: app.catalogClient,
    storage: app.storage,
    prefix: app.config.storage.prefix,
    logger: app.logger,
  });
  if (recovered.length > 0) app.logger.warn({ recovered }, 'health check: marked interrupted runs as failed');
  if (ctx.signal.aborted) return;
  await ctx.metrics.refresh();
}
