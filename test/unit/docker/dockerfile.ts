// Reads a Dockerfile the way the builder does, as far as a static check needs: comment lines dropped,
// backslash continuations joined, one instruction per logical line, grouped into stages by FROM. Also
// .dockerignore matching. No Docker engine runs where the tests run, and hadolint is not installed.

export interface Instruction {
  /** Upper-case: FROM, RUN, COPY, … */
  keyword: string;
  /** Everything after the keyword, continuations joined with a space. */
  args: string;
  /** 1-based line of the keyword. */
  line: number;
}

export interface Stage {
  /** The `AS name`, if any. */
  name: string | undefined;
  /** The image it starts from. */
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  /** ARGs before the first FROM. */
  globalArgs: Instruction[];
  stages: Stage[];
}

export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  let pending: { parts: string[]; line: number } | undefined;
  text.split(/\r?\n/).forEach((raw, index) => {
    const trimmed = raw.trim();
    // Comment lines are removed before continuations are joined, and blank lines inside one are skipped.
    if (trimmed === '' || trimmed.startsWith('#')) return;
    const continues = /\\\s*$/.test(raw);
    const content = continues ? raw.replace(/\\\s*$/, '') : raw;
    pending ??= { parts: [], line: index + 1 };
    pending.parts.push(content.trim());
    if (continues) return;
    instructions.push(toInstruction(pending.parts.join(' '), pending.line));
    pending = undefined;
  });
  if (pending) instructions.push(toInstruction(pending.parts.join(' '), pending.line));

  const result: Dockerfile = { globalArgs: [], stages: [] };
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const { rest } = splitFlags(instruction.args);
      const match = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(rest);
      if (!match) throw new Error(`line ${instruction.line}: cannot read FROM ${instruction.args}`);
      result.stages.push({ base: match[1]!, name: match[2], instructions: [] });
    } else if (result.stages.length === 0) {
      if (instruction.keyword !== 'ARG') throw new Error(`line ${instruction.line}: ${instruction.keyword} before the first FROM`);
      result.globalArgs.push(instruction);
    } else {
      result.stages.at(-1)!.instructions.push(instruction);
    }
  }
  return result;
}

function toInstruction(text: string, line: number): Instruction {
  const match = /^(\S+)\s*(.*)$/s.exec(text.trim());
  return { keyword: match![1]!.toUpperCase(), args: match![2]!.trim(), line };
}

/** `--from=build --chown=0:0 a b` → flags {from: build, chown: 0:0}, rest `a b`. */
export function splitFlags(args: string): { flags: Record<string, string>; rest: string } {
  const flags: Record<string, string> = {};
  let rest = args.trim();
  for (let match = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest); match; match = /^--([\w-]+)(?:=(\S*))?\s*/.exec(rest)) {
    flags[match[1]!] = match[2] ?? 'true';
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

/** The JSON (exec) form `["a", "b"]`, or undefined for the shell form. */
export function execForm(args: string): string[] | undefined {
  const text = args.trim();
  if (!text.startsWith('[')) return undefined;
  const parsed: unknown = JSON.parse(text);
  if (!Array.isArray(parsed) || !parsed.every((word) => typeof word === 'string')) throw new Error(`not an exec form: ${text}`);
  return parsed;
}

/** COPY/ADD sources and destination, in either form. */
export function copyPaths(args: string): { flags: Record<string, string>; sources: string[]; destination: string } {
  const { flags, rest } = splitFlags(args);
  const words = execForm(rest) ?? rest.split(/\s+/);
  if (words.length < 2) throw new Error(`COPY needs a source and a destination: ${args}`);
  return { flags, sources: words.slice(0, -1), destination: words.at(-1)! };
}

/** The stage's instructions of one kind. */
export const instructionsOf = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);

/** The absolute directory WORKDIR has set before `instruction` (default `/`). */
export function workdirAt(stage: Stage, instruction: Instruction): string {
  let dir = '/';
  for (const i of stage.instructions) {
    if (i === instruction) break;
    if (i.keyword === 'WORKDIR') dir = resolvePosix(dir, i.args.trim());
  }
  return dir;
}

/** `path` resolved against the absolute directory `dir`, POSIX style. */
export function resolvePosix(dir: string, path: string): string {
  const segments = (path.startsWith('/') ? path : `${dir}/${path}`).split('/');
  const out: string[] = [];
  for (const segment of segments) {
    if (segment === '' || segment === '.') continue;
    if (segment === '..') out.pop();
    else out.push(segment);
  }
  return `/${out.join('/')}`;
}

/**
 * Whether .dockerignore keeps `path` (relative to the context, `/`-separated) out of the build context:
 * the last pattern matching the path or one of its parent directories decides; `!` re-includes.
 */
export function isIgnored(dockerignore: string, path: string): boolean {
  const rules = dockerignore
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const negated = line.startsWith('!');
      const pattern = (negated ? line.slice(1) : line).replace(/^\/+|\/+$/g, '');
      return { negated, regex: globToRegex(pattern) };
    });
  const segments = path.split('/');
  const candidates = segments.map((_, index) => segments.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (candidates.some((candidate) => rule.regex.test(candidate))) ignored = !rule.negated;
  }
  return ignored;
}

function globToRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i]!;
    if (char === '*' && pattern[i + 1] === '*') {
      source += '.*';
      i++;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}
