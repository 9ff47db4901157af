import { Redis } from 'ioredis';
import { describe, expect, test } from '@siglip-batch/testing';
import type { RunSpec, ShardStats } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { RunRegistry } from './run-registry';

const spec: RunSpec = runSpecFixture();

function stats(shard: number, ok: number, error: number, codes: Record<string, number>): ShardStats {
  return {
    schemaVersion: 1,
    runId: 'r1',
    shard,
    planned: ok + error,
    ok,
    error,
    errorCodes: codes,
    part: null,
    errors: null,
    attempt: 1,
    worker: 'w',
    startedAt: '',
    finishedAt: '',
    timingsMs: {},
  };
}

describe('RunRegistry', () => {
  test('counts a shard once however often it is marked done', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    try {
      const registry = new RunRegistry(redis, queuePrefix);
      await registry.register(spec, 'siglip-abababababababab-fp32');
      expect(await registry.markShardDone(stats(3, 8, 2, { not_found: 2 }))).toBe(true);
      expect(await registry.markShardDone(stats(3, 8, 2, { not_found: 2 }))).toBe(false);
      expect(await registry.markShardDone(stats(4, 10, 0, {}))).toBe(true);
      const record = (await registry.get('r1'))!;
      expect(record).toMatchObject({ shardsDone: 2, objectsOk: 18, objectsError: 2, errorCodes: { not_found: 2 }, state: 'listing' });
      expect(record.spec).toEqual(spec);
      expect(await registry.isShardDone('r1', 3)).toBe(true);
      expect(await registry.isShardDone('r1', 5)).toBe(false);
      // The finaliser may run once planning is complete and every planned shard is done.
      expect(await registry.allShardsDone('r1')).toBe(false);
      await registry.setListing('r1', { shardsPlanned: 3, objectsPlanned: 30, complete: true });
      expect(await registry.allShardsDone('r1')).toBe(false);
      await registry.markShardDone(stats(5, 10, 0, {}));
      expect(await registry.allShardsDone('r1')).toBe(true);
      expect(await registry.allShardsDone('unknown')).toBe(false);
    } finally {
      redis.disconnect();
    }
  });

  test('counts S3 tag write-back once per shard, for runs that write tags', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    try {
      const registry = new RunRegistry(redis, queuePrefix);
      await registry.register({ ...spec, writeS3Tags: true }, 'q');
      const tagged = { ...stats(1, 5, 0, {}), s3Tags: { tagged: 3, full: 1, failed: 1 } };
      await registry.markShardDone(tagged);
      await registry.markShardDone(tagged);
      await registry.markShardDone({ ...stats(2, 2, 0, {}), s3Tags: { tagged: 2, full: 0, failed: 0 } });
      expect((await registry.get('r1'))!.s3Tags).toEqual({ tagged: 5, full: 1, failed: 1 });
      await registry.register(spec, 'q');
      expect((await registry.get('r1'))!.s3Tags).toBeNull();
    } finally {
      redis.disconnect();
    }
  });

  test('a shard that finally succeeds is no longer failed; records expire after the run ends', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    try {
      const registry = new RunRegistry(redis, queuePrefix);
      await registry.register(spec, 'q');
      await registry.markShardFailed('r1', 7, 'boom');
      expect((await registry.get('r1'))!.failedShards).toEqual({ 7: 'boom' });
      await registry.markShardDone(stats(7, 1, 0, {}));
      expect((await registry.get('r1'))!.failedShards).toEqual({});
      await registry.transition('r1', 'completed');
      await registry.expireAfterEnd('r1', 100);
      const ttl = await redis.ttl(`${queuePrefix}:siglip:run:r1`);
      expect(ttl).toBeGreaterThan(0);
      expect(ttl).toBeLessThanOrEqual(100);
      // Registering the run again (a resume) keeps it alive.
      await registry.register(spec, 'q');
      expect(await redis.ttl(`${queuePrefix}:siglip:run:r1`)).toBe(-1);
    } finally {
      redis.disconnect();
    }
  });
});
