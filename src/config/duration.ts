// Durations written the way operators say them: "4h", "30m", "90s", "1h30m", "500ms", "7d".

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 } as const;
const DURATION = /^(?:[0-9]+(?:ms|s|m|h|d))+$/;
const PART = /([0-9]+)(ms|s|m|h|d)/g;

/** The duration in milliseconds, or undefined when `text` is not a positive duration. */
export function parseDuration(text: string): number | undefined {
  if (!DURATION.test(text)) return undefined;
  let total = 0;
  for (const [, amount, unit] of text.matchAll(PART)) {
    total += Number(amount) * UNIT_MS[unit as keyof typeof UNIT_MS];
  }
  return total > 0 && Number.isSafeInteger(total) ? total : undefined;
}
