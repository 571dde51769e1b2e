// The "pgwarden overview" Grafana dashboard, built from @grafana/schema's types. `npm run dashboards` writes it
// to dashboards/pgwarden-overview.json (generate.ts); edit this file, never the JSON.
//
// Every query of pgwarden's series filters on $job (its scrape job) and, where it is about a database, on
// $database. Several pgwarden replicas report the same catalog figures, so per-database queries take the max
// over instances rather than showing each replica's copy.

import {
  BarGaugeDisplayMode,
  BigValueColorMode,
  type Dashboard,
  type DataSourceRef,
  FieldColorModeId,
  type FieldConfigSource,
  type GraphFieldConfig,
  GraphThresholdsStyleMode,
  MappingType,
  type Panel,
  type RowPanel,
  type ThresholdsConfig,
  ThresholdsMode,
  type ValueMapping,
  type VariableModel,
  VariableRefresh,
  VariableSort,
} from '@grafana/schema';

export const DASHBOARD_UID = 'pgwarden-overview';

/** The dashboard JSON schema of @grafana/schema 13.2 (its defaultDashboard.schemaVersion). */
export const SCHEMA_VERSION = 42;

/** The datasource the $datasource variable selects. */
// biome-ignore lint/suspicious/noTemplateCurlyInString: Grafana's variable syntax, not a template
const DATASOURCE: DataSourceRef = { type: 'prometheus', uid: '${datasource}' };

/** Label filters of pgwarden's series: the scrape job, and the selected databases. */
const JOB = 'job=~"$job"';
const DB = `${JOB}, database=~"$database"`;

/** Colour steps: base colour, then [value, colour] from where each applies. */
interface Thresholds {
  base: string;
  steps: [number, string][];
}

interface Query {
  expr: string;
  /** Grafana legend format, e.g. `{{database}} {{type}}`. */
  legend?: string;
  /** An instant query (tables, stats of "now"). */
  instant?: boolean;
  /** Thresholds for this query's series only (an override of the panel's). */
  thresholds?: Thresholds;
}

type Unit = 's' | 'bytes' | 'percentunit' | 'none' | 'short' | 'dateTimeFromNow';

interface PanelSpec {
  title: string;
  description: string;
  type: 'timeseries' | 'stat' | 'bargauge' | 'state-timeline' | 'table';
  queries: Query[];
  /** Grid width (of 24) and height. */
  w: number;
  h: number;
  unit?: Unit;
  thresholds?: Thresholds;
  mappings?: ValueMapping[];
  /** Draw the thresholds on a time series. */
  thresholdLines?: boolean;
  min?: number;
}

type Section = { row: string; panels: PanelSpec[] };

const upDown = (up: string, down: string): ValueMapping[] => [
  {
    type: MappingType.ValueToText,
    options: { '1': { text: up, color: 'green', index: 0 }, '0': { text: down, color: 'red', index: 1 } },
  },
];

const refId = (index: number) => String.fromCharCode(65 + index);

function target(query: Query, index: number) {
  return {
    refId: refId(index),
    datasource: DATASOURCE,
    editorMode: 'code',
    expr: query.expr,
    legendFormat: query.legend ?? '__auto',
    instant: query.instant ?? false,
    range: !(query.instant ?? false),
  };
}

function thresholdsConfig(thresholds: Thresholds | undefined): ThresholdsConfig {
  return {
    mode: ThresholdsMode.Absolute,
    steps: [{ color: thresholds?.base ?? 'green', value: null }, ...(thresholds?.steps ?? []).map(([value, color]) => ({ value, color }))],
  };
}

