// Checks cron expressions when the config loads, so a bad schedule is a config error at start rather
// than a job that silently never runs (DESIGN.md: "nobody notices a run that never happened").

interface CronField {
  name: string;
  min: number;
  max: number;
  names?: readonly string[];
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

const FIVE_FIELDS: readonly CronField[] = [
  { name: 'minute', min: 0, max: 59 },
  { name: 'hour', min: 0, max: 23 },
  { name: 'day of month', min: 1, max: 31 },
  { name: 'month', min: 1, max: 12, names: MONTHS },
  // 7 is Sunday too, as in node-cron and most crons.
  { name: 'day of week', min: 0, max: 7, names: DAYS },
];
const SECONDS: CronField = { name: 'second', min: 0, max: 59 };

const TERM = /^(\*|[0-9]+|[A-Za-z]{3})(?:-([0-9]+|[A-Za-z]{3}))?(?:\/([0-9]+))?$/;

/** Why `expression` is not a valid 5- or 6-field cron expression, or undefined when it is. */
export function cronProblem(expression: string): string | undefined {
  const parts = expression.trim().split(/\s+/);
  if (parts.length !== 5 && parts.length !== 6) return `expected 5 or 6 fields, got ${parts.length}`;
  const fields = parts.length === 6 ? [SECONDS, ...FIVE_FIELDS] : FIVE_FIELDS;
  for (const [index, part] of parts.entries()) {
    const problem = fieldProblem(part, fields[index]!);
    if (problem !== undefined) return problem;
  }
  return undefined;
}

function fieldProblem(part: string, field: CronField): string | undefined {
  for (const term of part.split(',')) {
    const match = TERM.exec(term);
    if (match === null) return `${field.name} field "${part}" is not made of numbers, names, "*", "/", "," and "-"`;
    const [, start, end, step] = match;
    if (start === '*' && end !== undefined) return `${field.name} field "${part}" has a range starting at "*"`;
    for (const bound of [start, end]) {
      if (bound === undefined || bound === '*') continue;
      const value = fieldValue(bound, field);
      if (value === undefined) return `${field.name} field "${part}": "${bound}" is not a valid ${field.name}`;
      if (value < field.min || value > field.max) {
        return `${field.name} field "${part}": ${bound} is outside ${field.min}-${field.max}`;
      }
    }
    if (step !== undefined && Number(step) === 0) return `${field.name} field "${part}" has a step of 0`;
  }
  return undefined;
}

function fieldValue(token: string, field: CronField): number | undefined {
  if (/^[0-9]+$/.test(token)) return Number(token);
  const index = field.names?.indexOf(token.toUpperCase()) ?? -1;
  if (index < 0) return undefined;
  // Month names count from 1 (JAN = 1), day names from 0 (SUN = 0).
  return field.min === 1 ? index + 1 : index;
}
