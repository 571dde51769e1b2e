// Turns zod's issues into the one-line-per-problem messages operators read: `databases[0].url: required`.
// Messages are built from the issue's kind and the schema, never from the rejected value, except for
// enum choices, cron expressions, time zones and durations, which cannot hold secrets.
import * as z from 'zod';
import { closestKey } from './suggest.js';
import type { ConfigProblem } from './types.js';

/** `['databases', 0, 'url']` → `databases[0].url`; the root is `(root)`. */
export function formatPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z_$][A-Za-z0-9_$-]*$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out === '' ? '(root)' : out;
}

export function formatProblem(problem: ConfigProblem): string {
  return `${formatPath(problem.path)}: ${problem.message}`;
}

function describeExpected(expected: string): string {
  switch (expected) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'int':
      return 'an integer';
    case 'boolean':
      return 'true or false';
    case 'array':
      return 'a list';
    case 'object':
      return 'a mapping';
    default:
      return expected;
  }
}

function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (Array.isArray(input)) return 'a list';
  switch (typeof input) {
    case 'string':
      return 'a string';
    case 'number':
      return 'a number';
    case 'boolean':
      return 'a boolean';
    case 'object':
      return 'a mapping';
    default:
      return typeof input;
  }
}

/** The parse-wide error map: messages for every issue a field's own schema did not word itself. */
export const configErrorMap: z.core.$ZodErrorMap = (issue) => {
  switch (issue.code) {
    case 'invalid_type':
      if (issue.input === undefined) return 'required';
      return `expected ${describeExpected(issue.expected)}, got ${describeInput(issue.input)}`;
    case 'too_small':
      if (issue.origin === 'string') return issue.minimum === 1 ? 'must not be empty' : `must be at least ${issue.minimum} characters`;
      if (issue.origin === 'array') return `must list at least ${issue.minimum}`;
      return `must be at least ${issue.minimum}`;
    case 'too_big':
      if (issue.origin === 'string') return `must be at most ${issue.maximum} characters`;
      if (issue.origin === 'array') return `must list at most ${issue.maximum}`;
      return `must be at most ${issue.maximum}`;
    case 'invalid_value': {
      const choices = issue.values.map(String).join(', ');
      const got = typeof issue.input === 'string' ? ` (got "${issue.input.slice(0, 40)}")` : '';
      return `must be one of ${choices}${got}`;
    }
    case 'unrecognized_keys':
      return 'unknown key';
    default:
      return 'is invalid';
  }
};

/**
 * The keys an object schema allows at `path`, found by walking the schema through its wrappers.
 * Used to suggest the key a typo meant.
 */
export function allowedKeysAt(schema: z.ZodType, path: readonly PropertyKey[]): string[] {
  let node: unknown = schema;
  let index = 0;
  for (;;) {
    if (node instanceof z.ZodDefault || node instanceof z.ZodPrefault || node instanceof z.ZodOptional || node instanceof z.ZodNullable) {
      node = node.unwrap();
    } else if (node instanceof z.ZodPipe) {
      node = node.in;
    } else if (index === path.length) {
      return node instanceof z.ZodObject ? Object.keys(node.shape) : [];
    } else {
      const segment = path[index++];
      if (node instanceof z.ZodArray) node = node.element;
      else if (node instanceof z.ZodObject && typeof segment === 'string' && Object.hasOwn(node.shape, segment)) node = node.shape[segment];
      else return [];
    }
  }
}

function unknownKeyMessage(key: string, allowed: readonly string[]): string {
  const suggestion = closestKey(key, allowed);
  if (suggestion !== undefined) return `unknown key (did you mean "${suggestion}"?)`;
  return allowed.length > 0 ? `unknown key (allowed: ${allowed.join(', ')})` : 'unknown key';
}

/** One problem per field: zod reports all unknown keys of an object in one issue, split here. */
export function problemsFromIssues(schema: z.ZodType, issues: readonly z.core.$ZodIssue[]): ConfigProblem[] {
  const problems: ConfigProblem[] = [];
  for (const issue of issues) {
    if (issue.code === 'unrecognized_keys') {
      const allowed = allowedKeysAt(schema, issue.path);
      for (const key of issue.keys) problems.push({ path: [...issue.path, key], message: unknownKeyMessage(key, allowed) });
    } else {
      problems.push({ path: issue.path, message: issue.message });
    }
  }
  return problems;
}
