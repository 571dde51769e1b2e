// Pieces both pages use: the state badge (icon and word, never colour alone), ages and sizes with their
// exact values in data attributes (what scripts and tests read), and the reasons list.
import type { DatabaseOverview, KindStatus, RecoveryState, StateReason } from '../../status/types.js';
import { formatBytes, formatDuration, formatRatio, formatTime } from '../format.js';
import { type Html, html } from '../html.js';

const ICONS: Record<RecoveryState, string> = { ok: '✔', warning: '▲', critical: '✖' };
const WORDS: Record<RecoveryState, string> = { ok: 'OK', warning: 'Warning', critical: 'Critical' };

export function stateBadge(state: RecoveryState): Html {
  return html`<span class="state state-${state}" data-state="${state}"><span class="icon" aria-hidden="true">${ICONS[state]}</span> ${WORDS[state]}</span>`;
}

export function severityBadge(severity: string): Html {
  const state: RecoveryState = severity === 'critical' ? 'critical' : severity === 'warning' ? 'warning' : 'ok';
  return html`<span class="state state-${state}"><span class="icon" aria-hidden="true">${ICONS[state]}</span> ${severity}</span>`;
}

export function age(seconds: number | null, at: string | null, field: string): Html {
  if (seconds === null || at === null) return html`<span class="none" data-field="${field}">never</span>`;
  return html`<time datetime="${at}" title="${formatTime(at)}" data-field="${field}" data-seconds="${Math.round(seconds)}">${formatDuration(seconds)} ago</time>`;
}

export function bytes(value: number | null, field: string): Html {
  if (value === null) return html`<span class="none" data-field="${field}">–</span>`;
  return html`<span data-field="${field}" data-bytes="${value}">${formatBytes(value)}</span>`;
}

export function kindCell(k: KindStatus | undefined): Html {
  if (!k) return html`<span class="none">not taken (pitr: false)</span>`;
  return html`${age(k.ageSeconds, k.lastSuccessAt, `${k.kind}-age`)}
    ${k.lastSizeBytes !== null ? html`<br>${bytes(k.lastSizeBytes, `${k.kind}-size`)}` : ''}${k.sizeRatio !== null ? html` <span class="muted">(${formatRatio(k.sizeRatio)} usual)</span>` : ''}
    ${k.lastStatus === 'failed' ? html`<br><span class="bad">last run failed</span>` : ''}`;
}

export function reasonsList(reasons: readonly StateReason[]): Html {
  if (reasons.length === 0) return html`<div class="muted">recoverable: no rule fires</div>`;
  return html`<ul class="reasons">${reasons.map((r) => html`<li data-rule="${r.rule}"><span class="visually-hidden">${r.severity}: </span>${r.summary}</li>`)}</ul>`;
}

export function verificationCell(d: DatabaseOverview, nowMs: number): Html {
  const v = d.verification;
  if (v.lastVerifiedAt === null && v.lastOk === null) return html`<span class="none">never verified</span>`;
  return html`${v.lastOk === false ? html`<span class="bad">last verification failed</span><br>` : ''}${
    v.lastVerifiedAt ? html`passed ${age((nowMs - Date.parse(v.lastVerifiedAt)) / 1000, v.lastVerifiedAt, 'verified-age')}` : ''
  }`;
}

export function drillCell(d: DatabaseOverview, nowMs: number): Html {
  const drill = d.drill;
  if (drill.lastStatus === null) return html`<span class="none">no drill yet</span>`;
  return html`${drill.lastStatus === 'failed' ? html`<span class="bad">last drill failed</span><br>` : ''}${
    drill.lastSuccessAt
      ? html`passed ${age((nowMs - Date.parse(drill.lastSuccessAt)) / 1000, drill.lastSuccessAt, 'drill-age')}${
          drill.rtoSeconds !== null ? html`<br>RTO <span data-field="rto" data-seconds="${drill.rtoSeconds}">${formatDuration(drill.rtoSeconds)}</span>` : ''
        }`
      : ''
  }`;
}

export function rpoCell(d: DatabaseOverview): Html {
  if (!d.pitr) return html`<span class="none">no WAL archiving</span>`;
  if (d.rpoSeconds === null) return html`<span class="bad">no WAL archived</span>`;
  return html`<span data-field="rpo" data-seconds="${Math.round(d.rpoSeconds)}">${formatDuration(d.rpoSeconds)}</span>`;
}

export function standbysCell(d: DatabaseOverview): Html {
  if (d.standbys.length === 0) return html`<span class="none">no standby</span>`;
  return html`<ul class="plain">${d.standbys.map(
    (s) =>
      html`<li data-standby="${s.name}">${s.name}: ${
        s.connected === false
          ? html`<span class="bad">not connected</span>`
          : s.lagSeconds === null
            ? html`<span class="none">lag unknown</span>`
            : html`<span data-field="lag" data-seconds="${s.lagSeconds}">${formatDuration(s.lagSeconds)} behind</span>`
      }${s.lagBytes !== null ? html` <span class="muted">(${bytes(s.lagBytes, 'lag-bytes')})</span>` : ''}</li>`,
  )}</ul>`;
}

export function targetsCell(d: DatabaseOverview): Html {
  if (d.targets.length === 0) return html`<span class="none">no stored backup</span>`;
  return html`<ul class="plain">${d.targets.map(
    (t) =>
      html`<li data-target="${t.target}">${t.target}: ${
        t.state === 'healthy' ? html`<span class="good">healthy</span>` : html`<span class="bad">degraded</span> <span class="muted">${t.detail ?? ''}</span>`
      }</li>`,
  )}</ul>`;
}

export function alertsCell(d: DatabaseOverview): Html {
  if (d.alerts.length === 0) return html`<span class="none">none</span>`;
  return html`<ul class="plain">${d.alerts.map((a) => html`<li>${severityBadge(a.severity)} ${a.rule}${a.silenced ? html` <span class="muted">(silenced)</span>` : ''}</li>`)}</ul>`;
}
