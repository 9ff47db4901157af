/**
 * For specs only (`@siglip-batch/jobs/testing`): a valid run spec with small defaults, so that a
 * spec names only what its test is about. `model` and `filters` are merged field by field.
 */
import type { RunSpec } from '../run-spec';

export type RunSpecOverrides = Partial<Omit<RunSpec, 'model' | 'filters'>> & {
  model?: Partial<RunSpec['model']>;
  filters?: Partial<RunSpec['filters']>;
};

/**
 * A run `r1` of a fake fp32 model (embedding width 4) from `s3://b/src/` to `s3://b/out/`, shards
 * of 10, no labels, template `{}`, objects up to 10 bytes and 10 pixels, created now.
 */
export function runSpecFixture(overrides: RunSpecOverrides = {}): RunSpec {
  const { model, filters, ...rest } = overrides;
  return {
    schemaVersion: 1,
    runId: 'r1',
    source: 's3://b/src/',
    sourceKind: 's3',
    output: 's3://b/out/',
    model: { hash: 'ab'.repeat(32), variant: 'fp32', checkpoint: 'x', embedDim: 4, textLength: 16, imageSize: { height: 1, width: 1 }, ...model },
    labels: null,
    templates: ['{}'],
    shardSize: 10,
    priority: 0,
    filters: { suffixes: [], maxBytes: 10, maxPixels: 10, ...filters },
    createdAt: new Date().toISOString(),
    ...rest,
  };
}
