// One database's page: state and reasons, the actions an operate token may take, the recovery window, charts
// over the retention window (each with its data as a table too), the backup list and the alerts with every
// notification attempt.
import type { BackupRow } from '../../catalog/types.js';
import type { DatabaseDetail } from '../../status/types.js';
import { type ChartData, chartsOf } from '../charts.js';
import { formatBytes, formatDuration, formatRatio, formatTime } from '../format.js';
import { type Html, html, jsonScript } from '../html.js';
import { drillCell, reasonsList, rpoCell, severityBadge, standbysCell, stateBadge, targetsCell, verificationCell } from './common.js';
import { csrfField, page, type Viewer } from './layout.js';

const KIND_OPTIONS = ['full', 'base', 'incremental', 'wal'] as const;
const STATUS_OPTIONS = ['running', 'succeeded', 'failed', 'expired'] as const;
/** Silence durations offered (seconds). */
export const SILENCE_CHOICES: readonly [number, string][] = [
  [3600, '1 hour'],
  [4 * 3600, '4 hours'],
  [12 * 3600, '12 hours'],
  [24 * 3600, '1 day'],
  [7 * 86400, '7 days'],
];
/** Rows of each chart's data table (the newest ones); the chart draws them all. */
const TABLE_ROWS = 30;

const dbPath = (name: string) => `/databases/${encodeURIComponent(name)}`;

function backupRow(b: BackupRow, viewer: Viewer, database: string): Html {
  const duration = b.finishedAt ? (b.finishedAt.getTime() - b.createdAt.getTime()) / 1000 : null;
  const ratio = b.fileSize !== null && b.expectedSize ? b.fileSize / b.expectedSize : null;
  const targets = Object.entries(b.storage ?? {});
  const verified =
    b.verificationStatus === 'ok'
      ? html`<span class="good">yes</span>${b.verifiedAt ? html` <span class="muted">${formatTime(b.verifiedAt)}</span>` : ''}`
      : b.verificationStatus === 'failed'
        ? html`<span class="bad">failed</span> <span class="muted">${b.verificationError ?? ''}</span>`
        : html`<span class="none">no</span>`;
  const canVerify = viewer.role === 'operate' && b.status === 'succeeded' && b.type !== 'wal';
  return html`<tr data-backup-id="${b.backupId}">
  <td><code>${b.backupId}</code></td>
  <td>${b.type}</td>
  <td>${b.status === 'failed' ? html`<span class="bad">failed</span>${b.error ? html` <span class="muted">${b.error}</span>` : ''}` : b.status}</td>
  <td><time datetime="${b.createdAt.toISOString()}">${formatTime(b.createdAt)}</time></td>
  <td>${duration === null ? '–' : formatDuration(duration)}</td>
  <td>${b.fileSize === null ? '–' : html`<span data-bytes="${b.fileSize}">${formatBytes(b.fileSize)}</span>`}${ratio !== null ? html` <span class="muted">${formatRatio(ratio)}</span>` : ''}</td>
  <td>${b.compression ?? '–'}</td>
  <td>${targets.length === 0 ? '–' : html`<ul class="plain">${targets.map(([t, c]) => html`<li>${t}: ${c.status === 'failed' ? html`<span class="bad">failed</span>` : c.status}</li>`)}</ul>`}</td>
  <td>${verified}</td>
  ${
    viewer.role === 'operate'
      ? html`<td>${
          canVerify
            ? html`<form method="post" action="${dbPath(database)}/backups/${b.backupId}/verify" class="inline">${csrfField(viewer)}<button type="submit" aria-label="Verify backup ${b.backupId}">Verify</button></form>`
            : ''
        }</td>`
      : ''
  }
</tr>`;
}

