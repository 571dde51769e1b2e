// Email through an SMTP server (nodemailer): one message per notification to every recipient, with a
// plain-text and an HTML body. Implicit TLS when `secure`, otherwise STARTTLS whenever the server offers it.
import { createTransport } from 'nodemailer';
import type { ChannelsConfig } from '../../config/types.js';
import type { AlertInstance, Notification, Notifier, NotifierDeps } from '../notify-types.js';
import { NotifyError } from '../notify-types.js';
import { authHint, type FailureContext, oneLine, scrub, secretForms, transportFailure } from './failure.js';
import { alertName, labelText, leadOf, orderedAlerts, sourceUrl, titleOf, whenText } from './format.js';

export type EmailChannelConfig = NonNullable<ChannelsConfig['email']>;

export interface EmailMessage {
  subject: string;
  text: string;
  html: string;
}

const SEVERITY_COLOUR = { critical: '#d92d20', warning: '#f79009', info: '#2e90fa', resolved: '#12b76a' } as const;

export function createEmailNotifier(config: EmailChannelConfig, deps: NotifierDeps = {}): Notifier {
  const timeout = deps.requestTimeoutMs ?? 30_000;
  const user = config.user;
  const password = config.password;
  const context: FailureContext = {
    channel: 'email',
    // AUTH PLAIN sends base64("\0user\0password"), AUTH LOGIN base64(password): a server may echo either.
    secrets: secretForms([password], user !== undefined && password !== undefined ? [`\0${user}\0${password}`] : []),
  };
  const transport = createTransport({
    host: config.host,
    port: config.port,
    secure: config.secure,
    ...(user !== undefined ? { auth: { user, pass: password } } : {}),
    tls: { minVersion: 'TLSv1.2', ...(deps.ca !== undefined ? { ca: deps.ca } : {}) },
    connectionTimeout: timeout,
    greetingTimeout: timeout,
    socketTimeout: timeout,
    logger: false,
  });

  return {
    channel: 'email',
    async notify(notification: Notification, signal: AbortSignal): Promise<void> {
      const message = renderEmail(notification);
      if (message === undefined) return;
      let info: { rejected?: unknown[]; accepted?: unknown[] };
      try {
        info = await transport.sendMail({ from: config.from, to: [...config.to], ...message, headers: { 'X-Pgwarden-Notification': notification.kind }, signal });
      } catch (error) {
        throw emailFailure(context, error, signal);
      }
      const rejected = (info.rejected ?? []).map(String);
      // Some recipients took it: sending again would duplicate it for them, so only say so.
      if (rejected.length > 0) deps.logger?.warn({ channel: 'email', rejected }, 'the SMTP server refused some recipients of an alert email');
    },
  };
}

/** An SMTP reply carries its own verdict: 4xx (and 421) may pass, 5xx will not. */
function emailFailure(context: FailureContext, error: unknown, signal: AbortSignal): NotifyError {
  const e = error as { code?: string; responseCode?: number; response?: string; message?: string };
  const said = scrub(oneLine(e.response ?? e.message ?? String(error)), context.secrets);
  if (e.code === 'EAUTH' || e.code === 'ENOAUTH') {
    return new NotifyError('email', `SMTP login refused: ${said}`, { recoverable: false, reason: 'auth', ...statusOf(e), hints: [authHint('email')] });
  }
  if (typeof e.responseCode === 'number' && e.responseCode >= 400) {
    const transient = e.responseCode < 500 || e.responseCode === 503;
    return new NotifyError('email', `SMTP server answered ${said}`, {
      recoverable: transient,
      reason: transient ? 'server_error' : 'client_error',
      status: e.responseCode,
      hints: transient ? [] : ['the SMTP server refused the message for good: check channels.email.from and channels.email.to'],
    });
  }
  return transportFailure(context, error, signal);
}

function statusOf(e: { responseCode?: number }): { status?: number } {
  return typeof e.responseCode === 'number' ? { status: e.responseCode } : {};
}

/** Subject, text and HTML for one notification; undefined when there is nothing to say. */
export function renderEmail(notification: Notification): EmailMessage | undefined {
  const alerts = orderedAlerts(notification);
  if (alerts.length === 0) return undefined;
  const subject = titleOf(notification, alerts);
  const lead = leadOf(notification, alerts);
  const link = sourceUrl(notification);
  const footer = notification.source === undefined ? 'pgwarden' : `pgwarden - ${notification.source}`;

  const text = [subject, '', lead, '', ...alerts.flatMap((a) => [...alertText(a), '']), '-- ', footer, ''].join('\n');

  const html = `<!doctype html>
<html><body style="font-family: -apple-system, 'Segoe UI', Helvetica, Arial, sans-serif; color: #1d2939; margin: 0; padding: 16px;">
<h1 style="font-size: 18px; margin: 0 0 8px;">${escapeHtml(subject)}</h1>
<p style="margin: 0 0 16px;">${escapeHtml(lead)}</p>
${alerts.map(alertHtml).join('\n')}
<p style="margin: 16px 0 0; color: #667085; font-size: 12px;">${link === undefined ? escapeHtml(footer) : `pgwarden - <a href="${escapeHtml(link)}">${escapeHtml(link)}</a>`}</p>
</body></html>
`;
  return { subject, text, html };
}

function tagOfAlert(alert: AlertInstance): string {
  return alert.status === 'resolved' ? 'RESOLVED' : alert.severity.toUpperCase();
}

function alertText(alert: AlertInstance): string[] {
  const lines = [`${tagOfAlert(alert)}  ${alertName(alert)}`, `  ${alert.summary}`];
  if (alert.description !== undefined) lines.push(...alert.description.split('\n').map((l) => `  ${l}`));
  const labels = labelText(alert.labels);
  if (labels !== '') lines.push(`  labels: ${labels}`);
  lines.push(`  ${whenText(alert)}`);
  return lines;
}

function alertHtml(alert: AlertInstance): string {
  const colour = alert.status === 'resolved' ? SEVERITY_COLOUR.resolved : SEVERITY_COLOUR[alert.severity];
  const labels = labelText(alert.labels);
  return `<div style="border-left: 4px solid ${colour}; padding: 4px 12px; margin: 0 0 12px;">
<p style="margin: 0;"><strong style="color: ${colour};">${tagOfAlert(alert)}</strong> <strong>${escapeHtml(alertName(alert))}</strong></p>
<p style="margin: 4px 0;">${escapeHtml(alert.summary)}</p>
${alert.description === undefined ? '' : `<p style="margin: 4px 0; white-space: pre-wrap;">${escapeHtml(alert.description)}</p>\n`}${labels === '' ? '' : `<p style="margin: 4px 0; font-family: monospace; font-size: 12px;">${escapeHtml(labels)}</p>\n`}<p style="margin: 4px 0; color: #667085; font-size: 12px;">${escapeHtml(whenText(alert))}</p>
</div>`;
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] ?? c);
}
