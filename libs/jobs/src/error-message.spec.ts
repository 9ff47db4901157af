import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { runSpecSchema } from './run-spec';
import { errorMessage } from './error-message';

describe('errorMessage', () => {
  it('turns a zod error into one line of path: message', () => {
    const result = z.object({ a: z.array(z.string().includes('{}')), b: z.number().positive() }).safeParse({ a: ['x', 'y {}'], b: -1 });
    expect(result.success).toBe(false);
    const line = errorMessage(result.error);
    expect(line).toBe('a.0: Invalid string: must include "{}"; b: Too small: expected number to be >0');
    expect(line).not.toContain('\n');
  });

  it('says what a template needs', () => {
    const result = runSpecSchema.shape.templates.safeParse(['a photo']);
    expect(errorMessage(result.error)).toMatch(/^0: a template must contain \{\} where the label goes/);
  });

  it('keeps other errors as their message', () => {
    expect(errorMessage(new RangeError('bad'))).toBe('bad');
    expect(errorMessage('text')).toBe('text');
  });
});