function chartFigure(chart: ChartData): Html {
  const fmt = (v: number | null) => (v === null ? '–' : chart.unit === 'bytes' ? formatBytes(v) : formatDuration(v));
  const start = Math.max(0, chart.x.length - TABLE_ROWS);
  return html`<figure class="chart-figure" aria-labelledby="chart-${chart.id}-title">
  <figcaption id="chart-${chart.id}-title">${chart.title} <span class="muted">(${chart.x.length} ${chart.x.length === 1 ? 'point' : 'points'})</span></figcaption>
  ${chart.x.length === 0 ? html`<p class="none">No data in the retention window yet.</p>` : html`<div class="chart" id="chart-${chart.id}" data-chart="${chart.id}" aria-hidden="true"></div>`}
  ${
    chart.x.length === 0
      ? ''
      : html`<details><summary>${chart.title}: the newest ${Math.min(TABLE_ROWS, chart.x.length)} points as a table</summary>
  <table class="compact"><thead><tr><th scope="col">Time</th>${chart.series.map((s) => html`<th scope="col">${s.label}</th>`)}</tr></thead>
  <tbody>${chart.x.slice(start).map(
    (t, i) => html`<tr><td>${formatTime(new Date(t * 1000))}</td>${chart.series.map((s) => html`<td>${fmt(s.values[start + i] ?? null)}</td>`)}</tr>`,
  )}</tbody></table></details>`
  }
</figure>`;
}

