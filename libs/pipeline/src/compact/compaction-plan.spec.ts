import { describe, expect, it } from 'vitest';
import { planCompaction } from './compaction-plan';

const files = (kind: string, rows: number[]) => rows.map((n, shard) => ({ shard, key: `${kind}-${String(shard).padStart(8, '0')}.parquet`, rows: n }));

describe('planCompaction', async () => {
  it('groups files in order until a group reaches the target, never splitting one', async () => {
    const plan = await planCompaction({ parts: files('part', [1, 5, 5, 5, 5, 5, 5, 5, 5, 5, 2]), errors: files('errors', [4]) }, 20);
    expect(plan.merges.map((m) => [m.kind, m.sources.length, m.rows])).toEqual([
      ['part', 5, 21],
      ['part', 4, 20],
      ['part', 2, 7],
    ]);
    expect(plan.parts.map((p) => [p.shard, p.rows])).toEqual([
      [0, 21],
      [5, 20],
      [9, 7],
    ]);
    // A lone errors file stays as it is.
    expect(plan.errors).toEqual(files('errors', [4]));
    expect(plan.parts.every((p) => p.key.startsWith(`parts/part-c${plan.token}-`))).toBe(true);
  });

  it('is deterministic, and a compacted manifest has nothing left to merge with the same target', async () => {
    const manifest = { parts: files('part', [3, 3, 3, 3, 3, 3, 3]), errors: files('errors', [1, 2, 1]) };
    const plan = await planCompaction(manifest, 6);
    expect(await planCompaction(manifest, 6)).toEqual(plan);
    expect((await planCompaction(manifest, 7)).token).not.toBe(plan.token);
    const again = await planCompaction({ parts: plan.parts, errors: plan.errors }, 6);
    expect(again.merges).toEqual([]);
    expect(again.parts).toEqual(plan.parts);
  });

  it('folds empty files into the group they sit in', async () => {
    const plan = await planCompaction({ parts: files('part', [0, 2, 0, 2]), errors: [] }, 10);
    expect(plan.parts[0]).toMatchObject({ shard: 0, rows: 0 });
    expect(plan.merges).toHaveLength(1);
    expect(plan.merges[0]!.sources.map((s) => s.shard)).toEqual([1, 2, 3]);
  });
});
