/**
 * The one positive-integer parser of the command lines and environment variables (flags of both
 * apps, `AWS_MAX_ATTEMPTS`, …), so that every such value is refused with the same message, naming
 * where it came from.
 */
export function parsePositiveInteger(name: string, text: string): number {
  const n = Number(text);
  if (text.trim() === '' || !Number.isInteger(n) || n <= 0) throw new RangeError(`${name} must be a positive integer, got ${JSON.stringify(text)}`);
  return n;
}
