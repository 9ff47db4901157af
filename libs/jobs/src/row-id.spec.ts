import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseRowId, ROW_ID_MAX_ROW, rowId, rowIdsOf, runTag, runTagsCollide } from './row-id';
import { MAX_SHARD } from './shard-key';
import { DEFAULT_SHARD_SIZE, runSpecSchema } from './run-spec';

describe('row ids', () => {
  it('packs the run tag, shard and plan position into a non-negative int64', () => {
    const tag = createHash('sha256').update('r1').digest().readUInt16BE(0);
    expect(runTag('r1')).toBe(tag);
    expect(rowId('r1', 3, 7)).toBe((BigInt(tag) << 47n) | (3n << 20n) | 7n);
    expect(parseRowId(rowId('r1', 3, 7))).toEqual({ runTag: tag, shard: 3, row: 7 });
  });

  it('covers the largest shard number and shard size the run spec allows', () => {
    const maxShardSize = runSpecSchema.shape.shardSize.maxValue!;
    expect(maxShardSize).toBeGreaterThanOrEqual(DEFAULT_SHARD_SIZE);
    expect(ROW_ID_MAX_ROW).toBeGreaterThanOrEqual(maxShardSize - 1);
    for (const run of ['a', 'r1', 'nightly-2026-12-06', 'z'.repeat(64)]) {
      const id = rowId(run, MAX_SHARD, maxShardSize - 1);
      expect(id).toBeGreaterThanOrEqual(0n);
      expect(id).toBeLessThanOrEqual(2n ** 63n - 1n);
      // Survives an int64 round trip (what Parquet, FAISS and numpy store).
      expect(BigInt.asIntN(64, id)).toBe(id);
      expect(parseRowId(id)).toEqual({ runTag: runTag(run), shard: MAX_SHARD, row: maxShardSize - 1 });
    }
  });

  it('gives distinct ids to distinct shards and positions of a run', () => {
    const seen = new Set<bigint>();
    for (const shard of [0, 1, 2, 1000, MAX_SHARD]) {
      for (const row of [0, 1, 999, ROW_ID_MAX_ROW]) seen.add(rowId('r1', shard, row));
    }
    expect(seen.size).toBe(5 * 4);
  });

  it('builds a shard column that agrees with rowId', () => {
    const ids = rowIdsOf('r1', 12, [0, 5, 2]);
    expect([...ids]).toEqual([rowId('r1', 12, 0), rowId('r1', 12, 5), rowId('r1', 12, 2)]);
  });

  it('reports runs whose tags collide', () => {
    expect(runTagsCollide('r1', 'r1')).toBe(false);
    // Find a colliding pair among generated names: the tag has 16 bits.
    const byTag = new Map<number, string>();
    let pair: [string, string] | undefined;
    for (let i = 0; !pair; i++) {
      const run = `run-${i}`;
      const other = byTag.get(runTag(run));
      if (other) pair = [other, run];
      else byTag.set(runTag(run), run);
    }
    expect(runTagsCollide(...pair)).toBe(true);
    expect(runTagsCollide('r1', 'r2')).toBe(runTag('r1') === runTag('r2'));
  });

  it('refuses what does not fit', () => {
    expect(() => rowId('r1', -1, 0)).toThrow(/shard must be an integer/);
    expect(() => rowId('r1', MAX_SHARD + 1, 0)).toThrow(/shard must be an integer/);
    expect(() => rowId('r1', 0, ROW_ID_MAX_ROW + 1)).toThrow(/position in the shard/);
    expect(() => rowId('r1', 0, 1.5)).toThrow(/position in the shard/);
    expect(() => rowId('R1', 0, 0)).toThrow(/invalid run id/);
    expect(() => parseRowId(-1n)).toThrow(/non-negative int64/);
    expect(() => parseRowId(2n ** 63n)).toThrow(/non-negative int64/);
    expect(() => parseRowId('abc')).toThrow(/not a row id/);
    expect(() => parseRowId((134_217_727n << 20n) | 0n)).toThrow(/beyond/);
  });
});
