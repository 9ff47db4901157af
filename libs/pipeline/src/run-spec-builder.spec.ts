import { describe, expect, it } from 'vitest';
import { buildRunSpec, specDifferences, type RunSpecInput } from './run-spec-builder';

const MODEL = { hash: 'ab'.repeat(32), variant: 'fp32' as const, checkpoint: 'x', embedDim: 2, textLength: 16, imageSize: { height: 1, width: 1 } };
const BASE: RunSpecInput = { runId: 'r2', source: 's3://bkt/out/r1/', output: 's3://bkt/out/', model: MODEL, labels: null };
const RETRY = { codes: ['decode_failed'], objectSource: 's3://bkt/src/', objectSourceKind: 's3' as const };

describe('buildRunSpec: retries', () => {
  it("freezes a retry's source kind, codes and object source", () => {
    const spec = buildRunSpec({ ...BASE, retryErrors: RETRY });
    expect(spec).toMatchObject({ source: 's3://bkt/out/r1/', sourceKind: 'errors', retryErrors: RETRY });
    expect(specDifferences(spec, buildRunSpec({ ...BASE, retryErrors: { ...RETRY, codes: null } }))).toEqual(['retryErrors']);
  });

  it('lets --write-s3-tags follow the objects of a retry, not the run folder it lists', () => {
    const labels = [{ label: 'cat', prompts: [], threshold: 0.1 }];
    expect(buildRunSpec({ ...BASE, labels, retryErrors: RETRY, writeS3Tags: true }).writeS3Tags).toBe(true);
    expect(() => buildRunSpec({ ...BASE, labels, retryErrors: { ...RETRY, objectSource: 'file:///data/img', objectSourceKind: 'file' }, writeS3Tags: true })).toThrow(
      /--write-s3-tags needs an S3 source .* file:\/\/\/data\/img is a file source/,
    );
  });

  it('refuses --retry-errors with --incremental, and --retry-errors-after without --incremental', () => {
    expect(() => buildRunSpec({ ...BASE, retryErrors: RETRY, incremental: true })).toThrow(/--retry-errors and --incremental cannot be combined/);
    expect(() => buildRunSpec({ ...BASE, source: 's3://bkt/src/', retryErrorsAfterSeconds: 60 })).toThrow(/--retry-errors-after applies to incremental runs only/);
    const incremental = buildRunSpec({ ...BASE, source: 's3://bkt/src/', incremental: true, retryErrorsAfterSeconds: 604_800 });
    expect(incremental).toMatchObject({ sourceKind: 's3', incremental: true, retryErrorsAfterSeconds: 604_800 });
    expect(specDifferences(incremental, buildRunSpec({ ...BASE, source: 's3://bkt/src/', incremental: true }))).toEqual(['retryErrorsAfterSeconds']);
  });
});
