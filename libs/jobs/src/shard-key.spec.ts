import { describe, expect, it } from 'vitest';
import { finalizeJobId, padShard, parseShard, parseShardJobId, shardJobId } from './shard-key';
import { assertRunId, isRunId } from './run-id';

describe('run ids', () => {
  it.each(['a', '0', 'nightly-2026-11-28', 'run_1', 'a'.repeat(64)])('accepts %s', (id) => {
    expect(isRunId(id)).toBe(true);
  });
  it.each(['', '-a', '_a', 'A', 'a:b', 'a.b', 'a/b', 'a b', 'a'.repeat(65), 'ü'])('refuses %j', (id) => {
    expect(() => assertRunId(id)).toThrow(/invalid run id/);
  });
});

describe('shard keys', () => {
  it('pads shard numbers to 8 digits', () => {
    expect(padShard(0)).toBe('00000000');
    expect(padShard(42)).toBe('00000042');
    expect(padShard(99_999_999)).toBe('99999999');
    expect(parseShard('00000042')).toBe(42);
  });
  it.each([-1, 1.5, 100_000_000, Number.NaN])('refuses shard %d', (shard) => {
    expect(() => padShard(shard)).toThrow(RangeError);
  });
  it('derives job ids BullMQ accepts and that round-trip', () => {
    const id = shardJobId('nightly-1', 7);
    expect(id).toBe('shard.nightly-1.00000007');
    expect(id).not.toContain(':');
    expect(Number.isInteger(Number(id))).toBe(false);
    expect(parseShardJobId(id)).toEqual({ runId: 'nightly-1', shard: 7 });
    expect(parseShardJobId(finalizeJobId('nightly-1'))).toBeUndefined();
    expect(finalizeJobId('nightly-1')).toBe('finalize.nightly-1');
  });
  it('gives different runs and shards different ids', () => {
    const ids = new Set([shardJobId('a', 1), shardJobId('a', 2), shardJobId('a-1', 1), shardJobId('a_1', 1), finalizeJobId('a')]);
    expect(ids.size).toBe(5);
  });
});
