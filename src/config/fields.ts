// Field builders shared by the config schema, so every field of a kind is checked, and explained, the
// same way. Messages never quote the value of a field that could hold a secret.
import * as z from 'zod';
import { cronProblem } from './cron.js';
import { parseDuration } from './duration.js';

/** Issues on a missing value fall through to the parse-wide "required" message. */
const unlessMissing = (message: string) => (issue: { input?: unknown }) => (issue.input === undefined ? undefined : message);

/** Numbers and booleans written as `${VAR}` arrive as strings; accept their plain spellings. */
function fromIntString(value: unknown): unknown {
  return typeof value === 'string' && /^\s*-?[0-9]+\s*$/.test(value) ? Number(value) : value;
}
function fromBoolString(value: unknown): unknown {
  if (value === 'true') return true;
  if (value === 'false') return false;
  return value;
}

// `abort` stops the other checks of the field, so an empty value gets one message, not three.
export const nonEmptyString = () => z.string().min(1, { error: 'must not be empty', abort: true });

export function intInRange(min: number, max: number) {
  const message = `must be an integer from ${min} to ${max}`;
  return z.preprocess(fromIntString, z.int({ error: unlessMissing(message) }).min(min, message).max(max, message));
}

export function positiveInt() {
  const message = 'must be a positive integer';
  return z.preprocess(fromIntString, z.int({ error: unlessMissing(message) }).min(1, message));
}

export const flag = () => z.preprocess(fromBoolString, z.boolean({ error: unlessMissing('must be true or false') }));

/** A libpq connection URL; the message names the scheme but never echoes the URL (it may hold a password). */
export function postgresUrl() {
  return nonEmptyString().superRefine((value, ctx) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a postgres:// or postgresql:// URL', input: value });
      return;
    }
    if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
      // "db1:5432/x" parses with scheme "db1:": only name a scheme the operator actually wrote.
      const scheme = value.includes('://') ? `, not ${url.protocol}//` : '';
      ctx.addIssue({ code: 'custom', message: `must be a postgres:// or postgresql:// URL${scheme}`, input: value });
    }
  });
}

/** An http(s) endpoint override (S3-compatible stores, emulators, proxies, test recorders). */
export function httpUrl() {
  return nonEmptyString().superRefine((value, ctx) => {
    let protocol: string | undefined;
    try {
      protocol = new URL(value).protocol;
    } catch {
      protocol = undefined;
    }
    if (protocol !== 'http:' && protocol !== 'https:') {
      ctx.addIssue({ code: 'custom', message: 'must be an http:// or https:// URL', input: value });
    }
  });
}

/** A cron expression (5 fields, or 6 with seconds), without a default. */
export function cronPattern() {
  return z.string().superRefine((value, ctx) => {
    const problem = cronProblem(value);
    if (problem !== undefined) {
      ctx.addIssue({ code: 'custom', message: `invalid cron expression "${value}": ${problem}`, input: value });
    }
  });
}

export function cronExpression(defaultValue: string) {
  return cronPattern().default(defaultValue);
}

export function timeZone() {
  return nonEmptyString().superRefine((value, ctx) => {
    try {
      new Intl.DateTimeFormat(undefined, { timeZone: value });
    } catch {
      ctx.addIssue({ code: 'custom', message: `unknown time zone "${value}" (use an IANA name such as UTC or Europe/Paris)`, input: value });
    }
  });
}

export function duration() {
  return z.string().superRefine((value, ctx) => {
    if (parseDuration(value) === undefined) {
      ctx.addIssue({ code: 'custom', message: `must be a duration such as "4h", "30m" or "90s", not "${value}"`, input: value });
    }
  });
}

/** Base64 of an AES-256 key; the message says what it decodes to, never what it is. */
export function aes256Key() {
  return z.string().superRefine((value, ctx) => {
    const problem = aes256KeyProblem(value);
    if (problem !== undefined) ctx.addIssue({ code: 'custom', message: `must be base64 of 32 bytes (${problem})`, input: value });
  });
}

function aes256KeyProblem(value: string): string | undefined {
  // Buffer.from(…, 'base64') skips characters it does not know, so check the alphabet first.
  if (value.length === 0 || value.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return 'not valid base64';
  const length = Buffer.from(value, 'base64').length;
  return length === 32 ? undefined : `decodes to ${length}`;
}

/**
 * Reports a duplicate of `key` among the items of an array, on the later item. Runs even when other
 * fields of the items are invalid, so all problems come out at once.
 */
export function uniqueBy(key: string, what: string) {
  return (items: readonly unknown[], ctx: z.RefinementCtx) => {
    const seen = new Map<string, number>();
    items.forEach((item, index) => {
      const value = typeof item === 'object' && item !== null ? (item as Record<string, unknown>)[key] : undefined;
      if (typeof value !== 'string') return;
      const first = seen.get(value);
      if (first === undefined) {
        seen.set(value, index);
        return;
      }
      ctx.addIssue({ code: 'custom', path: [index, key], message: `duplicate ${what} "${value}" (first used at index ${first})`, input: value });
    });
  };
}

/** Zod's `when` option: run a refinement although sibling fields failed, as long as the value has the right shape. */
export const whenArray = { when: (payload: { value: unknown }) => Array.isArray(payload.value) };
export const whenObject = {
  when: (payload: { value: unknown }) => typeof payload.value === 'object' && payload.value !== null && !Array.isArray(payload.value),
};
