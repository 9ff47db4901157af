import { describe, expect, it } from 'vitest';
import { parsePositiveInteger } from './positive-integer';

describe('parsePositiveInteger', () => {
  it('takes positive integers', () => {
    expect(parsePositiveInteger('--batch-size', '32')).toBe(32);
    expect(parsePositiveInteger('--batch-size', '1e3')).toBe(1000);
  });

  it.each(['0', '-1', '1.5', 'ten', '', ' '])('refuses %j, naming the flag', (text) => {
    expect(() => parsePositiveInteger('--batch-size', text)).toThrow(`--batch-size must be a positive integer, got ${JSON.stringify(text)}`);
  });
});
