// How thrown values become responses, and how client input is checked: pure functions, no server.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AbortedError, NotFoundError, PgwardenError, UsageError, VerificationError } from '../../../src/errors.js';
import { describeError, HttpError } from '../../../src/http/http-error.js';
import { parseListQuery, parseRunBackupBody, parseSilenceBody } from '../../../src/http/validate.js';

const authed = { authenticated: true, requestId: 'r-1' };
const anonymous = { authenticated: false, requestId: 'r-2' };

test('describeError maps PgwardenErrors by code for authenticated callers', () => {
  const status = (error: unknown, options = authed) => describeError(error, options).status;
  assert.equal(status(new NotFoundError('gone')), 404);
  assert.equal(status(new UsageError('bad')), 400);
  assert.equal(status(new AbortedError('shutting down')), 503);
  assert.equal(status(new VerificationError('checksum', 'does not match')), 500);
  assert.equal(status(new PgwardenError('generic')), 500);
  assert.deepEqual(describeError(new VerificationError('checksum', 'does not match'), authed).body, {
    error: 'VERIFICATION_FAILED',
    message: 'does not match',
  });
});

test('describeError hides every message but a client error from anonymous callers and for bugs', () => {
  const hidden = describeError(new NotFoundError('backup x on /secret/path'), anonymous);
  assert.equal(hidden.status, 500);
  assert.equal(hidden.internal, true);
  assert.equal(hidden.body.message, 'internal error (request r-2); the service log has the details');
  assert.equal(describeError(new Error('boom'), authed).body.error, 'INTERNAL');
  assert.equal(describeError('a string', authed).status, 500);
  assert.equal(describeError(null, authed).status, 500);
  const own = describeError(new HttpError(409, 'BACKUP_RUNNING', 'busy'), anonymous);
  assert.deepEqual([own.status, own.body], [409, { error: 'BACKUP_RUNNING', message: 'busy' }]);
  const parse = describeError(Object.assign(new SyntaxError('Unexpected end of JSON input'), { status: 400, type: 'entity.parse.failed' }), anonymous);
  assert.deepEqual([parse.status, parse.body.error], [400, 'INVALID_JSON']);
  const upstream = Object.assign(new Error('upstream said 502'), { status: 502 });
  assert.equal(describeError(upstream, authed).body.error, 'INTERNAL');
});

test('parseListQuery turns a query into a catalog filter and names every bad field at once', () => {
  assert.deepEqual(parseListQuery({ database: 'shop', type: 'wal', status: 'running', limit: '1' }), {
    database: 'shop',
    type: 'wal',
    status: 'running',
    limit: 1,
  });
  assert.throws(
    () => parseListQuery({ limit: '1e3', status: 'ok', x: 'y' }),
    (error: unknown) =>
      error instanceof HttpError &&
      error.status === 400 &&
      error.message === 'limit: must be a whole number from 1 to 1000, got "1e3"; status: must be one of "running", "succeeded", "failed", "expired", got "ok"; x: unknown query parameter (known: database, type, status, limit)',
  );
});

test('parseRunBackupBody and parseSilenceBody return typed input for valid bodies', () => {
  const databases = [{ name: 'shop' }, { name: 'crm', pitr: true }];
  assert.deepEqual(parseRunBackupBody({ kind: 'full' }, databases), { kind: 'full' });
  assert.deepEqual(parseRunBackupBody({ kind: 'full', database: 'shop' }, databases), { kind: 'full', database: 'shop' });
  assert.deepEqual(parseRunBackupBody({ kind: 'base', database: 'crm' }, databases), { kind: 'base', database: 'crm' });
  assert.deepEqual(parseRunBackupBody({ kind: 'incremental' }, databases), { kind: 'incremental' });
  assert.throws(() => parseRunBackupBody({ kind: 'base', database: 'shop' }, databases), /kind: "base" backups need WAL archiving, and database "shop" does not have pitr: true/);
  assert.throws(() => parseRunBackupBody({ kind: 'incremental' }, [{ name: 'shop' }]), /no configured database has pitr: true/);
  assert.deepEqual(parseSilenceBody({ matchers: { alertname: 'X' }, durationSeconds: 60 }), { matchers: { alertname: 'X' }, durationSeconds: 60 });
  assert.throws(() => parseSilenceBody({ matchers: { a: 'b' }, durationSeconds: 30 * 24 * 3600 + 1 }), /durationSeconds: must be a whole number of seconds from 1 to 2592000/);
  assert.throws(() => parseSilenceBody({ matchers: { a: 'b' }, durationSeconds: 1.5, comment: 7 }), /durationSeconds: .*; comment: must be a string/);
});
