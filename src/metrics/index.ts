// The metrics concern's public API: the service `pgwarden serve` runs, the registry of every pgwarden
// metric, the catalog snapshot and the live probes behind them.
export { createDefaultProbes, type DefaultProbesOptions } from './probes.js';
export { type CollectorResult, type CreateMetricsOptions, createMetrics, METRIC_PREFIX, type PgwardenMetrics } from './registry.js';
export { type CreateMetricsServiceOptions, createMetricsService, type MetricsService } from './service.js';
export { type Queryable, refreshFromCatalog } from './snapshot.js';
export * from './types.js';
