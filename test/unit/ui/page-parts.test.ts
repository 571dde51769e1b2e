// The status page's pure parts: escaping, sessions, the cookie and the origin check, chart alignment, and how
// the recovery state and storage targets are derived.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Request } from 'express';
import { HttpError } from '../../../src/http/http-error.js';
import { stateOf, targetsOf } from '../../../src/status/overview.js';
import { alignSeries } from '../../../src/ui/charts.js';
import { formatDuration } from '../../../src/ui/format.js';
import { checkCsrf, checkSameOrigin, sessionCookie } from '../../../src/ui/guard.js';
import { html, jsonScript, raw } from '../../../src/ui/html.js';
import { createSessionStore } from '../../../src/ui/sessions.js';

const request = (headers: Record<string, string>, extra: Partial<Request> = {}) => ({ headers, secure: false, ...extra }) as unknown as Request;

test('html escapes every interpolated value, attributes included, and nests templates without double escaping', () => {
  const name = `shop"><script>alert('x')</script>&`;
  const inner = html`<b>${name}</b>`;
  assert.equal(
    html`<a title="${name}">${inner}${[1, null, undefined, false, 'a<b']}</a>`.text,
    '<a title="shop&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;"><b>shop&quot;&gt;&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&amp;</b>1a&lt;b</a>',
  );
  assert.equal(html`${raw('<br>')}`.text, '<br>');
  assert.equal(jsonScript({ note: '</script><!--&\u2028' }).text, '{"note":"\\u003c/script\\u003e\\u003c!--\\u0026\\u2028"}');
  assert.deepEqual(JSON.parse(jsonScript({ note: '</script>' }).text), { note: '</script>' });
});

test('a session lives for its lifetime, sign-out ends it, and the store keeps a bounded number', () => {
  let now = new Date('2026-05-01T00:00:00Z');
  const store = createSessionStore({ lifetimeMs: 3600_000, now: () => now, maxSessions: 2 });
  const a = store.create('ops');
  assert.equal(store.get(a.id)?.tokenName, 'ops');
  assert.notEqual(a.session.csrf, a.id);
  assert.equal(store.get(`${a.id}x`), undefined);
  now = new Date('2026-05-01T00:59:59Z');
  assert.ok(store.get(a.id));
  now = new Date('2026-05-01T01:00:00Z');
  assert.equal(store.get(a.id), undefined, 'expired');
  const b = store.create('ops');
  store.destroy(b.id);
  assert.equal(store.get(b.id), undefined, 'signed out');
  const c = store.create('a');
  const d = store.create('b');
  const e = store.create('c');
  assert.equal(store.size, 2);
  assert.equal(store.get(c.id), undefined, 'the oldest is dropped past the bound');
  assert.ok(store.get(d.id) && store.get(e.id));
});

test('the session cookie is HttpOnly, SameSite=Strict and expiring, and Secure over TLS or behind a TLS proxy', () => {
  assert.equal(sessionCookie(request({}), 'abc', 43200), 'pgwarden_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=43200');
  assert.match(sessionCookie(request({}, { secure: true }), 'abc', 60), /; Secure$/);
  assert.match(sessionCookie(request({ 'x-forwarded-proto': 'https' }), 'abc', 60), /; Secure$/);
  assert.doesNotMatch(sessionCookie(request({ 'x-forwarded-proto': 'http' }), 'abc', 60), /Secure/);
});

test('a POST from another origin, a null origin or a cross-site fetch is refused; a same-origin one passes', () => {
  const refused = (headers: Record<string, string>) => assert.throws(() => checkSameOrigin(request(headers)), (e: unknown) => e instanceof HttpError && e.status === 403);
  checkSameOrigin(request({ host: '127.0.0.1:9187', origin: 'http://127.0.0.1:9187' }));
  checkSameOrigin(request({ host: '127.0.0.1:9187' }));
  checkSameOrigin(request({ host: '127.0.0.1:9187', 'sec-fetch-site': 'same-origin' }));
  refused({ host: '127.0.0.1:9187', origin: 'http://evil.example' });
  refused({ host: '127.0.0.1:9187', origin: 'http://127.0.0.1:9188' });
  refused({ host: '127.0.0.1:9187', origin: 'null' });
  refused({ host: '127.0.0.1:9187', origin: 'not a url' });
  refused({ host: '127.0.0.1:9187', 'sec-fetch-site': 'cross-site' });
  checkCsrf({ body: { csrf: 'token-1' } } as unknown as Request, 'token-1');
  for (const body of [{ csrf: 'token-2' }, {}, undefined, { csrf: ['token-1'] }]) {
    assert.throws(() => checkCsrf({ body } as unknown as Request, 'token-1'), /form has expired or did not come from this page/);
  }
});

test('chart series are aligned on the union of their times, with gaps as null', () => {
  const aligned = alignSeries([
    { label: 'full', unit: 'bytes', points: [{ t: 10, v: 100 }, { t: 30, v: 300 }] },
    { label: 'base', unit: 'bytes', dashed: true, points: [{ t: 20, v: 2 }, { t: 30, v: null }] },
  ]);
  assert.deepEqual(aligned.x, [10, 20, 30]);
  assert.deepEqual(aligned.series.map((s) => s.values), [
    [100, null, 300],
    [null, 2, null],
  ]);
  assert.equal(aligned.series[1]!.dashed, true);
});

test('the state is the worst alert severity (info is a note), and a target is degraded where a newest backup failed', () => {
  assert.equal(stateOf([]), 'ok');
  assert.equal(stateOf([{ severity: 'info' }]), 'ok');
  assert.equal(stateOf([{ severity: 'info' }, { severity: 'warning' }]), 'warning');
  assert.equal(stateOf([{ severity: 'warning' }, { severity: 'critical' }]), 'critical');
  const targets = targetsOf([
    { type: 'full', backup_id: 'F1', storage: { local: { status: 'stored', path: 'a' }, s3: { status: 'failed', path: 'b', error: '503 Slow Down' } } },
    { type: 'base', backup_id: 'B1', storage: { local: { status: 'stored', path: 'c' }, s3: { status: 'stored', path: 'd' } } },
  ]);
  assert.deepEqual(targets, [
    { target: 'local', state: 'healthy', detail: null },
    { target: 's3', state: 'degraded', detail: 'the newest full backup F1 is not stored there: 503 Slow Down' },
  ]);
  assert.equal(formatDuration(59), '59 s');
  assert.equal(formatDuration(3 * 3600 + 20 * 60), '3 h 20 min');
  assert.equal(formatDuration(50 * 3600), '2 d 2 h');
});
