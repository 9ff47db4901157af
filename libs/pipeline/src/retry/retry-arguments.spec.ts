import { describe, expect, it } from 'vitest';
import { ERROR_CODES } from '@siglip-batch/jobs';
import { parseDuration } from './duration';
import { parseErrorCodes } from './error-codes';

describe('parseErrorCodes (--codes)', () => {
  it('takes known codes, comma-separated, sorted and without repeats', () => {
    expect(parseErrorCodes(' not_found,decode_failed , not_found')).toEqual(['decode_failed', 'not_found']);
    expect(parseErrorCodes('preprocess_failed')).toEqual(['preprocess_failed']);
  });

  it('accepts every code a worker writes', () => {
    expect(parseErrorCodes(ERROR_CODES.join(','))).toEqual([...ERROR_CODES].sort());
  });

  it('refuses words that are not error codes, naming them and listing the codes', () => {
    expect(() => parseErrorCodes('decode_failed,decode_fail,bogus')).toThrow(
      /--codes: "bogus", "decode_fail" are not error codes; error codes are not_found, .*decode_failed/,
    );
    expect(() => parseErrorCodes('NOT_FOUND')).toThrow(/"NOT_FOUND" is not an error code/);
  });

  it('refuses an empty list', () => {
    expect(() => parseErrorCodes(' , ')).toThrow(/--codes needs at least one error code/);
  });
});

describe('parseDuration (--retry-errors-after)', () => {
  it('reads whole numbers with units, alone or combined', () => {
    expect(parseDuration('45s', '--x')).toBe(45);
    expect(parseDuration('30m', '--x')).toBe(1800);
    expect(parseDuration('12h', '--x')).toBe(43_200);
    expect(parseDuration('7d', '--x')).toBe(604_800);
    expect(parseDuration('2w', '--x')).toBe(1_209_600);
    expect(parseDuration('1d12h', '--x')).toBe(129_600);
  });

  it('refuses what is not a duration, naming the flag and showing the form', () => {
    for (const bad of ['7', 'd', '7x', '-1d', '1.5h', '7 d', '']) {
      expect(() => parseDuration(bad, '--retry-errors-after')).toThrow(/--retry-errors-after: .* is not a duration: use whole numbers with units/);
    }
  });

  it('refuses zero', () => {
    expect(() => parseDuration('0d', '--retry-errors-after')).toThrow(/is zero/);
  });
});
