import { describe, expect, it } from 'vitest';
import { buildRunSpec } from './run-spec-builder';
import { sourceScopeOf } from './source-access';
import { sourceKindOf } from './source-kind';

const MANIFEST = 's3://inventories/reports/photos/daily/2026-12-06T01-00Z/manifest.json';
const MODEL = { hash: 'ab'.repeat(32), variant: 'fp32' as const, checkpoint: 'x', embedDim: 2, textLength: 16, imageSize: { height: 1, width: 1 } };

describe('S3 Inventory sources', () => {
  it('are told by their manifest.json, other sources as before', () => {
    expect(sourceKindOf(MANIFEST)).toBe('s3-inventory');
    expect(sourceKindOf('file:///data/inv/photos/daily/2026-12-06T01-00Z/manifest.json')).toBe('s3-inventory');
    expect(sourceKindOf('s3://b/lists/manifest.parquet')).toBe('manifest-parquet');
    expect(sourceKindOf('s3://b/lists/uris.txt')).toBe('manifest-text');
    expect(sourceKindOf('s3://b/photos/')).toBe('s3');
    expect(sourceKindOf('s3://b/photos/my-manifest.json.jpg')).toBe('s3');
  });

  it('freeze the kind in the spec; workers may read the source bucket the report lies under', () => {
    const spec = buildRunSpec({ runId: 'r1', source: MANIFEST, output: 's3://out/', model: MODEL, labels: [{ label: 'cat', prompts: [], threshold: 0.1 }], incremental: true, writeS3Tags: true });
    expect(spec).toMatchObject({ sourceKind: 's3-inventory', source: MANIFEST, incremental: true, writeS3Tags: true });
    expect(sourceScopeOf(spec).uri).toBe('s3://photos/');
    expect(() => sourceScopeOf({ ...spec, source: 's3://inventories/manifest.json' })).toThrow(/not where S3 delivers an inventory manifest/);
  });
});