export function databasePage(detail: DatabaseDetail, viewer: Viewer, flash?: { kind: 'ok' | 'error'; text: string }): string {
  const d = detail.overview;
  const nowMs = Date.now();
  const charts = chartsOf(detail);
  const kinds = d.pitr ? (['full', 'base', 'incremental'] as const) : (['full'] as const);
  const w = detail.recoveryWindow;
  const firing = detail.alerts.filter((a) => a.status === 'firing');
  const body = html`<p class="crumbs"><a href="/">All databases</a></p>
<h1>${d.database} ${stateBadge(d.state)}</h1>
${reasonsList(d.reasons)}
${
  viewer.role === 'operate'
    ? html`<section aria-labelledby="actions-h" class="actions"><h2 id="actions-h">Back up now</h2>
<form method="post" action="${dbPath(d.database)}/backups" class="inline">${csrfField(viewer)}
  <label for="run-kind">Backup kind</label>
  <select id="run-kind" name="kind">${kinds.map((k) => html`<option value="${k}">${k}</option>`)}</select>
  <button type="submit">Start backup</button>
</form></section>`
    : ''
}
<section aria-labelledby="recovery-h"><h2 id="recovery-h">Recovery</h2>
<dl class="facts">
  <dt>Recoverable window</dt><dd data-field="window">${
    w.oldest ? html`<time datetime="${w.oldest}">${formatTime(w.oldest)}</time> to ${w.newest ? html`<time datetime="${w.newest}">${formatTime(w.newest)}</time>` : 'unknown'}` : html`<span class="bad">none</span>`
  } <span class="muted">(${w.detail})</span></dd>
  <dt>RPO</dt><dd>${rpoCell(d)}</dd>
  <dt>Verification</dt><dd>${verificationCell(d, nowMs)}</dd>
  <dt>Restore drill</dt><dd>${drillCell(d, nowMs)}${d.drill.lastError ? html` <span class="muted">${d.drill.lastError}</span>` : ''}</dd>
  <dt>Replication</dt><dd>${standbysCell(d)}</dd>
  <dt>Storage targets</dt><dd>${targetsCell(d)}</dd>
</dl></section>
<section aria-labelledby="charts-h"><h2 id="charts-h">Over the retention window <span class="muted">(since ${formatTime(detail.charts.since)})</span></h2>
<script type="application/json" id="chart-data">${jsonScript(charts)}</script>
<div class="charts">${charts.map(chartFigure)}</div></section>
<section aria-labelledby="backups-h"><h2 id="backups-h">Backups</h2>
<form method="get" action="${dbPath(d.database)}" class="inline filter">
  <label for="f-kind">Kind</label>
  <select id="f-kind" name="kind"><option value="">all</option>${KIND_OPTIONS.map((k) => html`<option value="${k}"${detail.filter.kind === k ? html` selected` : ''}>${k}</option>`)}</select>
  <label for="f-status">Status</label>
  <select id="f-status" name="status"><option value="">all</option>${STATUS_OPTIONS.map((s) => html`<option value="${s}"${detail.filter.status === s ? html` selected` : ''}>${s}</option>`)}</select>
  <button type="submit">Filter</button>
</form>
<div class="table-wrap"><table class="backups">
  <caption>${detail.backups.length} ${detail.backups.length === 1 ? 'backup' : 'backups'}, newest first${detail.backups.length >= 200 ? ' (the newest 200; filter to see others)' : ''}</caption>
  <thead><tr><th scope="col">ID</th><th scope="col">Kind</th><th scope="col">Status</th><th scope="col">Started</th><th scope="col">Duration</th>
  <th scope="col">Size and ratio to expected</th><th scope="col">Compression</th><th scope="col">Targets</th><th scope="col">Verified</th>${viewer.role === 'operate' ? html`<th scope="col">Action</th>` : ''}</tr></thead>
  <tbody>${detail.backups.map((b) => backupRow(b, viewer, d.database))}</tbody>
</table></div></section>
<section aria-labelledby="alerts-h"><h2 id="alerts-h">Alerts</h2>
${detail.alerts.length === 0 ? html`<p class="none">No alert has fired for this database.</p>` : ''}
${detail.alerts.map(
  (a) => html`<article class="alert" data-alert-id="${a.id}" aria-labelledby="alert-${a.id}">
  <h3 id="alert-${a.id}">${severityBadge(a.severity)} ${a.rule}: ${a.status}${a.silenced ? ' (silenced)' : ''}</h3>
  <p>${a.summary}</p>
  <p class="muted">Started ${formatTime(a.startedAt)}${a.resolvedAt ? html`, resolved ${formatTime(a.resolvedAt)}` : ''}; labels ${Object.entries(a.labels).map(([k, v]) => `${k}=${v}`).join(', ')}</p>
  ${
    a.notifications.length === 0
      ? html`<p class="none">No notification sent${a.silenced ? ' (silenced)' : ''}.</p>`
      : html`<table class="compact"><caption>Notification attempts</caption><thead><tr><th scope="col">Channel</th><th scope="col">Message</th><th scope="col">Attempt</th><th scope="col">Result</th><th scope="col">At</th></tr></thead>
  <tbody>${a.notifications.map(
    (n) =>
      html`<tr><td>${n.channel}</td><td>${n.kind}</td><td>${n.attempt}</td><td>${n.result === 'failed' ? html`<span class="bad">failed</span> <span class="muted">${n.error ?? ''}</span>` : n.result}</td><td>${formatTime(n.at)}</td></tr>`,
  )}</tbody></table>`
  }
  ${
    viewer.role === 'operate' && a.status === 'firing' && !a.silenced
      ? html`<form method="post" action="${dbPath(d.database)}/silences" class="inline">${csrfField(viewer)}
    <input type="hidden" name="matchers" value="${JSON.stringify({ alertname: a.rule, ...a.labels })}">
    <label for="silence-${a.id}">Silence for</label>
    <select id="silence-${a.id}" name="durationSeconds">${SILENCE_CHOICES.map(([s, label]) => html`<option value="${s}">${label}</option>`)}</select>
    <label for="comment-${a.id}">Comment</label>
    <input id="comment-${a.id}" name="comment" maxlength="1000">
    <button type="submit">Silence</button>
  </form>`
      : ''
  }
</article>`,
)}
${firing.length === 0 && detail.alerts.length > 0 ? html`<p class="muted">Nothing is firing now.</p>` : ''}
</section>`;
  return page({ title: d.database, viewer, charts: true, flash, body }).text;
}