function fieldConfig(spec: PanelSpec): FieldConfigSource {
  const custom: Partial<GraphFieldConfig> | undefined =
    spec.type === 'timeseries'
      ? { thresholdsStyle: { mode: spec.thresholdLines ? GraphThresholdsStyleMode.Dashed : GraphThresholdsStyleMode.Off } }
      : undefined;
  return {
    defaults: {
      unit: spec.unit ?? 'short',
      ...(spec.min === undefined ? {} : { min: spec.min }),
      // Time series keep a colour per series (their thresholds are drawn as lines); the others colour by value.
      color: { mode: spec.type !== 'timeseries' && (spec.thresholds || spec.mappings) ? FieldColorModeId.Thresholds : FieldColorModeId.PaletteClassic },
      thresholds: thresholdsConfig(spec.thresholds),
      ...(spec.mappings ? { mappings: spec.mappings } : {}),
      ...(custom ? { custom } : {}),
    },
    overrides: spec.queries.flatMap((query, index) =>
      query.thresholds
        ? [
            {
              matcher: { id: 'byFrameRefID', options: refId(index) },
              properties: [
                { id: 'thresholds', value: thresholdsConfig(query.thresholds) },
                { id: 'color', value: { mode: FieldColorModeId.Thresholds } },
              ],
            },
          ]
        : [],
    ),
  };
}

function options(spec: PanelSpec): Record<string, unknown> {
  switch (spec.type) {
    case 'timeseries':
      return { legend: { displayMode: 'list', placement: 'bottom', showLegend: true }, tooltip: { mode: 'multi', sort: 'desc' } };
    case 'stat':
      return { colorMode: BigValueColorMode.Background, graphMode: 'none', reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false } };
    case 'bargauge':
      return {
        displayMode: BarGaugeDisplayMode.Basic,
        orientation: 'horizontal',
        showUnfilled: true,
        reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      };
    case 'state-timeline':
      return { showValue: 'auto', mergeValues: true, legend: { displayMode: 'list', placement: 'bottom', showLegend: false } };
    case 'table':
      return { showHeader: true, sortBy: [{ displayName: 'Value', desc: true }] };
  }
}

/**
 * Backup kinds and when their newest backup is overdue: a full backup after 24 h (BackupMissing), a base
 * backup a day after its weekly run, an incremental an hour after its 6-hourly one (default schedules).
 */
const kinds = [
  { type: 'full', due: 86400 },
  { type: 'base', due: 8 * 86400 },
  { type: 'incremental', due: 7 * 3600 },
] as const;

