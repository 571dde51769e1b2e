// The overview (`/`): one row per database with its recovery state and why, at a glance.
import { formatDollars } from '../../cost/estimate.js';
import type { Overview } from '../../status/types.js';
import { formatBytes, formatTime } from '../format.js';
import { html } from '../html.js';
import { age, alertsCell, drillCell, kindCell, reasonsList, rpoCell, standbysCell, stateBadge, targetsCell, verificationCell } from './common.js';
import { page, type Viewer } from './layout.js';

export const OVERVIEW_REFRESH_SECONDS = 15;

export function overviewPage(overview: Overview, viewer: Viewer, flash?: { kind: 'ok' | 'error'; text: string }): string {
  const total = overview.databases.length;
  const figuresAge = overview.figuresAt ? (Date.parse(overview.at) - Date.parse(overview.figuresAt)) / 1000 : null;
  const body = html`<h1>Is every database recoverable?</h1>
<p class="summary" id="summary">
  ${total} ${total === 1 ? 'database' : 'databases'}:
  <span data-count="critical">${overview.counts.critical} critical</span>,
  <span data-count="warning">${overview.counts.warning} warning</span>,
  <span data-count="ok">${overview.counts.ok} ok</span>.
  Figures ${overview.figuresAt ? html`from ${age(figuresAge, overview.figuresAt, 'figures-age')}` : 'not collected yet'};
  page built at <time datetime="${overview.at}" id="built-at">${formatTime(overview.at)}</time>.
  <span id="refresh-controls"></span>
</p>
${
  overview.missing.length > 0
    ? html`<p class="flash flash-error" role="alert">Some figures are missing (${overview.missing.join(', ')}): the rules that need them cannot fire, so the states below may be incomplete. The service log says why.</p>`
    : ''
}
${overview.globalReasons.length > 0 ? html`<section aria-labelledby="global-h"><h2 id="global-h">Storage</h2>${reasonsList(overview.globalReasons)}</section>` : ''}
<div class="table-wrap">
<table class="overview">
  <caption>Recovery state of each protected database</caption>
  <thead><tr>
    <th scope="col">Database</th><th scope="col">State and reason</th><th scope="col">Last full</th><th scope="col">Last base</th>
    <th scope="col">Last incremental</th><th scope="col">Verification</th><th scope="col">Restore drill</th><th scope="col">RPO</th>
    <th scope="col">Replication lag</th><th scope="col">Storage targets</th><th scope="col">Firing alerts</th>
  </tr></thead>
  <tbody>
  ${overview.databases.map(
    (d) => html`<tr data-database="${d.database}" data-state="${d.state}">
    <th scope="row"><a href="/databases/${encodeURIComponent(d.database)}">${d.database}</a>${d.up === false ? html`<br><span class="bad">unreachable</span>` : ''}</th>
    <td>${stateBadge(d.state)}${reasonsList(d.reasons)}</td>
    <td>${kindCell(d.kinds.find((k) => k.kind === 'full'))}</td>
    <td>${kindCell(d.kinds.find((k) => k.kind === 'base'))}</td>
    <td>${kindCell(d.kinds.find((k) => k.kind === 'incremental'))}</td>
    <td>${verificationCell(d, Date.parse(overview.at))}</td>
    <td>${drillCell(d, Date.parse(overview.at))}</td>
    <td>${rpoCell(d)}</td>
    <td>${standbysCell(d)}</td>
    <td>${targetsCell(d)}</td>
    <td>${alertsCell(d)}</td>
  </tr>`,
  )}
  </tbody>
</table>
</div>
${
  overview.storage.length > 0
    ? html`<section aria-labelledby="storage-h"><h2 id="storage-h">Storage targets</h2>
<table class="compact"><caption class="visually-hidden">Space on each storage target</caption>
<thead><tr><th scope="col">Target</th><th scope="col">State</th><th scope="col">Used by pgwarden</th><th scope="col">Free</th><th scope="col">Est. per month</th></tr></thead>
<tbody>${overview.storage.map(
        (s) =>
          html`<tr><th scope="row">${s.target}</th><td>${s.up ? '✓ reachable' : html`✗ unreachable: ${s.error ?? 'unknown error'}`}</td><td>${s.usedBytes === null ? '–' : formatBytes(s.usedBytes)}</td><td>${s.freeBytes === null ? 'not measurable' : formatBytes(s.freeBytes)}</td><td>${s.monthlyCostDollars === null ? '–' : formatDollars(s.monthlyCostDollars)}</td></tr>`,
      )}</tbody></table></section>`
    : ''
}`;
  return page({ title: 'Recovery status', viewer, refreshSeconds: OVERVIEW_REFRESH_SECONDS, flash, body }).text;
}
