// Fills the parsed YAML tree from the environment before validation: `${VAR}`, `${VAR:-default}`,
// `VAR_FILE` for an unset VAR, and `key_FILE: /path` keys, so secrets can come from env or mounted
// files (Docker/Kubernetes secrets) and never have to sit in the config file.
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { ConfigProblem } from './types.js';

export interface ExpandOptions {
  env: NodeJS.ProcessEnv;
  /** Relative `key_FILE` paths are resolved from here (the config file's directory). */
  baseDir: string;
}

export interface Expanded {
  value: unknown;
  problems: ConfigProblem[];
  /** Fields whose value could not be produced: validation issues at or under them are noise. */
  failed: (readonly PropertyKey[])[];
}

const FILE_SUFFIX = '_FILE';
// `$${` is an escaped literal `${`; a `${` without its `}` is reported rather than kept as text.
const REFERENCE = /\$\$\{|\$\{([^}]*)\}|\$\{/g;
const NAME_AND_DEFAULT = /^([A-Za-z_][A-Za-z0-9_]*)(?::-([\s\S]*))?$/;

export function expandTree(root: unknown, options: ExpandOptions): Expanded {
  const problems: ConfigProblem[] = [];
  const failed: (readonly PropertyKey[])[] = [];
  const fail = (path: readonly PropertyKey[], message: string, failedPath: readonly PropertyKey[] = path) => {
    problems.push({ path, message });
    failed.push(failedPath);
  };

  const visit = (value: unknown, path: readonly PropertyKey[]): unknown => {
    if (typeof value === 'string') return interpolate(value, path, options.env, fail);
    if (Array.isArray(value)) return value.map((item, index) => visit(item, [...path, index]));
    if (!isPlainObject(value)) return value;

    const out: Record<string, unknown> = {};
    for (const [key, item] of Object.entries(value)) {
      // YAML's `key:` with nothing after it means "not set": let defaults and "required" apply.
      if (item === null) continue;
      if (key.length > FILE_SUFFIX.length && key.endsWith(FILE_SUFFIX)) {
        const target = key.slice(0, -FILE_SUFFIX.length);
        const targetPath = [...path, target];
        if (value[target] !== undefined && value[target] !== null) {
          fail(targetPath, `set either ${target} or ${key}, not both`);
          continue;
        }
        const file = visit(item, [...path, key]);
        if (typeof file !== 'string') {
          if (file !== undefined) fail([...path, key], 'expected the path of a file', targetPath);
          else failed.push(targetPath);
          continue;
        }
        const content = readSecretFile(resolve(options.baseDir, file));
        if (content.ok) define(out, target, content.text);
        else fail([...path, key], content.problem, targetPath);
        continue;
      }
      const expanded = visit(item, [...path, key]);
      if (expanded !== undefined) define(out, key, expanded);
    }
    return out;
  };

  return { value: visit(root, []), problems, failed };
}

type Fail = (path: readonly PropertyKey[], message: string) => void;

/** Expands one string; undefined when a reference cannot be resolved (the problem is reported). */
function interpolate(text: string, path: readonly PropertyKey[], env: NodeJS.ProcessEnv, fail: Fail): string | undefined {
  if (!text.includes('${')) return text;
  let ok = true;
  const report = (message: string) => {
    if (ok) fail(path, message);
    ok = false;
    return '';
  };
  const result = text.replace(REFERENCE, (match: string, body: string | undefined) => {
    if (match === '$${') return '${';
    if (body === undefined) return report('unterminated "${" (write "$${" for a literal "${")');
    const parsed = NAME_AND_DEFAULT.exec(body);
    if (parsed === null) return report(`invalid reference "\${${body}}" (expected \${NAME} or \${NAME:-default})`);
    const name = parsed[1]!;
    const fallback = parsed[2];
    const value = env[name];
    // Shell semantics: `${VAR:-x}` also replaces a set-but-empty VAR.
    if (value !== undefined && !(fallback !== undefined && value === '')) return value;
    const file = env[`${name}${FILE_SUFFIX}`];
    if (file !== undefined && file !== '') {
      const content = readSecretFile(resolve(file));
      return content.ok ? content.text : report(`${name}${FILE_SUFFIX}: ${content.problem}`);
    }
    if (fallback !== undefined) return fallback;
    return report(`environment variable ${name} is not set`);
  });
  return ok ? result : undefined;
}

type FileContent = { ok: true; text: string } | { ok: false; problem: string };

function readSecretFile(file: string): FileContent {
  try {
    // Secret files written by `echo` or editors end with a newline that is not part of the secret.
    return { ok: true, text: readFileSync(file, 'utf8').replace(/\r?\n$/, '') };
  } catch (error) {
    return { ok: false, problem: `cannot read ${file} (${fileErrorReason(error)})` };
  }
}

export function fileErrorReason(error: unknown): string {
  const code = typeof error === 'object' && error !== null && 'code' in error ? String(error.code) : undefined;
  switch (code) {
    case 'ENOENT':
      return 'not found';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    default:
      return code ?? (error instanceof Error ? error.message : String(error));
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// A YAML key "__proto__" must stay an ordinary (and then unknown) key, not replace the prototype.
function define(target: Record<string, unknown>, key: string, value: unknown): void {
  Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
}
