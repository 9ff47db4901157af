import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { describe, expect, test } from '@siglip-batch/testing';
import { LocalObjectStore } from '@siglip-batch/io';
import { openRunFolder } from '@siglip-batch/run-format';
import { runFailedKey, runRecentFailuresKey, runRecordKey, type RunSpec, type ShardStats } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { RECENT_FAILURES_KEPT, failedShardsOf, shardFailureCode } from './failed-shards';
import { FAILED_SHARDS_NAMED, finalizeRun } from './run-finalizer';
import { planRun } from './run-planner';
import { RunRegistry } from './run-registry';

function specOf(runId: string, source = 's3://b/src/', output = 's3://b/out/'): RunSpec {
  return runSpecFixture({ runId, source, sourceKind: source.startsWith('file:') ? 'file' : 's3', output, shardSize: 1 });
}

function doneStats(runId: string, shard: number): ShardStats {
  return { schemaVersion: 1, runId, shard, planned: 1, ok: 1, error: 0, errorCodes: {}, part: null, errors: null, attempt: 2, worker: 'w', startedAt: '', finishedAt: '', timingsMs: {} };
}

/** A reason as long as the record keeps (2,000 characters). */
const longReason = (shard: number) => `inference failed: shard ${shard} ${'x'.repeat(2000)}`;