function sections(alertNames: readonly string[]): Section[] {
  const alerts = `alertname=~"${alertNames.join('|')}"`;
  return [
    {
      row: 'Backups',
      panels: [
        {
          title: 'Backup age',
          description: 'Time since the newest successful backup of each database and kind finished. Red: overdue (full after 24 h: BackupMissing; base after 8 days; incremental after 7 h).',
          type: 'bargauge',
          w: 8,
          h: 8,
          unit: 's',
          queries: kinds.map(({ type, due }) => ({
            expr: `max by (database, type) (pgwarden_backup_age_seconds{${DB}, type="${type}"})`,
            legend: '{{database}} {{type}}',
            instant: true,
            thresholds: { base: 'green', steps: [[due * 0.8, 'yellow'], [due, 'red']] },
          })),
        },
        {
          title: 'Last run',
          description: 'Result of the newest finished run of each database and kind (BackupFailed fires on "failed").',
          type: 'stat',
          w: 8,
          h: 8,
          mappings: upDown('succeeded', 'failed'),
          thresholds: { base: 'red', steps: [[1, 'green']] },
          queries: [{ expr: `min by (database, type) (pgwarden_backup_last_status{${DB}})`, legend: '{{database}} {{type}}', instant: true }],
        },
        {
          title: 'Verification age',
          description: 'Time since a backup of each database and kind last passed verification (every backup is verified before it counts as successful). A failed verification fires BackupVerificationFailed.',
          type: 'bargauge',
          w: 8,
          h: 8,
          unit: 's',
          queries: kinds.map(({ type, due }) => ({
            expr: `time() - max by (database, type) (pgwarden_backup_verification_last_success_timestamp_seconds{${DB}, type="${type}"})`,
            legend: '{{database}} {{type}}',
            instant: true,
            thresholds: { base: 'green', steps: [[due * 0.8, 'yellow'], [due, 'red']] },
          })),
        },
        {
          title: 'Runs in the time range',
          description: 'Finished backup runs by result, counted in the catalog, over the dashboard time range.',
          type: 'table',
          w: 8,
          h: 8,
          queries: [
            {
              expr: `round(max by (database, type, result) (increase(pgwarden_backup_runs_total{${DB}}[$__range])))`,
              legend: '{{database}} {{type}} {{result}}',
              instant: true,
            },
          ],
        },
        {
          title: 'Backup size',
          description: 'Stored size of the newest successful backup, and the expected size of the next one (median of the last 7).',
          type: 'timeseries',
          w: 8,
          h: 8,
          unit: 'bytes',
          queries: [
            { expr: `max by (database, type) (pgwarden_backup_last_size_bytes{${DB}})`, legend: '{{database}} {{type}}' },
            { expr: `max by (database, type) (pgwarden_backup_expected_size_bytes{${DB}})`, legend: '{{database}} {{type}} expected' },
          ],
        },
        {
          title: 'Size ratio',
          description: 'Newest size ÷ median of the last 7. Below 0.5: BackupSizeDrop (full, base); above 2 for an incremental: IncrementalSizeSpike.',
          type: 'timeseries',
          w: 8,
          h: 8,
          unit: 'percentunit',
          min: 0,
          thresholdLines: true,
          thresholds: { base: 'red', steps: [[0.5, 'green'], [2, 'orange']] },
          queries: [{ expr: `max by (database, type) (pgwarden_backup_size_ratio{${DB}})`, legend: '{{database}} {{type}}' }],
        },
        {
          title: 'Backup duration (p50, p95 over 7 days)',
          description: 'Quantiles of the durations of successful runs in the 7 days before each point, from pgwarden_backup_duration_seconds.',
          type: 'timeseries',
          w: 24,
          h: 8,
          unit: 's',
          queries: [0.5, 0.95].map((q) => ({
            expr: `histogram_quantile(${q}, max by (le, database, type) (increase(pgwarden_backup_duration_seconds_bucket{${DB}}[7d])))`,
            legend: `{{database}} {{type}} p${q * 100}`,
          })),
        },
      ],
    },
    {
      row: 'Replication',
      panels: [
        {
          title: 'Replication lag',
          description: 'Replay lag of each standby. ReplicationLagHigh warns above 60 s and pages above 300 s.',
          type: 'timeseries',
          w: 9,
          h: 8,
          unit: 's',
          min: 0,
          thresholdLines: true,
          thresholds: { base: 'green', steps: [[60, 'orange'], [300, 'red']] },
          queries: [{ expr: `max by (database, standby) (pgwarden_replication_lag_seconds{${DB}})`, legend: '{{database}} → {{standby}}' }],
        },
        {
          title: 'Replication lag (bytes)',
          description: "WAL each standby has not replayed yet: the primary's position minus the standby's replay position.",
          type: 'timeseries',
          w: 9,
          h: 8,
          unit: 'bytes',
          min: 0,
          queries: [{ expr: `max by (database, standby) (pgwarden_replication_lag_bytes{${DB}})`, legend: '{{database}} → {{standby}}' }],
        },
        {
          title: 'Standbys streaming',
          description: "Standbys listed in each primary's pg_stat_replication.",
          type: 'stat',
          w: 6,
          h: 8,
          thresholds: { base: 'red', steps: [[1, 'green']] },
          queries: [{ expr: `max by (database) (pgwarden_replication_standbys_connected{${DB}})`, legend: '{{database}}', instant: true }],
        },
        {
          title: 'Configured standbys',
          description: "Whether each configured standby is listed in its primary's pg_stat_replication; ReplicationLagHigh warns after 5 minutes without.",
          type: 'state-timeline',
          w: 24,
          h: 6,
          mappings: upDown('connected', 'not connected'),
          thresholds: { base: 'red', steps: [[1, 'green']] },
          queries: [{ expr: `min by (database, standby) (pgwarden_replication_standby_connected{${DB}})`, legend: '{{database}} → {{standby}}' }],
        },
      ],
    },
    {
      row: 'WAL archiving',
      panels: [
        {
          title: 'WAL archive RPO',
          description: 'Age of the newest archived WAL segment: what losing the server now would cost. WalArchivingStalled above 1 h.',
          type: 'timeseries',
          w: 8,
          h: 8,
          unit: 's',
          min: 0,
          thresholdLines: true,
          thresholds: { base: 'green', steps: [[3600, 'red']] },
          queries: [{ expr: `max by (database) (pgwarden_rpo_seconds{${DB}})`, legend: '{{database}}' }],
        },
        {
          title: 'WAL not yet archived',
          description: 'WAL the server has written beyond the newest archived segment.',
          type: 'timeseries',
          w: 8,
          h: 8,
          unit: 'bytes',
          min: 0,
          queries: [{ expr: `max by (database) (pgwarden_wal_archive_lag_bytes{${DB}})`, legend: '{{database}}' }],
        },
        {
          title: 'Newest archived WAL segment',
          description: 'When the newest WAL segment of each database reached the archive.',
          type: 'stat',
          w: 8,
          h: 8,
          unit: 'dateTimeFromNow',
          queries: [
            { expr: `max by (database) (pgwarden_wal_archive_last_segment_timestamp_seconds{${DB}}) * 1000`, legend: '{{database}}', instant: true },
          ],
        },
      ],
    },
    {
      row: 'Storage and databases',
      panels: [
        {
          title: 'Storage used',
          description: 'Bytes pgwarden has stored on each storage target.',
          type: 'timeseries',
          w: 8,
          h: 8,
          unit: 'bytes',
          min: 0,
          queries: [{ expr: `max by (target) (pgwarden_storage_used_bytes{${JOB}})`, legend: '{{target}}' }],
        },
        {
          title: 'Storage free',
          description: 'Free bytes on each target that can tell (local disks), against twice the largest expected backup: below it, StorageSpaceLow.',
          type: 'timeseries',
          w: 8,
          h: 8,
          unit: 'bytes',
          min: 0,
          queries: [
            { expr: `max by (target) (pgwarden_storage_free_bytes{${JOB}})`, legend: '{{target}} free' },
            { expr: `2 * max(pgwarden_backup_expected_size_bytes{${JOB}})`, legend: '2 × largest expected backup' },
          ],
        },
        {
          title: 'Database up',
          description: 'Whether each database accepted a connection and answered SELECT 1 at the last check (DatabaseUnreachable).',
          type: 'state-timeline',
          w: 8,
          h: 8,
          mappings: upDown('up', 'unreachable'),
          thresholds: { base: 'red', steps: [[1, 'green']] },
          queries: [{ expr: `min by (database) (pgwarden_database_up{${DB}})`, legend: '{{database}}' }],
        },
      ],
    },
    {
      row: 'pgwarden',
      panels: [
        {
          title: 'Scrape',
          description: 'Whether Prometheus can scrape each pgwarden instance (PgwardenDown).',
          type: 'state-timeline',
          w: 8,
          h: 8,
          mappings: upDown('up', 'down'),
          thresholds: { base: 'red', steps: [[1, 'green']] },
          queries: [{ expr: `up{${JOB}}`, legend: '{{instance}}' }],
        },
        {
          title: 'Collectors',
          description: 'Whether the last refresh of each collector succeeded; a failing one loses its series (PgwardenCollectorFailing).',
          type: 'state-timeline',
          w: 8,
          h: 8,
          mappings: upDown('ok', 'failing'),
          thresholds: { base: 'red', steps: [[1, 'green']] },
          queries: [{ expr: `pgwarden_collector_success{${JOB}}`, legend: '{{instance}} {{collector}}' }],
        },
        {
          title: 'Metrics freshness',
          description: 'Time since each collector last refreshed its figures; scrapes serve that snapshot (PgwardenMetricsStale after 30 min).',
          type: 'timeseries',
          w: 8,
          h: 8,
          unit: 's',
          min: 0,
          thresholdLines: true,
          thresholds: { base: 'green', steps: [[1800, 'red']] },
          queries: [{ expr: `time() - pgwarden_metrics_last_refresh_timestamp_seconds{${JOB}}`, legend: '{{instance}} {{collector}}' }],
        },
        {
          title: 'Firing alerts (Prometheus)',
          description: "The rules of alerts/ firing now, from Prometheus's ALERTS series.",
          type: 'table',
          w: 8,
          h: 8,
          queries: [{ expr: `sum by (alertname, severity, database) (ALERTS{alertstate="firing", ${alerts}})`, instant: true }],
        },
        {
          title: 'Firing alerts (pgwarden)',
          description: "Alerts of pgwarden's built-in evaluator firing after its last run, by rule and severity.",
          type: 'timeseries',
          w: 8,
          h: 8,
          min: 0,
          queries: [{ expr: `max by (rule, severity) (pgwarden_alerts_firing{${JOB}})`, legend: '{{rule}} {{severity}}' }],
        },
        {
          title: 'Notifications',
          description: 'Alert notifications pgwarden delivered (after retries) or gave up on, by channel and result.',
          type: 'timeseries',
          w: 8,
          h: 8,
          queries: [
            {
              expr: `sum by (channel, result) (increase(pgwarden_notifications_total{${JOB}}[$__rate_interval]))`,
              legend: '{{channel}} {{result}}',
            },
          ],
        },
      ],
    },
  ];
}

