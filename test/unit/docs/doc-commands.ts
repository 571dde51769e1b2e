// The `pgwarden …` commands written in docs/*.md, and a check of each against the real command line: its
// subcommand exists, every option is one that subcommand takes (with a value when it needs one, from its
// choices when it has them), and it has as many arguments as the subcommand expects. The CLI is asked
// through its own `--help`, so what is checked is exactly what commander would accept.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { main } from '../../../src/cli/main.js';

export interface DocCommand {
  file: string;
  line: number;
  /** The words after `pgwarden` (or after the image in `docker run … pgwarden:16 …`). */
  words: string[];
  /** Code blocks hold whole commands; an inline code span may leave out arguments (`pgwarden verify`). */
  kind: 'block' | 'inline';
  text: string;
}

const SHELL_BLOCKS = new Set(['', 'sh', 'bash', 'shell', 'console', 'zsh']);
const IMAGE = /^(?:[\w.-]+(?::\d+)?\/)*pgwarden:[\w][\w.-]*$/;

/** The Markdown files of `dir` (not recursive), by name. */
export function markdownFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => name.endsWith('.md'))
    .sort();
}

/** Every `pgwarden` command in a Markdown text: in shell code blocks, and in inline code spans that start with `pgwarden `. */
export function extractCommands(markdown: string, file: string): DocCommand[] {
  const commands: DocCommand[] = [];
  const lines = markdown.split('\n');
  let fence: { marker: string; shell: boolean } | undefined;
  let logical: { text: string; line: number } | undefined;
  lines.forEach((raw, index) => {
    const trimmed = raw.trim();
    const opening = /^(`{3,}|~{3,})\s*([\w-]*)/.exec(trimmed);
    if (!fence && opening) {
      fence = { marker: opening[1]!, shell: SHELL_BLOCKS.has(opening[2]!.toLowerCase()) };
      return;
    }
    if (fence && trimmed.startsWith(fence.marker)) {
      fence = undefined;
      logical = undefined;
      return;
    }
    if (fence) {
      if (!fence.shell) return;
      const text = trimmed.replace(/^\$\s+/, '');
      const continued = /\\$/.test(text);
      logical = logical ? { text: `${logical.text} ${text.replace(/\\$/, '')}`, line: logical.line } : { text: text.replace(/\\$/, ''), line: index + 1 };
      if (continued) return;
      for (const words of commandsInLine(shellWords(logical.text, { redirections: true }))) commands.push({ file, line: logical.line, words, kind: 'block', text: logical.text.trim() });
      logical = undefined;
      return;
    }
    for (const span of raw.matchAll(/(`+)(?!`)(.+?)(?<!`)\1(?!`)/g)) {
      const code = span[2]!.trim();
      if (!code.startsWith('pgwarden ')) continue;
      for (const words of commandsInLine(shellWords(code, { redirections: false }))) commands.push({ file, line: index + 1, words, kind: 'inline', text: code });
    }
  });
  return commands;
}

/** The pgwarden invocations in one tokenized shell line: after a `pgwarden` word, or after the image of `docker run`. */
function commandsInLine(tokens: Token[]): string[][] {
  const found: string[][] = [];
  const dockerRun = tokens[0]?.word === 'docker' && tokens[1]?.word === 'run';
  tokens.forEach((token, index) => {
    if (token.operator) return;
    const isPgwarden = token.word === 'pgwarden' || /(^|\/)bin\/pgwarden$/.test(token.word);
    if (!isPgwarden && !(dockerRun && IMAGE.test(token.word))) return;
    const words: string[] = [];
    for (const next of tokens.slice(index + 1)) {
      if (next.operator) break;
      words.push(next.word);
    }
    // `docker run … pgwarden:16` alone runs the image's CMD (serve).
    if (words.length > 0 || isPgwarden) found.push(words);
  });
  return found;
}

interface Token {
  word: string;
  /** `|`, `&&`, `;`, `>`, … */
  operator: boolean;
}

/** POSIX-ish shell words: quotes, backslashes, comments and control operators (redirections optional). */
export function shellWords(line: string, options: { redirections: boolean }): Token[] {
  const tokens: Token[] = [];
  const operators = options.redirections ? '|&;<>()' : '|&;';
  let word = '';
  let inWord = false;
  const flush = () => {
    if (inWord) tokens.push({ word, operator: false });
    word = '';
    inWord = false;
  };
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (char === "'") {
      const end = line.indexOf("'", i + 1);
      word += line.slice(i + 1, end === -1 ? line.length : end);
      inWord = true;
      i = end === -1 ? line.length : end;
    } else if (char === '"') {
      let j = i + 1;
      for (; j < line.length && line[j] !== '"'; j++) {
        if (line[j] === '\\' && j + 1 < line.length) j++;
        word += line[j];
      }
      inWord = true;
      i = j;
    } else if (char === '\\' && i + 1 < line.length) {
      word += line[++i];
      inWord = true;
    } else if (/\s/.test(char)) {
      flush();
    } else if (char === '#' && !inWord) {
      break;
    } else if (operators.includes(char)) {
      // `2>&1`: a descriptor number glued to a redirection belongs to it.
      if (/^\d+$/.test(word) && (char === '>' || char === '<')) {
        word = '';
        inWord = false;
      }
      flush();
      let op = char;
      while (i + 1 < line.length && operators.includes(line[i + 1]!)) op += line[++i];
      tokens.push({ word: op, operator: true });
      // The target of a redirection is not an argument of the command.
      if (/[<>]/.test(op) && !op.endsWith('&')) {
        while (i + 1 < line.length && /\s/.test(line[i + 1]!)) i++;
        while (i + 1 < line.length && !/\s/.test(line[i + 1]!)) i++;
      } else if (/[<>]&$/.test(op)) {
        while (i + 1 < line.length && /\d/.test(line[i + 1]!)) i++;
      }
    } else {
      word += char;
      inWord = true;
    }
  }
  flush();
  return tokens;
}

// --- the real CLI, read from its --help -------------------------------------------------------------

export interface OptionHelp {
  flags: string[];
  /** `<value>` after the flag: a value is required. */
  takesValue: boolean;
  /** `[value]`: the value may be left out. */
  optionalValue: boolean;
  choices: string[] | undefined;
}

export interface CommandHelp {
  path: string[];
  options: OptionHelp[];
  /** Subcommand names (without `help`). */
  commands: string[];
  /** From the usage line, in order. */
  args: { name: string; required: boolean; variadic: boolean; choices: string[] | undefined }[];
}

const helpCache = new Map<string, Promise<CommandHelp>>();

/** `pgwarden <path…> --help` through the real `main`, parsed. */
export function helpFor(path: readonly string[]): Promise<CommandHelp> {
  const key = path.join(' ');
  let help = helpCache.get(key);
  if (!help) {
    help = runHelp(path);
    helpCache.set(key, help);
  }
  return help;
}

async function runHelp(path: readonly string[]): Promise<CommandHelp> {
  let out = '';
  let err = '';
  const code = await main(['node', 'pgwarden', ...path, '--help'], { out: (text) => (out += text), err: (text) => (err += text) });
  if (code !== 0) throw new Error(`pgwarden ${path.join(' ')} --help exited ${code}: ${err}`);
  return parseHelp(out, path);
}

function parseHelp(text: string, path: readonly string[]): CommandHelp {
  const sections = new Map<string, { term: string; description: string }[]>();
  let current: { term: string; description: string }[] | undefined;
  let usage = '';
  for (const line of text.split('\n')) {
    if (line.startsWith('Usage: ')) usage = line.slice('Usage: '.length);
    const header = /^(\w+):$/.exec(line);
    if (header) {
      current = [];
      sections.set(header[1]!, current);
      continue;
    }
    if (!current || line.trim() === '') continue;
    const entry = /^ {2}(\S.*?)(?: {2,}(.*))?$/.exec(line);
    if (entry) current.push({ term: entry[1]!, description: entry[2] ?? '' });
    else if (current.length > 0) current.at(-1)!.description += ` ${line.trim()}`;
  }

  const options = (sections.get('Options') ?? []).map(({ term, description }): OptionHelp => {
    const value = /\s([<[])[^>\]]*[>\]]$/.exec(term);
    const flags = term
      .replace(/\s[<[].*$/, '')
      .split(/,\s*/)
      .map((flag) => flag.trim());
    return { flags, takesValue: value !== null, optionalValue: value?.[1] === '[', choices: choicesIn(description) };
  });
  const commands = (sections.get('Commands') ?? []).map(({ term }) => term.split(/\s+/)[0]!).filter((name) => name !== 'help');
  const argumentChoices = new Map((sections.get('Arguments') ?? []).map(({ term, description }) => [term, choicesIn(description)]));
  const usageWords = usage.split(/\s+/).slice(1 + path.length);
  const args = usageWords
    .filter((word) => word !== '[options]' && word !== '[command]')
    .map((word) => {
      const name = word.replace(/^[<[]|[>\]]$/g, '').replace(/\.\.\.$/, '');
      return { name, required: word.startsWith('<'), variadic: word.includes('...'), choices: argumentChoices.get(name) };
    });
  return { path: [...path], options, commands, args };
}

function choicesIn(description: string): string[] | undefined {
  const list = /choices: ((?:"[^"]*"(?:, )?)+)/.exec(description)?.[1];
  return list === undefined ? undefined : [...list.matchAll(/"([^"]*)"/g)].map((m) => m[1]!);
}

/** What is wrong with a documented command, as messages; empty when the CLI would accept its words. */
export async function commandProblems(command: DocCommand): Promise<string[]> {
  const problems: string[] = [];
  const root = await helpFor([]);
  const words = [...command.words];
  let help = root;
  const path: string[] = [];
  const optionOf = (flag: string) => help.options.find((o) => o.flags.includes(flag)) ?? root.options.find((o) => o.flags.includes(flag));
  const positionals: string[] = [];
  let onlyPositionals = false;

  for (let i = 0; i < words.length; i++) {
    const word = words[i]!;
    if (!onlyPositionals && word === '--') {
      onlyPositionals = true;
      continue;
    }
    if (!onlyPositionals && word.startsWith('-') && word !== '-') {
      // --opt=value, -j4
      const long = /^(--[^=]+)(?:=(.*))?$/.exec(word);
      const flag = long ? long[1]! : word.slice(0, 2);
      const inline = long ? long[2] : word.length > 2 ? word.slice(2) : undefined;
      const option = optionOf(flag);
      if (!option) {
        problems.push(`unknown option ${flag} for "pgwarden ${path.join(' ')}"`);
        continue;
      }
      if (!option.takesValue) {
        if (inline !== undefined) problems.push(`${flag} takes no value`);
        continue;
      }
      // commander takes the next word for a required value whatever it looks like; an optional one only if it is no option.
      const next = words[i + 1];
      const value = inline ?? (next !== undefined && (!option.optionalValue || !next.startsWith('-')) ? words[++i] : undefined);
      if (value === undefined) {
        if (!option.optionalValue) problems.push(`${flag} needs a value`);
        continue;
      }
      if (option.choices && !option.choices.includes(value)) problems.push(`${flag} ${value}: not one of ${option.choices.join(', ')}`);
      continue;
    }
    if (help.commands.length > 0 && positionals.length === 0) {
      if (!help.commands.includes(word)) {
        problems.push(`"pgwarden ${[...path, word].join(' ')}": no such command (${path.length > 0 ? `"pgwarden ${path.join(' ')}" has` : 'commands are'}: ${help.commands.join(', ')})`);
        return problems;
      }
      path.push(word);
      help = await helpFor(path);
      continue;
    }
    positionals.push(word);
  }

  if (help.commands.length > 0) {
    problems.push(`"pgwarden ${path.join(' ')}" needs a subcommand: ${help.commands.join(', ')}`);
    return problems;
  }
  help.args.forEach((arg, index) => {
    const value = positionals[index];
    if (value !== undefined && arg.choices && !arg.choices.includes(value)) problems.push(`<${arg.name}> ${value}: not one of ${arg.choices.join(', ')}`);
  });
  if (command.kind === 'block') {
    const required = help.args.filter((a) => a.required).length;
    const variadic = help.args.some((a) => a.variadic);
    if (positionals.length < required) problems.push(`"pgwarden ${path.join(' ')}" needs ${help.args.map((a) => a.name).join(', ')}: got ${positionals.length} argument(s)`);
    if (!variadic && positionals.length > help.args.length) problems.push(`"pgwarden ${path.join(' ')}" takes ${help.args.length} argument(s), got ${positionals.join(' ')}`);
  }
  return problems;
}

/** The docs directory's Markdown, with every command in it. */
export function docCommands(docsDir: string): DocCommand[] {
  return markdownFiles(docsDir).flatMap((name) => extractCommands(readFileSync(join(docsDir, name), 'utf8'), `docs/${name}`));
}
