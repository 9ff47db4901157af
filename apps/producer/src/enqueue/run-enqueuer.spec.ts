import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue, Worker } from 'bullmq';
import { afterEach } from 'vitest';
import { describe, expect, test } from '@siglip-batch/testing';
import { finalizeJobId, queueNameForModel, shardJobId, shardJobDataSchema, type RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import type { RunFolder } from '@siglip-batch/run-format';
import { RunRegistry } from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';
import { enqueueRun } from './run-enqueuer';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

function localRun(objects = 6, runId = 'overlap'): RunSpec {
  const dir = mkdtempSync(join(tmpdir(), 'enqueuer-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'src'));
  for (let i = 0; i < objects; i++) writeFileSync(join(dir, 'src', `img-${String(i).padStart(3, '0')}.jpg`), 'not decoded while planning');
  return runSpecFixture({ runId, source: `file://${dir}/src`, sourceKind: 'file', output: `file://${dir}/out`, shardSize: 2, filters: { maxBytes: 10_000, maxPixels: 10_000 } });
}

describe('enqueueRun', () => {
  test('a second enqueue does not queue again a shard a worker completed while it ran', async ({ redis, queuePrefix }) => {
    const spec = localRun();
    const folder = openRunFolder(spec);
    const registry = new RunRegistry(redis, queuePrefix);
    const queueName = queueNameForModel(spec.model.hash, spec.model.variant);
    const first = await enqueueRun({ spec, folder, redis, prefix: queuePrefix, maxWaiting: 100 });
    expect(first).toMatchObject({ shardsPlanned: 3, shardsEnqueued: 3 });

    // A worker completes shard 0 exactly between the second enqueue's look at the stored stats
    // and its pass over the shards (planRun reads the listing state first).
    const completeShardZero = async () => {
      // A worker taking jobs by hand (BullMQ's manual processing), so that it takes exactly one.
      const worker = new Worker(queueName, null, { connection: redis.duplicate({ maxRetriesPerRequest: null }), prefix: queuePrefix });
      try {
        const job = await worker.getNextJob('token-0');
        const { shard } = shardJobDataSchema.parse(job!.data);
        expect(shard).toBe(0);
        const stats = { schemaVersion: 1 as const, runId: spec.runId, shard, planned: 2, ok: 2, error: 0, errorCodes: {}, part: null, errors: null, attempt: 1, worker: 'w', startedAt: '', finishedAt: '', timingsMs: {} };
        await folder.writeStats(stats);
        await registry.markShardDone(stats);
        await job!.moveToCompleted({ shard }, 'token-0', false);
      } finally {
        await worker.close();
      }
    };
    let hooked = false;
    const racing = Object.create(folder) as RunFolder;
    racing.readListing = async () => {
      if (!hooked) {
        hooked = true;
        await completeShardZero();
      }
      return folder.readListing();
    };
    const second = await enqueueRun({ spec, folder: racing, redis, prefix: queuePrefix, maxWaiting: 100 });
    expect(hooked).toBe(true);
    expect(second).toMatchObject({ shardsPlanned: 3, shardsEnqueued: 0, shardsAlreadyDone: 1 });
    const queue = new Queue(queueName, { connection: redis, prefix: queuePrefix });
    try {
      expect(await (await queue.getJob(shardJobId(spec.runId, 0)))?.getState()).toBe('completed');
      const states = await Promise.all([1, 2].map(async (shard) => (await queue.getJob(shardJobId(spec.runId, shard)))?.getState()));
      expect(states).toEqual(['waiting', 'waiting']);
    } finally {
      await queue.close();
    }
  });

  test('producers enqueuing the same run at once share its planning units; every shard is queued once', async ({ redis, queuePrefix }) => {
    const spec = localRun(64, 'shared');
    const folder = openRunFolder(spec);
    const options = { spec, folder, redis, prefix: queuePrefix, maxWaiting: 1000, planningUnits: 4, planners: 2 };
    const [a, b] = await Promise.all([enqueueRun(options), enqueueRun({ ...options, folder: openRunFolder(spec) })]);
    for (const summary of [a, b]) expect(summary).toMatchObject({ shardsPlanned: 32, objectsPlanned: 64, planningUnits: 4, complete: true });
    expect(a.shardsEnqueued + b.shardsEnqueued).toBe(32);
    const queue = new Queue(queueNameForModel(spec.model.hash, spec.model.variant), { connection: redis, prefix: queuePrefix });
    try {
      const shards = (await queue.getJobs(['waiting'], 0, 100)).filter((job) => job.name === 'shard').map((job) => shardJobDataSchema.parse(job.data).shard).sort((x, y) => x - y);
      expect(shards).toEqual([0, 1, 2, 3].flatMap((u) => Array.from({ length: 8 }, (_, i) => u * 2 ** 24 + i)));
      expect(await (await queue.getJob(finalizeJobId(spec.runId)))?.getState()).toBe('waiting');
    } finally {
      await queue.close();
    }
    expect(await new RunRegistry(redis, queuePrefix).get(spec.runId)).toMatchObject({ shardsPlanned: 32, objectsPlanned: 64, listingComplete: true, state: 'running' });
  });
});