/** Rows and panels with unique ids, laid out left to right, top to bottom, on Grafana's 24-column grid. */
function layout(all: Section[]): Array<Panel | RowPanel> {
  const panels: Array<Panel | RowPanel> = [];
  let id = 0;
  let y = 0;
  for (const section of all) {
    panels.push({ type: 'row', id: ++id, title: section.row, collapsed: false, panels: [], gridPos: { x: 0, y, w: 24, h: 1 } });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const spec of section.panels) {
      if (x + spec.w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push({
        type: spec.type,
        id: ++id,
        title: spec.title,
        description: spec.description,
        datasource: DATASOURCE,
        gridPos: { x, y, w: spec.w, h: spec.h },
        targets: spec.queries.map(target),
        fieldConfig: fieldConfig(spec),
        options: options(spec),
      });
      x += spec.w;
      rowHeight = Math.max(rowHeight, spec.h);
    }
    y += rowHeight;
  }
  return panels;
}

const variables: VariableModel[] = [
  {
    type: 'datasource',
    name: 'datasource',
    label: 'Data source',
    query: 'prometheus',
    current: { text: 'default', value: 'default' },
    refresh: VariableRefresh.onDashboardLoad,
    hide: 0,
  },
  {
    type: 'query',
    name: 'job',
    label: 'Job',
    description: 'The Prometheus job scraping pgwarden.',
    datasource: DATASOURCE,
    query: 'label_values(pgwarden_collector_success, job)',
    refresh: VariableRefresh.onTimeRangeChanged,
    sort: VariableSort.alphabeticalAsc,
    includeAll: true,
    allValue: '.+',
    multi: true,
    current: { text: 'All', value: '$__all' },
  },
  {
    type: 'query',
    name: 'database',
    label: 'Database',
    description: 'The configured databases (their run counters exist from the start).',
    datasource: DATASOURCE,
    query: `label_values(pgwarden_backup_runs_total{${JOB}}, database)`,
    refresh: VariableRefresh.onTimeRangeChanged,
    sort: VariableSort.alphabeticalAsc,
    includeAll: true,
    allValue: '.+',
    multi: true,
    current: { text: 'All', value: '$__all' },
  },
];

/** The dashboard; `alertNames` are the alert rules of alerts/ (the "Firing alerts (Prometheus)" panel shows those). */
export function buildOverviewDashboard(alertNames: readonly string[]) {
  return {
    uid: DASHBOARD_UID,
    title: 'pgwarden overview',
    description: "Backups, verification, replication, WAL archiving, storage and pgwarden's own health.",
    tags: ['pgwarden', 'postgresql', 'backups'],
    editable: true,
    graphTooltip: 1,
    timezone: 'utc',
    time: { from: 'now-7d', to: 'now' },
    refresh: '1m',
    schemaVersion: SCHEMA_VERSION,
    version: 1,
    annotations: {
      list: [
        {
          builtIn: 1,
          datasource: { type: 'grafana', uid: '-- Grafana --' },
          enable: true,
          hide: true,
          iconColor: 'rgba(0, 211, 255, 1)',
          name: 'Annotations & Alerts',
          type: 'dashboard',
        },
      ],
    },
    templating: { list: variables },
    panels: layout(sections([...new Set(alertNames)].sort())),
  } satisfies Dashboard;
}
