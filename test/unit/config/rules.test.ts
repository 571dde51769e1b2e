// The small parsers behind the schema: cron expressions, durations, did-you-mean.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { cronProblem, parseDuration } from '../../../src/config/index.js';
import { closestKey, editDistance } from '../../../src/config/suggest.js';

test('valid cron expressions have no problem', () => {
  for (const expression of ['0 2 * * *', '*/15 * * * *', '0 */6 * * *', '0 1 * * 0', '0 9-17/2 * * MON-FRI', '0 0 1 jan,jul *', '30 0 2 * * 7', '0 0 1,15 * *']) {
    assert.equal(cronProblem(expression), undefined, expression);
  }
});

test('invalid cron expressions say what is wrong', () => {
  const cases: [string, string][] = [
    ['0 2 * *', 'expected 5 or 6 fields, got 4'],
    ['0 0 0 0 0 0 0', 'expected 5 or 6 fields, got 7'],
    ['@daily', 'expected 5 or 6 fields, got 1'],
    ['60 * * * *', 'minute field "60": 60 is outside 0-59'],
    ['* * 0 * *', 'day of month field "0": 0 is outside 1-31'],
    ['* * * * 8', 'day of week field "8": 8 is outside 0-7'],
    ['0 0 * FOO *', 'month field "FOO": "FOO" is not a valid month'],
    ['0 0 * * MON-FOO', 'day of week field "MON-FOO": "FOO" is not a valid day of week'],
    ['*/0 * * * *', 'minute field "*/0" has a step of 0'],
    ['*-5 * * * *', 'minute field "*-5" has a range starting at "*"'],
    ['0 2 * * ?', 'day of week field "?" is not made of numbers, names, "*", "/", "," and "-"'],
  ];
  for (const [expression, problem] of cases) assert.equal(cronProblem(expression), problem, expression);
});

test('durations parse to milliseconds', () => {
  assert.equal(parseDuration('4h'), 14_400_000);
  assert.equal(parseDuration('30m'), 1_800_000);
  assert.equal(parseDuration('90s'), 90_000);
  assert.equal(parseDuration('500ms'), 500);
  assert.equal(parseDuration('1h30m'), 5_400_000);
  assert.equal(parseDuration('7d'), 604_800_000);
});

test('malformed or zero durations are rejected', () => {
  for (const text of ['', '4', '4 hours', 'h', '-1h', '1.5h', '0s', '4H']) assert.equal(parseDuration(text), undefined, text);
});

test('did-you-mean finds typos, transpositions and case slips, and nothing far away', () => {
  const keys = ['catalog', 'databases', 'storage', 'retention', 'backup', 'logLevel'];
  assert.equal(closestKey('rentention', keys), 'retention');
  assert.equal(closestKey('rtention', keys), 'retention');
  assert.equal(closestKey('databsaes', keys), 'databases');
  assert.equal(closestKey('loglevel', keys), 'logLevel');
  assert.equal(closestKey('alerts', keys), undefined);
  assert.equal(editDistance('abc', 'acb'), 1);
  assert.equal(editDistance('', 'abc'), 3);
});