describe('failed shards', () => {
  test('a failure code comes from the error the worker saw', () => {
    expect(shardFailureCode({ name: 'UnrecoverableError', message: 'inference failed: Gemm node (broken model)' })).toBe('inference');
    expect(shardFailureCode({ name: 'UnrecoverableError', message: 'shard 3 of run r has no plan in s3://b/out/r/' })).toBe('no-plan');
    expect(shardFailureCode({ name: 'UnrecoverableError', message: 'run r needs model x (ab, fp32); this process serves y (cd, fp32)' })).toBe('model-mismatch');
    expect(shardFailureCode({ name: 'UnrecoverableError', message: 'no AWS region for S3: set AWS_REGION' })).toBe('s3-config');
    expect(shardFailureCode({ name: 'Error', message: 'job stalled more than allowable limit' })).toBe('stalled');
    expect(shardFailureCode({ name: 'UnrecoverableError', message: 'something else' })).toBe('permanent');
    expect(shardFailureCode({ name: 'TransientShardError', message: 'SlowDown' })).toBe('retries-exhausted');
  });

  test('200 concurrent failures: exact counts, 20 reasons kept, the reasons do not grow past the cap', async ({ redisUrl, queuePrefix }) => {
    const connections = Array.from({ length: 4 }, () => new Redis(redisUrl));
    try {
      const registries = connections.map((redis) => new RunRegistry(redis, queuePrefix));
      const registry = registries[0]!;
      await registry.register(specOf('many'), 'q');
      const fail = (shards: number[]) =>
        Promise.all(shards.map((shard, i) => registries[i % registries.length]!.markShardFailed('many', shard, longReason(shard), shard % 5 === 0 ? 'stalled' : 'inference')));
      await fail(Array.from({ length: RECENT_FAILURES_KEPT }, (_, i) => i));
      const recentKey = runRecentFailuresKey(queuePrefix, 'many');
      const memoryAtCap = Number(await connections[0]!.call('MEMORY', 'USAGE', recentKey));
      await fail(Array.from({ length: 200 - RECENT_FAILURES_KEPT }, (_, i) => i + RECENT_FAILURES_KEPT));
      // The same shards failing again (a duplicate delivery) count once.
      const again = await fail([3, 150, 199]);
      expect(again).toEqual([false, false, false]);

      const record = (await registry.get('many'))!;
      expect(record.shardsFailed).toBe(200);
      expect(record.failedCodes).toEqual({ stalled: 40, inference: 160 });
      expect(record.recentFailures).toHaveLength(RECENT_FAILURES_KEPT);
      expect(Object.keys(record.failedShards).length).toBeLessThanOrEqual(RECENT_FAILURES_KEPT);
      expect(record.recentFailures[0]!.reason).toHaveLength(2000);
      expect(await connections[0]!.llen(recentKey)).toBe(RECENT_FAILURES_KEPT);
      // Ten times the failures, the same memory for the reasons (±5 %).
      const memoryAfter = Number(await connections[0]!.call('MEMORY', 'USAGE', recentKey));
      expect(memoryAfter).toBeLessThanOrEqual(memoryAtCap * 1.05);
      // Per shard 4 bits, no reason: 200 shards fit in 100 bytes.
      expect(await connections[0]!.hstrlen(runFailedKey(queuePrefix, 'many'), '0')).toBe(100);
      expect(await connections[0]!.hlen(runRecordKey(queuePrefix, 'many'))).toBeLessThan(20);
      expect(await registry.isShardFailed('many', 199)).toBe(true);
      expect(await registry.isShardFailed('many', 200)).toBe(false);
    } finally {
      for (const redis of connections) redis.disconnect();
    }
  });

  test('a shard that succeeds after failing, or is tried again, leaves the failed set; a done shard is never failed', async ({ redisUrl, queuePrefix }) => {
    const connections = Array.from({ length: 3 }, () => new Redis(redisUrl));
    try {
      const registries = connections.map((redis) => new RunRegistry(redis, queuePrefix));
      const registry = registries[0]!;
      await registry.register(specOf('retry'), 'q');
      await Promise.all(Array.from({ length: 60 }, (_, shard) => registries[shard % 3]!.markShardFailed('retry', shard, `boom ${shard}`, shard < 30 ? 'inference' : 'permanent')));
      // Concurrently: 20 succeed on a retry, 10 are revived by a resume, 5 of those succeed too (counted once).
      await Promise.all([
        ...Array.from({ length: 20 }, (_, i) => registries[i % 3]!.markShardDone(doneStats('retry', 40 + i))),
        ...Array.from({ length: 10 }, (_, i) => registries[(i + 1) % 3]!.clearShardFailed('retry', i)),
        ...Array.from({ length: 5 }, (_, i) => registries[(i + 2) % 3]!.markShardDone(doneStats('retry', i))),
      ]);
      const record = (await registry.get('retry'))!;
      expect(record.shardsFailed).toBe(30);
      expect(record.failedCodes).toEqual({ inference: 20, permanent: 10 });
      expect(record.shardsDone).toBe(25);
      expect(await registry.isShardFailed('retry', 45)).toBe(false);
      expect(await registry.isShardFailed('retry', 3)).toBe(false);
      expect(await registry.isShardFailed('retry', 35)).toBe(true);
      // The reasons kept name only shards that are still failed.
      expect(record.recentFailures.map((f) => f.shard).filter((shard) => shard < 10 || shard >= 40)).toEqual([]);
      for (const failure of record.recentFailures) expect(record.failedShards[failure.shard]).toBe(`boom ${failure.shard}`);
      // (Which 20 reasons were last depends on the interleaving: all of them may have been cleared.)
      // New failures are listed, newest first, with their reasons.
      for (const shard of [60, 61, 62]) expect(await registry.markShardFailed('retry', shard, `boom ${shard}`, 'inference')).toBe(true);
      const after = (await registry.get('retry'))!;
      expect(after.shardsFailed).toBe(33);
      expect(after.recentFailures.slice(0, 3).map((f) => f.shard)).toEqual([62, 61, 60]);
      for (const failure of after.recentFailures) expect(after.failedShards[failure.shard]).toBe(`boom ${failure.shard}`);
      // A late failure of a shard that is done (a duplicate delivery) leaves it done.
      expect(await registry.markShardFailed('retry', 45, 'late')).toBe(false);
      expect((await registry.get('retry', { reasons: false }))!).toMatchObject({ shardsFailed: 33, recentFailures: [] });
    } finally {
      for (const redis of connections) redis.disconnect();
    }
  });

  test('a failed run names a bounded number of failed shards and counts them all', async ({ redisUrl, queuePrefix }) => {
    const dir = mkdtempSync(join(tmpdir(), 'failed-shards-'));
    const redis = new Redis(redisUrl);
    try {
      mkdirSync(join(dir, 'src'));
      for (let i = 0; i < 40; i++) writeFileSync(join(dir, 'src', `${String(i).padStart(3, '0')}.jpg`), `image ${i}`);
      const spec = specOf('fin', `file://${dir}/src`, `file://${dir}/out`);
      const folder = openRunFolder({ output: { store: new LocalObjectStore(join(dir, 'out')), prefix: '' }, runId: 'fin' });
      await planRun({ folder, spec, onShard: async () => undefined });
      const registry = new RunRegistry(redis, queuePrefix);
      await registry.register(spec, 'q');
      // 30 of the 40 shards failed; none has stats.
      for (let shard = 10; shard < 40; shard++) await registry.markShardFailed('fin', shard, `reason ${shard}`, 'inference');
      const record = (await registry.get('fin'))!;
      const outcome = await finalizeRun({
        folder,
        spec,
        updateIndex: false,
        failedShards: { isFailed: (shard) => registry.isShardFailed('fin', shard), reasonOf: (shard) => record.failedShards[shard], count: record.shardsFailed },
      });
      expect(outcome.state).toBe('failed');
      if (outcome.state !== 'failed') return;
      expect(outcome.failedCount).toBe(30);
      expect(outcome.failed.map((f) => f.shard)).toEqual(Array.from({ length: FAILED_SHARDS_NAMED }, (_, i) => 10 + i));
      // Shards 10..19 failed first: their reasons are no longer among the last 20 kept.
      expect(outcome.failed[0]!.reason).toMatch(/no longer among the last kept/);
      // Without a known total every missing shard is asked, and still only a few are named.
      const counted = await finalizeRun({ folder, spec, updateIndex: false, failedShards: failedShardsOf(new Map([[3, 'a'], [5, 'b'], [39, 'c']])) });
      expect(counted).toEqual({ state: 'failed', failed: [{ shard: 3, reason: 'a' }, { shard: 5, reason: 'b' }, { shard: 39, reason: 'c' }], failedCount: 3 });
    } finally {
      redis.disconnect();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
