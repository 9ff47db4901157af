/**
 * Fault suite, scenarios 2, 7 and 9 (issue 6): a batch longer than twice the lock duration
 * (no stall, one execution), the same run enqueued twice at once (one plan, no double work),
 * an object deleted between listing and fetch (a `not_found` row), and a model that loads but
 * whose inference fails (the shard is unrecoverable; the run ends `failed`, naming it).
 */
import { DeleteObjectCommand } from '@aws-sdk/client-s3';
import { QueueEvents } from 'bullmq';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listKeys, scenario } from './support/fault-checks';
import { FAST_WORKER, createFaultWorld, type FaultWorld } from './support/fault-run';
import { TINY_MODEL } from './support/cli';

let world: FaultWorld;
beforeEach(async () => {
  world = await createFaultWorld();
});
afterEach(async () => {
  await world?.close();
});

describe('fault: runs', () => {
  it('2: a batch longer than twice the lock duration: no stall, one execution', async () => {
    await scenario('2 batch > 2x lock duration', async () => {
      const uris = await world.upload(24);
      const lockMs = 2000;
      // The inference thread blocks 4.5 s per batch (> 2 × 2 s) while the main thread renews the lock.
      const args = ['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8', '--concurrency', '1', '--lock-duration', String(lockMs)];
      const slow = { SIGLIP_BATCH_TEST_INFER_DELAY_MS: '4500' };
      const queue = await world.queue();
      const events = new QueueEvents(queue.name, { connection: world.redis.duplicate(), prefix: world.prefix });
      const stalled: string[] = [];
      events.on('stalled', ({ jobId }) => stalled.push(jobId));
      try {
        await events.waitUntilReady();
        await world.worker(args, slow);
        await world.worker(args, slow);
        const enqueued = await world.enqueue('long-batch', ['--shard-size', '8']);
        expect(enqueued.code, enqueued.stderr).toBe(0);
        expect(await world.waitEnd('long-batch')).toBe('completed');
      } finally {
        await events.close();
      }
      const check = await world.check('long-batch', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      expect(stalled).toEqual([]);
      expect(check.stats.map((s) => s.attempt)).toEqual([1, 1, 1]);
      expect(check.inferred).toBe(check.planned);
      for (const worker of world.workers) expect(worker.log()).not.toMatch(/stalled/i);
      return check;
    });
  });

  it('7: the same run enqueued twice at the same time: one plan, no double work', async () => {
    await scenario('7 same run enqueued twice at once', async () => {
      const uris = await world.upload(60);
      await world.worker();
      await world.worker();
      const [a, b] = await Promise.all([world.enqueue('twice', ['--shard-size', '10']), world.enqueue('twice', ['--shard-size', '10'])]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      expect(await world.waitEnd('twice')).toBe('completed');
      const plans = (await listKeys(world.s3, world.bucket, 'out/twice/_plan/')).filter((key) => /\d{8}\.json$/.test(key));
      expect(plans.length).toBe(6);
      const check = await world.check('twice', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      expect(check.inferred).toBeLessThanOrEqual(check.ok + check.retriedObjects);
      return check;
    });
  });

  it('9: an object deleted between listing and fetch becomes a not_found row', async () => {
    await scenario('9 object deleted after listing', async () => {
      const uris = await world.upload(30);
      const enqueued = await world.enqueue('deleted', ['--shard-size', '10']);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      const gone = [uris[3]!, uris[14]!, uris[29]!];
      for (const uri of gone) await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: uri.slice(`s3://${world.bucket}/`.length) }));
      await world.worker();
      expect(await world.waitEnd('deleted')).toBe('completed');
      const check = await world.check('deleted', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      expect(Object.fromEntries(check.errorCodes)).toEqual(Object.fromEntries(gone.map((uri) => [uri, 'not_found'])));
      expect(check.ok).toBe(27);
      return check;
    });
  });

  it('9: inference that fails (a broken model) makes the shard unrecoverable; the run ends failed naming it', async () => {
    await scenario('9 broken model mid-run (inference fails)', async () => {
      await world.upload(20);
      const worker = await world.worker(FAST_WORKER, { SIGLIP_BATCH_TEST_INFER_ERROR: 'Non-zero status code returned while running Gemm node (broken model)' });
      const enqueued = await world.enqueue('broken-model', ['--shard-size', '10']);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      expect(await world.waitEnd('broken-model', 120_000)).toBe('failed');
      const record = await world.registry.get('broken-model');
      expect(record!.reason).toMatch(/inference failed: .*Gemm node \(broken model\)/);
      // Counted by failure code, each reason among the last few kept.
      expect(record).toMatchObject({ shardsFailed: 2, failedCodes: { inference: 2 } });
      expect(record!.recentFailures.map((f) => f.shard).sort()).toEqual([0, 1]);
      const failed = await (await world.queue()).getFailed();
      expect(failed.length).toBe(2);
      // Unrecoverable: failed on its first attempt, never retried with backoff.
      expect(failed.map((job) => job.attemptsMade)).toEqual([1, 1]);
      expect(await listKeys(world.s3, world.bucket, 'out/broken-model/_stats/')).toEqual([]);
      expect(await listKeys(world.s3, world.bucket, 'out/broken-model/_manifest.json')).toEqual([]);
      // The worker itself survives (a failed batch is the shard's fault, not a process crash).
      expect(worker.child.exitCode).toBeNull();
      expect(worker.log()).toMatch(/"shard failed"/);
      return { note: record!.reason!.slice(0, 100) };
    });
  });
});
