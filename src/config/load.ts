// Reads, expands and validates the config: YAML → `${VAR}`/`*_FILE` expansion → zod schema → relative
// paths resolved → frozen. Every problem found is reported at once, one line per field, as a ConfigError.
import { readFile } from 'node:fs/promises';
import { dirname, resolve } from 'node:path';
import { ConfigError } from '../errors.js';
import { deepFreeze } from './freeze.js';
import { expandTree, fileErrorReason } from './interpolate.js';
import { configErrorMap, formatPath, formatProblem, problemsFromIssues } from './issues.js';
import { resolveConfigPaths } from './paths.js';
import { collectSecrets, scrubSecrets } from './redact.js';
import { configSchema } from './schema.js';
import type { Config, ConfigProblem, ParseConfigOptions } from './types.js';
import { readYaml } from './yaml.js';

const CONFIG_FLAG_HINT = 'pass --config FILE or set PGWARDEN_CONFIG to the path of the config file';
const ENV_HINT = `export the variable, set NAME_FILE to a file holding its value, or write \${NAME:-default}`;
// Shorter "secrets" would blank out ordinary words; messages never echo secret values anyway.
const MIN_SCRUB_LENGTH = 4;

/** Parses config text (YAML). Throws ConfigError listing every problem, each naming its field. */
export function parseConfig(text: string, options: ParseConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const baseDir = resolve(options.baseDir ?? process.cwd());
  const what = options.source === undefined ? 'config' : `config file ${options.source}`;

  const yaml = readYaml(text);
  if (!yaml.ok) throw new ConfigError(`${what} is not valid YAML`, yaml.problems, { hints: yaml.hints });
  // An empty file (or only comments) is a mapping with nothing in it: say so, then list what is missing.
  const empty = yaml.value === null || yaml.value === undefined;
  const expanded = expandTree(empty ? {} : yaml.value, { env, baseDir });

  const result = configSchema.safeParse(expanded.value, { error: configErrorMap });
  const problems = result.success ? [...expanded.problems] : [...expanded.problems, ...withoutNoise(problemsFromIssues(configSchema, result.error.issues), expanded.failed)];
  if (problems.length > 0 || !result.success) {
    const secrets = collectSecrets(expanded.value).filter((secret) => secret.length >= MIN_SCRUB_LENGTH);
    const lines = onePerField(problems).map((problem) => scrubSecrets(formatProblem(problem), secrets));
    const hints = expanded.problems.some((problem) => problem.message.startsWith('environment variable')) ? [ENV_HINT] : [];
    throw new ConfigError(empty ? `${what} is empty` : `${what} is invalid`, lines, { hints });
  }
  return deepFreeze(resolveConfigPaths(result.data, baseDir));
}

/** Reads and parses the config file at `path`; relative paths inside it are resolved from its directory. */
export async function loadConfig(path: string, env: NodeJS.ProcessEnv = process.env): Promise<Config> {
  const file = resolve(path);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    const reason = fileErrorReason(error);
    const message = reason === 'not found' ? `config file ${file} not found` : `config file ${file} cannot be read (${reason})`;
    throw new ConfigError(message, [], { hints: [CONFIG_FLAG_HINT], cause: error });
  }
  return parseConfig(text, { env, baseDir: dirname(file), source: file });
}

/** Drops validation issues about fields whose value expansion already failed ("required", …). */
function withoutNoise(problems: ConfigProblem[], failed: readonly (readonly PropertyKey[])[]): ConfigProblem[] {
  const isUnder = (path: readonly PropertyKey[], prefix: readonly PropertyKey[]) =>
    prefix.length <= path.length && prefix.every((segment, index) => segment === path[index]);
  return problems.filter((problem) => !failed.some((prefix) => isUnder(problem.path, prefix)));
}

/** The first problem of each field is the one to fix; later ones are usually its echoes. */
function onePerField(problems: ConfigProblem[]): ConfigProblem[] {
  const seen = new Set<string>();
  return problems.filter((problem) => {
    const key = formatPath(problem.path);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}
