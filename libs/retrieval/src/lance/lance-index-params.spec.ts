import { describe, expect, it } from 'vitest';
import { sqlString } from './lance-build';
import { ANN_MIN_ROWS, chooseIndexType, indexParams } from './lance-index-params';

describe('lance index parameters', () => {
  it('scans small tables exactly and gives larger ones IVF_PQ', () => {
    expect(chooseIndexType(0)).toBe('none');
    expect(chooseIndexType(ANN_MIN_ROWS - 1)).toBe('none');
    expect(chooseIndexType(ANN_MIN_ROWS)).toBe('ivf_pq');
    expect(chooseIndexType(1_000_000)).toBe('ivf_pq');
  });

  it('sizes IVF_PQ by rows and width: a partition per 4,096 rows, a byte per 8 dimensions', () => {
    const params = indexParams('ivf_pq', 1_000_000, 1152);
    expect(params).toMatchObject({ type: 'ivf_pq', distance: 'cosine', numPartitions: 244, numSubVectors: 144, numBits: 8 });
    expect(params.search.nprobes).toBeGreaterThanOrEqual(20);
    expect(params.search.nprobes).toBeLessThanOrEqual(244);
    // A small table is probed more widely, never beyond its partitions.
    const small = indexParams('ivf_pq', 20_000, 1152);
    expect(small.search.nprobes).toBeLessThanOrEqual(small.numPartitions!);
    expect(params.search.refineFactor).toBeGreaterThan(1);
    // A width with no divisor near dim/8 still divides evenly.
    const odd = indexParams('ivf_pq', 50_000, 771);
    expect(771 % odd.numSubVectors!).toBe(0);
    expect(indexParams('ivf_pq', 100_000_000, 768).numPartitions).toBe(4096);
  });

  it('records no ANN parameters for an exact table', () => {
    expect(indexParams('none', 10, 32)).toEqual({ type: 'none', distance: 'cosine', search: {} });
  });

  it('quotes SQL strings by doubling single quotes', () => {
    expect(sqlString("s3://b/it's.png")).toBe("'s3://b/it''s.png'");
  });
});
