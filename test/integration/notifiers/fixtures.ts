// Alerts, notifications and service answers the notifier tests share.
import type { AlertInstance, Notification } from '../../../src/alerting/notify-types.js';
import type { RecordedRequest, Reply } from '../../helpers/recorder.js';

export const STARTS_AT = new Date('2026-11-25T02:00:00Z');

export function alert(overrides: Partial<AlertInstance> = {}): AlertInstance {
  return {
    fingerprint: 'a1b2c3d4e5f60718',
    rule: 'BackupMissing',
    severity: 'critical',
    labels: { database: 'hotel_extranet', type: 'full' },
    summary: 'no successful full backup of hotel_extranet in 26 h',
    description: 'The last successful full backup finished 2026-11-24 00:12 UTC.',
    startsAt: STARTS_AT,
    status: 'firing',
    ...overrides,
  };
}

/** Three alerts of different severities, as the router groups them for one channel. */
export function threeAlerts(): AlertInstance[] {
  return [
    alert({ fingerprint: '1111aaaa2222bbbb', rule: 'BackupSizeDrop', severity: 'warning', labels: { database: 'crm' }, summary: 'backup of crm is 31% of the previous one' }),
    alert(),
    alert({ fingerprint: '3333cccc4444dddd', rule: 'IncrementalSizeSpike', severity: 'info', labels: { database: 'shop', type: 'incremental' }, summary: 'incremental of shop is 3.2x the previous one' }),
  ];
}

export function firing(alerts: AlertInstance[] = [alert()]): Notification {
  return { kind: 'firing', alerts, source: 'https://pgwarden.example.com' };
}

export function resolved(alerts: AlertInstance[] = [alert()]): Notification {
  const endsAt = new Date('2026-11-25T04:30:00Z');
  return { kind: 'resolved', alerts: alerts.map((a) => ({ ...a, status: 'resolved', endsAt })), source: 'https://pgwarden.example.com' };
}

/** What Slack answers to chat.postMessage. */
export const slackOk: Reply = { status: 200, body: { ok: true, channel: 'C0123456', ts: '1764036000.000100' } };

/** What the Events API v2 answers to an accepted event. */
export const pagerDutyAccepted = (request: RecordedRequest): Reply => ({
  status: 202,
  body: { status: 'success', message: 'Event processed', dedup_key: request.body['dedup_key'] },
});

/** What Twilio answers to messages.create. */
export const twilioCreated = (request: RecordedRequest): Reply => ({
  status: 201,
  body: { sid: `SM${'0'.repeat(32)}`, status: 'queued', to: request.body['To'], from: request.body['From'], body: request.body['Body'] },
});

export const TWILIO_SID = `AC${'0123456789abcdef'.repeat(2)}`;

/** A signal that is never aborted, for calling notify() directly. */
export const NEVER = new AbortController().signal;
