/**
 * Fault suite, scenario 4 (issue 6): Redis restarted in the middle of a run, on a private
 * `redis-server` with append-only persistence (the production setting). With its data kept,
 * the producer (held by backpressure) and the workers reconnect and the run completes. With
 * everything lost, `enqueue --resume` rebuilds the run from the store (plans, stats) and it
 * completes with the same rows.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkRun, scenario, type RunCheck } from './support/fault-checks';
import { FAST_WORKER, createFaultWorld, until, type FaultWorld } from './support/fault-run';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis';

let redis: PrivateRedis;
let world: FaultWorld;
let uris: string[];
let first: RunCheck;
// Slow batches (a real block of the inference thread) so that the run outlasts the restart.
const SLOW = { SIGLIP_BATCH_TEST_INFER_DELAY_MS: '150' };

beforeAll(async () => {
  redis = await startPrivateRedis({ appendonly: true });
  world = await createFaultWorld({ redisUrl: redis.url });
  uris = await world.upload(160);
  await world.worker(FAST_WORKER, SLOW);
  await world.worker(FAST_WORKER, SLOW);
});

afterAll(async () => {
  await world?.close();
  await redis?.stop();
});

describe('fault: Redis restarts', () => {
  it('4: Redis restarted mid-run with AOF: producer and workers reconnect; the run completes', async () => {
    await scenario('4 Redis restart mid-run (AOF kept)', async () => {
      // At most two shards waiting: the producer is still listing when Redis goes away.
      const producer = world.enqueue('aof', ['--shard-size', '10', '--max-waiting', '2']);
      await until(async () => ((await world.registry.get('aof'))?.shardsDone ?? 0) >= 3, 120_000, '3 shards done');
      await redis.restart({ keepData: true });
      const enqueued = await producer;
      expect(enqueued.code, enqueued.stderr).toBe(0);
      expect(await world.waitEnd('aof')).toBe('completed');
      // Two workers of batch 8: the batch each was counting when Redis went away may count twice.
      first = await world.check('aof', uris, { inferredSlack: 2 * 8 });
      expect(first.problems, first.problems.join('; ')).toEqual([]);
      return first;
    });
  });

  it('4: Redis restarted with all data lost: enqueue --resume rebuilds the run from the store; same rows', async () => {
    await scenario('4 Redis data lost, enqueue --resume', async () => {
      const enqueued = await world.enqueue('lost', ['--shard-size', '10']);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      await until(async () => ((await world.registry.get('lost'))?.shardsDone ?? 0) >= 3, 120_000, '3 shards done');
      expect((await world.registry.get('lost'))!.state).not.toBe('completed');
      await redis.restart({ keepData: false });
      expect(await world.registry.get('lost')).toBeUndefined();
      const resumed = await world.enqueue('lost', ['--resume', 'lost', '--out', `s3://${world.bucket}/out/`]);
      expect(resumed.code, resumed.stderr).toBe(0);
      const summary = JSON.parse(resumed.stdout) as { shardsAlreadyDone: number; shardsEnqueued: number; shardsPlanned: number };
      expect(summary.shardsPlanned).toBe(16);
      expect(summary.shardsAlreadyDone).toBeGreaterThanOrEqual(3);
      expect(await world.waitEnd('lost')).toBe('completed');
      // The counter restarted with Redis: no amplification bound is checkable across the loss.
      const check = await checkRun({ s3: world.s3, bucket: world.bucket, runPrefix: 'out/lost/', expectedUris: uris });
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      expect(check.fingerprints).toEqual(first.fingerprints);
      return check;
    });
  });
});
