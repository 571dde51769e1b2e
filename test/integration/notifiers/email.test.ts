// The email notifier against a real SMTP server: implicit TLS, STARTTLS and plain sessions, what arrives
// (subject, both bodies, recipients), grouping, and how refusals are classified.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { createEmailNotifier, type EmailChannelConfig } from '../../../src/alerting/notifiers/email.js';
import { NotifyError } from '../../../src/alerting/notify-types.js';
import { startSmtpServer } from '../../helpers/smtp.js';
import { createSelfSignedCert, type TestCertificate } from '../../helpers/tls.js';
import { alert, firing, NEVER, resolved, threeAlerts } from './fixtures.js';

let cert: TestCertificate;
before(async () => {
  cert = await createSelfSignedCert();
});
after(() => cert.remove());

function emailConfig(port: number, overrides: Partial<EmailChannelConfig> = {}): EmailChannelConfig {
  return { host: '127.0.0.1', port, secure: false, from: 'pgwarden@example.com', to: ['dba@example.com', 'oncall@example.com'], ...overrides };
}

async function rejection(promise: Promise<unknown>): Promise<NotifyError> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof NotifyError, `expected a NotifyError, got ${String(error)}`);
    return error;
  }
  assert.fail('the notification was delivered');
}

describe('email notifier', () => {
  test('sends over implicit TLS, trusting the server only through the given CA, with login', async (t) => {
    const smtp = await startSmtpServer(t, { tls: 'implicit', cert, auth: { user: 'pgwarden', password: 'smtp-pass-1' } });
    const notifier = createEmailNotifier(emailConfig(smtp.port, { secure: true, user: 'pgwarden', password: 'smtp-pass-1' }), { ca: cert.cert });

    await notifier.notify(firing(), NEVER);

    assert.equal(smtp.messages.length, 1);
    const mail = smtp.messages[0]!;
    assert.equal(mail.secure, true);
    assert.equal(mail.user, 'pgwarden');
    assert.equal(mail.envelope.from, 'pgwarden@example.com');
    assert.deepEqual(mail.envelope.to, ['dba@example.com', 'oncall@example.com']);
    assert.equal(mail.parsed.subject, '[CRITICAL] BackupMissing hotel_extranet');
    assert.match(mail.parsed.text ?? '', /CRITICAL {2}BackupMissing hotel_extranet\n {2}no successful full backup of hotel_extranet in 26 h/);
    assert.match(mail.parsed.text ?? '', /labels: database=hotel_extranet type=full/);
    assert.match(mail.parsed.text ?? '', /since 2026-11-25 02:00 UTC/);
    assert.match(String(mail.parsed.html), /<strong>BackupMissing hotel_extranet<\/strong>/);
    assert.match(String(mail.parsed.html), /<a href="https:\/\/pgwarden.example.com">/);
    assert.equal(mail.parsed.headers.get('x-pgwarden-notification'), 'firing');
  });

  test('upgrades a plain connection with STARTTLS when the server offers it', async (t) => {
    const smtp = await startSmtpServer(t, { tls: 'starttls', cert });
    const notifier = createEmailNotifier(emailConfig(smtp.port), { ca: cert.cert });

    await notifier.notify(firing(), NEVER);

    assert.equal(smtp.messages.length, 1);
    assert.equal(smtp.messages[0]!.secure, true);
  });

  test('sends in the clear when the server does not offer STARTTLS', async (t) => {
    const smtp = await startSmtpServer(t);
    const notifier = createEmailNotifier(emailConfig(smtp.port));

    await notifier.notify(firing(), NEVER);

    assert.equal(smtp.messages.length, 1);
    assert.equal(smtp.messages[0]!.secure, false);
  });

  test('refuses a certificate it was not told to trust, for good, with a hint', async (t) => {
    const smtp = await startSmtpServer(t, { tls: 'implicit', cert });
    const notifier = createEmailNotifier(emailConfig(smtp.port, { secure: true }));

    const error = await rejection(notifier.notify(firing(), NEVER));

    assert.equal(error.reason, 'tls');
    assert.equal(error.recoverable, false);
    assert.match(error.message, /^email: TLS certificate not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT\)/);
    assert.ok(error.hints.some((h) => h.includes('CA')));
    assert.equal(smtp.messages.length, 0);
  });

  test('groups three alerts into one email, most severe first', async (t) => {
    const smtp = await startSmtpServer(t);
    const notifier = createEmailNotifier(emailConfig(smtp.port));

    await notifier.notify(firing(threeAlerts()), NEVER);

    assert.equal(smtp.messages.length, 1);
    const mail = smtp.messages[0]!;
    assert.equal(mail.parsed.subject, '[CRITICAL] BackupMissing hotel_extranet (+2 more)');
    const text = mail.parsed.text ?? '';
    assert.match(text, /pgwarden raised 3 alerts\./);
    const order = ['CRITICAL  BackupMissing hotel_extranet', 'WARNING  BackupSizeDrop crm', 'INFO  IncrementalSizeSpike shop'].map((line) => text.indexOf(line));
    assert.ok(order.every((i) => i >= 0), `all three alerts listed:\n${text}`);
    assert.deepEqual([...order].sort((a, b) => a - b), order, 'most severe first');
  });

  test('says RESOLVED once the alerts clear', async (t) => {
    const smtp = await startSmtpServer(t);
    const notifier = createEmailNotifier(emailConfig(smtp.port));

    await notifier.notify(resolved([alert(), alert({ fingerprint: 'ffff', labels: { database: 'crm' } })]), NEVER);

    const mail = smtp.messages[0]!;
    assert.equal(mail.parsed.subject, '[RESOLVED] BackupMissing hotel_extranet (+1 more)');
    assert.match(mail.parsed.text ?? '', /Resolved: these 2 alerts cleared\./);
    assert.match(mail.parsed.text ?? '', /RESOLVED {2}BackupMissing hotel_extranet\n[\s\S]*from 2026-11-25 02:00 UTC to 2026-11-25 04:30 UTC/);
  });

  test('a refused login is final and names the config fields', async (t) => {
    const smtp = await startSmtpServer(t, { auth: { user: 'pgwarden', password: 'right' } });
    const notifier = createEmailNotifier(emailConfig(smtp.port, { user: 'pgwarden', password: 'wrong' }));

    const error = await rejection(notifier.notify(firing(), NEVER));

    assert.equal(error.reason, 'auth');
    assert.equal(error.recoverable, false);
    assert.equal(error.status, 535);
    assert.match(error.message, /^email: SMTP login refused: /);
    assert.deepEqual(error.hints, ['check channels.email.user and channels.email.password in the config']);
  });

  test('a 4xx SMTP reply may pass, a 5xx one will not', async (t) => {
    const smtp = await startSmtpServer(t);
    smtp.enqueue({ code: 451, message: 'Try again later' }, { code: 550, message: 'Mailbox unavailable' });
    const notifier = createEmailNotifier(emailConfig(smtp.port));

    const transient = await rejection(notifier.notify(firing(), NEVER));
    const permanent = await rejection(notifier.notify(firing(), NEVER));

    assert.deepEqual([transient.recoverable, transient.reason, transient.status], [true, 'server_error', 451]);
    assert.match(transient.message, /^email: SMTP server answered 451 Try again later/);
    assert.deepEqual([permanent.recoverable, permanent.reason, permanent.status], [false, 'client_error', 550]);
  });

  test('a test notification without alerts still sends one email', async (t) => {
    const smtp = await startSmtpServer(t);
    const notifier = createEmailNotifier(emailConfig(smtp.port));

    await notifier.notify({ kind: 'test', alerts: [] }, NEVER);

    assert.equal(smtp.messages[0]?.parsed.subject, '[TEST] TestNotification');
    assert.match(smtp.messages[0]?.parsed.text ?? '', /A test notification from pgwarden: nothing is wrong\./);
  });
});
