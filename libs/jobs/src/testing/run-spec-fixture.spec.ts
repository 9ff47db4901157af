import { describe, expect, it } from 'vitest';
import { runSpecSchema } from '../run-spec';
import { runSpecFixture } from './run-spec-fixture';

describe('runSpecFixture', () => {
  it('is a valid run spec', () => {
    const spec = runSpecFixture();
    expect(runSpecSchema.parse(spec)).toEqual(spec);
  });

  it('replaces top-level fields and merges model and filters field by field', () => {
    const spec = runSpecFixture({ runId: 'r9', shardSize: 3, model: { embedDim: 2, checkpoint: 'fake' }, filters: { maxBytes: 1000 } });
    expect(spec.runId).toBe('r9');
    expect(spec.shardSize).toBe(3);
    expect(spec.model).toEqual({ hash: 'ab'.repeat(32), variant: 'fp32', checkpoint: 'fake', embedDim: 2, textLength: 16, imageSize: { height: 1, width: 1 } });
    expect(spec.filters).toEqual({ suffixes: [], maxBytes: 1000, maxPixels: 10 });
    expect(runSpecSchema.parse(spec)).toBeTruthy();
  });
});
