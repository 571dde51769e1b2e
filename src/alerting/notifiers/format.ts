// The words every channel shares: the order alerts are listed in, the title line
// ("[CRITICAL] BackupMissing hotel_extranet (+2 more)"), label and time formatting.
import type { AlertInstance, Notification, Severity } from '../notify-types.js';

const SEVERITY_RANK: Record<Severity, number> = { critical: 0, warning: 1, info: 2 };

/** The alert a test notification carries when the caller gave none. */
export function testAlert(now: Date): AlertInstance {
  return {
    fingerprint: 'pgwarden-test-notification',
    rule: 'TestNotification',
    severity: 'info',
    labels: {},
    summary: 'pgwarden test notification: this channel is set up correctly',
    startsAt: now,
    status: 'firing',
  };
}

/** The alerts to show, most severe first, then firing before resolved, then oldest first. */
export function orderedAlerts(notification: Notification): AlertInstance[] {
  const alerts = notification.alerts.length === 0 && notification.kind === 'test' ? [testAlert(new Date())] : [...notification.alerts];
  return alerts.sort(
    (a, b) =>
      SEVERITY_RANK[a.severity] - SEVERITY_RANK[b.severity] ||
      Number(a.status === 'resolved') - Number(b.status === 'resolved') ||
      a.startsAt.getTime() - b.startsAt.getTime() ||
      a.rule.localeCompare(b.rule) ||
      a.fingerprint.localeCompare(b.fingerprint),
  );
}

/** What the alert is about, in one word: the database, else the storage target, else the standby. */
export function subjectOf(alert: AlertInstance): string | undefined {
  return alert.labels['database'] ?? alert.labels['target'] ?? alert.labels['standby'];
}

/** "BackupMissing hotel_extranet" */
export function alertName(alert: AlertInstance): string {
  const subject = subjectOf(alert);
  return subject === undefined ? alert.rule : `${alert.rule} ${subject}`;
}

/** "CRITICAL", "RESOLVED" or "TEST": the tag in front of every title. */
export function tagOf(notification: Notification, first: AlertInstance | undefined): string {
  if (notification.kind === 'test') return 'TEST';
  if (notification.kind === 'resolved') return 'RESOLVED';
  return (first?.severity ?? 'info').toUpperCase();
}

/** "[CRITICAL] BackupMissing hotel_extranet (+2 more)"; the email subject, Slack's fallback text. */
export function titleOf(notification: Notification, alerts = orderedAlerts(notification)): string {
  const first = alerts[0];
  const more = alerts.length > 1 ? ` (+${alerts.length - 1} more)` : '';
  return `[${tagOf(notification, first)}] ${first === undefined ? 'no alerts' : alertName(first)}${more}`;
}

/** The sentence under the title. */
export function leadOf(notification: Notification, alerts: readonly AlertInstance[]): string {
  const n = alerts.length;
  const these = n === 1 ? 'this alert' : `these ${n} alerts`;
  switch (notification.kind) {
    case 'firing':
      return n === 1 ? 'pgwarden raised an alert.' : `pgwarden raised ${n} alerts.`;
    case 'repeat':
      return `Still firing: ${these} ${n === 1 ? 'has' : 'have'} not cleared.`;
    case 'resolved':
      return n === 1 ? 'Resolved: this alert cleared.' : `Resolved: ${these} cleared.`;
    case 'test':
      return 'A test notification from pgwarden: nothing is wrong.';
  }
}

/** "database=hotel_extranet type=full", keys sorted. */
export function labelText(labels: Record<string, string>): string {
  return Object.keys(labels)
    .sort()
    .map((key) => `${key}=${labels[key]}`)
    .join(' ');
}

/** "2026-11-25 02:00 UTC" */
export function timeText(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

/** "since 2026-11-25 02:00 UTC", or "from … to …" once resolved. */
export function whenText(alert: AlertInstance): string {
  if (alert.status === 'resolved' && alert.endsAt !== undefined) return `from ${timeText(alert.startsAt)} to ${timeText(alert.endsAt)}`;
  return `since ${timeText(alert.startsAt)}`;
}

/** The source as a link target, when it is one. */
export function sourceUrl(notification: Notification): string | undefined {
  const source = notification.source;
  return source !== undefined && /^https?:\/\//.test(source) ? source : undefined;
}
