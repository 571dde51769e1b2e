// The recovery status concern's public API: the overview of every database and one database in detail.
export { BACKUP_LIST_LIMIT, buildDatabaseDetail, type DatabaseFilter, type DetailDeps } from './database.js';
export { buildOverview, type StatusDeps, stateOf, targetsOf } from './overview.js';
export type * from './types.js';

import { buildDatabaseDetail, type DetailDeps } from './database.js';
import { buildOverview } from './overview.js';
import type { StatusSource } from './types.js';

export function createStatusSource(deps: DetailDeps): StatusSource {
  return {
    overview: () => buildOverview(deps),
    database: (name, filter) => buildDatabaseDetail(deps, name, filter),
  };
}
