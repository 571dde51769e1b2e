// Makes a config safe to print or log: every secret becomes "***", and the secret strings themselves
// are listed so a logger can scrub them from any message (error texts from drivers included).
import type { Config } from './types.js';

export const REDACTED = '***';

/** Field names whose values are always secrets, wherever they appear in the config. */
const SECRET_FIELDS: ReadonlySet<string> = new Set(['token', 'password', 'key', 'authToken', 'routingKey', 'secretAccessKey']);
/** Query parameters libpq reads a password from. */
const PASSWORD_PARAMS = ['password', 'sslpassword'];
const HAS_SCHEME = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//;
// Fallback for strings URL cannot parse: `scheme://user:password@…`.
const USERINFO_PASSWORD = /^([A-Za-z][A-Za-z0-9+.-]*:\/\/[^:@/]*:)([^@/]*)@/;

/** `postgres://user:secret@host/db` → `postgres://user:***@host/db`; other URLs unchanged. */
export function redactUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    return url.replace(USERINFO_PASSWORD, `$1${REDACTED}@`);
  }
  let changed = false;
  if (parsed.password !== '') {
    parsed.password = REDACTED;
    changed = true;
  }
  for (const name of PASSWORD_PARAMS) {
    if (parsed.searchParams.has(name)) {
      parsed.searchParams.set(name, REDACTED);
      changed = true;
    }
  }
  return changed ? parsed.toString() : url;
}

/** The passwords a URL carries, both as written (percent-encoded) and decoded. */
function urlSecrets(url: string): string[] {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    const password = USERINFO_PASSWORD.exec(url)?.[2];
    return password === undefined ? [] : [password];
  }
  const found: string[] = [];
  if (parsed.password !== '') {
    found.push(parsed.password);
    found.push(safeDecode(parsed.password));
  }
  for (const name of PASSWORD_PARAMS) {
    for (const value of parsed.searchParams.getAll(name)) found.push(value);
  }
  return found;
}

function safeDecode(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}

/** A copy of `config` with every secret replaced by "***". */
export function redactConfig(config: Config): unknown {
  return redactValue(config, undefined);
}

function redactValue(value: unknown, field: string | undefined): unknown {
  if (typeof value === 'string') {
    if (field !== undefined && SECRET_FIELDS.has(field)) return REDACTED;
    return HAS_SCHEME.test(value) ? redactUrl(value) : value;
  }
  if (Array.isArray(value)) return value.map((item) => redactValue(item, undefined));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([key, item]) => [key, redactValue(item, key)]));
  }
  return value;
}

/** Every secret string in `config` (URL passwords included), longest first so scrubbing replaces whole secrets. */
export function secretValues(config: Config): string[] {
  return collectSecrets(config);
}

/** `secretValues` for any tree, such as a config that has not passed validation yet. */
export function collectSecrets(root: unknown): string[] {
  const found = new Set<string>();
  const visit = (value: unknown, field: string | undefined) => {
    if (typeof value === 'string') {
      if (field !== undefined && SECRET_FIELDS.has(field)) found.add(value);
      else if (HAS_SCHEME.test(value)) for (const secret of urlSecrets(value)) found.add(secret);
    } else if (Array.isArray(value)) {
      for (const item of value) visit(item, undefined);
    } else if (typeof value === 'object' && value !== null) {
      for (const [key, item] of Object.entries(value)) visit(item, key);
    }
  };
  visit(root, undefined);
  found.delete('');
  return [...found].sort((a, b) => b.length - a.length);
}

/** Replaces every occurrence of each secret in `text` with "***". */
export function scrubSecrets(text: string, secrets: readonly string[]): string {
  let out = text;
  for (const secret of secrets) out = out.split(secret).join(REDACTED);
  return out;
}
