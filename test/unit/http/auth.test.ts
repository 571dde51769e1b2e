// Token and password comparison: constant time over SHA-256 digests, so different lengths are just unequal.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { constantTimeEqual, createTokenMatcher, credentialsOf } from '../../../src/http/auth.js';

test('constantTimeEqual is true only for equal strings, and different lengths do not throw', () => {
  assert.equal(constantTimeEqual('s3cret-token-value', 's3cret-token-value'), true);
  assert.equal(constantTimeEqual('s3cret-token-value', 's3cret-token-valuE'), false);
  assert.equal(constantTimeEqual('short', 'a much longer string than that'), false);
  assert.equal(constantTimeEqual('', 'x'), false);
  assert.equal(constantTimeEqual('', ''), true);
  assert.equal(constantTimeEqual('pässwörd', 'pässwörd'), true);
  assert.equal(constantTimeEqual('pässwörd', 'passwoerd'), false);
});

test('the token matcher names the token presented, and nothing for a prefix, an extension or no tokens', () => {
  const match = createTokenMatcher([
    { name: 'ops', token: 'ops-token-0123456789abcdef' },
    { name: 'ci', token: 'ci-token-fedcba9876543210' },
  ]);
  assert.equal(match('ops-token-0123456789abcdef'), 'ops');
  assert.equal(match('ci-token-fedcba9876543210'), 'ci');
  assert.equal(match('ops-token-0123456789abcde'), undefined);
  assert.equal(match('ops-token-0123456789abcdef0'), undefined);
  assert.equal(match(''), undefined);
  assert.equal(createTokenMatcher([])('ops-token-0123456789abcdef'), undefined);
});

test('credentials are read from an Authorization header of the right scheme, case-insensitively', () => {
  assert.equal(credentialsOf('Bearer abc', 'Bearer'), 'abc');
  assert.equal(credentialsOf('bearer abc', 'Bearer'), 'abc');
  assert.equal(credentialsOf('  Bearer   abc  ', 'Bearer'), 'abc');
  assert.equal(credentialsOf('Basic abc', 'Bearer'), undefined);
  assert.equal(credentialsOf('Bearer', 'Bearer'), undefined);
  assert.equal(credentialsOf('Bearer a b', 'Bearer'), undefined);
  assert.equal(credentialsOf(undefined, 'Basic'), undefined);
});
