// Writes the dashboards of dashboards/src/ as Grafana JSON: `npm run dashboards` (after the build). The JSON is
// committed for import into Grafana; a test fails when it differs from what this produces.
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parse } from 'yaml';
import { packageRoot } from '../../src/package-root.js';
import { buildOverviewDashboard } from './overview.js';

export const OVERVIEW_JSON = 'dashboards/pgwarden-overview.json';

/** Names of the alerting rules in alerts/*.rules.yml. */
export function readAlertNames(root = packageRoot()): string[] {
  const dir = join(root, 'alerts');
  return readdirSync(dir)
    .filter((file) => file.endsWith('.rules.yml'))
    .sort()
    .flatMap((file) => {
      const doc = parse(readFileSync(join(dir, file), 'utf8')) as { groups?: { rules?: { alert?: string }[] }[] };
      return (doc.groups ?? []).flatMap((group) => (group.rules ?? []).flatMap((rule) => (rule.alert ? [rule.alert] : [])));
    });
}

/** The overview dashboard's JSON text, as committed. */
export function renderOverviewJson(root = packageRoot()): string {
  return `${JSON.stringify(buildOverviewDashboard(readAlertNames(root)), null, 2)}\n`;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  const root = packageRoot();
  writeFileSync(join(root, OVERVIEW_JSON), renderOverviewJson(root));
  process.stdout.write(`wrote ${OVERVIEW_JSON}\n`);
}
