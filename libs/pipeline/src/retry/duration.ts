const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/**
 * A duration such as `7d`, `12h`, `90m`, `45s`, `2w` or `1d12h`, in seconds. Anything else, zero
 * included, is refused with a message that shows the form.
 */
export function parseDuration(text: string, flag: string): number {
  const trimmed = text.trim();
  const form = `use whole numbers with units s, m, h, d or w, e.g. 7d, 12h, 30m or 1d12h`;
  if (!/^(\d+[smhdw])+$/.test(trimmed)) throw new Error(`${flag}: ${JSON.stringify(text)} is not a duration: ${form}`);
  let seconds = 0;
  for (const [, amount, unit] of trimmed.matchAll(/(\d+)([smhdw])/g)) seconds += Number(amount) * UNIT_SECONDS[unit!]!;
  if (seconds === 0) throw new Error(`${flag}: ${JSON.stringify(text)} is zero: give a duration of at least 1s (${form})`);
  if (!Number.isSafeInteger(seconds)) throw new Error(`${flag}: ${JSON.stringify(text)} is too long`);
  return seconds;
}
