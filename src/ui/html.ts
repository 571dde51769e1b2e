// A minimal HTML templating: the `html` tag escapes every interpolated value unless it is already Html
// (another template's output), so a page cannot forget to escape a database name, an error or a label.
const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text that is already safe HTML: only `html` templates (and `raw`, for constants) make one. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

export type Interpolation = Html | string | number | boolean | null | undefined | readonly Interpolation[];

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"']/g, (c) => ESCAPES[c]!);
}

function render(value: Interpolation): string {
  if (value === null || value === undefined || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** `html\`<td>${name}</td>\``: every value escaped (attribute-safe, quotes included); arrays are joined. */
export function html(strings: TemplateStringsArray, ...values: Interpolation[]): Html {
  let out = strings[0]!;
  for (let i = 0; i < values.length; i++) out += render(values[i]!) + strings[i + 1]!;
  return new Html(out);
}

/** A constant the code itself wrote (never data). */
export function raw(text: string): Html {
  return new Html(text);
}

/**
 * JSON for a `<script type="application/json">` block: `<`, `>` and `&` are escaped as \u003c…, so no value can
 * close the script element, and U+2028/2029 cannot break a parser.
 */
export function jsonScript(value: unknown): Html {
  const text = JSON.stringify(value).replace(/[<>&\u2028\u2029]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
  return new Html(text);
}
