import { InvalidArgumentError } from 'commander';
import { parsePositiveInteger } from '@siglip-batch/io';
import { assertRunId } from '@siglip-batch/jobs';
import { MAX_PIXELS_CEILING } from '@siglip-batch/model';

/** Commander argument parsers with messages that name the flag. */
export function positiveInt(flag: string) {
  return (value: string): number => {
    try {
      return parsePositiveInteger(flag, value);
    } catch (error) {
      throw new InvalidArgumentError((error as Error).message);
    }
  };
}

/**
 * A pixel limit (`--max-pixels`): a positive integer up to one gigapixel. More would let one
 * image cost gigabytes of memory in every worker that takes it, so it is refused here, and
 * each worker also keeps its own ceiling (`siglip-batch worker --max-pixels`).
 */
export function pixelLimit(flag: string) {
  return (value: string): number => {
    const n = positiveInt(flag)(value);
    if (n > MAX_PIXELS_CEILING) {
      throw new InvalidArgumentError(`${flag} must be at most ${MAX_PIXELS_CEILING} (one gigapixel: 3 GB of decoded pixels per image), got ${JSON.stringify(value)}`);
    }
    return n;
  };
}

export function nonNegativeInt(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a non-negative integer, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** Repeatable option: each occurrence is appended. */
export function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** A number of seconds, 0 included (0 usually means "off"). */
export function nonNegativeSeconds(flag: string) {
  return (value: string): number => {
    const n = Number(value);
    if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new InvalidArgumentError(`${flag} must be a non-negative number of seconds, got ${JSON.stringify(value)}`);
    return n;
  };
}

/** A run id argument (`status <run>`, `cancel <run>`): a malformed one is a usage error. */
export function runIdArgument(value: string): string {
  try {
    assertRunId(value);
  } catch (error) {
    throw new InvalidArgumentError((error as Error).message);
  }
  return value;
}
