import { Worker, type Job } from 'bullmq';
import type { Redis } from 'ioredis';
import { describe, expect, test } from '@siglip-batch/testing';
import { FINALIZE_JOB_OPTIONS, SHARD_JOB_OPTIONS } from './job-defaults';
import { ShardQueue, attemptOf, checkAgainLater, handBack, isFinalFailure, permanentFailure, type ShardDoneRecord } from './shard-queue';

const MODEL = { hash: 'ab'.repeat(32), variant: 'fp32' as const };

/** The run record's answers, kept in memory: the gateway only asks these two. */
function records(): ShardDoneRecord & { done: Set<number>; cleared: number[] } {
  const done = new Set<number>();
  const cleared: number[] = [];
  return {
    done,
    cleared,
    isShardDone: async (_runId, shard) => done.has(shard),
    clearShardFailed: async (_runId, shard) => {
      cleared.push(shard);
    },
  };
}

/** A worker taking jobs by hand (BullMQ's manual processing), one at a time. */
async function withManualWorker<T>(redis: Redis, prefix: string, use: (take: (token: string) => Promise<Job>) => Promise<T>): Promise<T> {
  const worker = new Worker(ShardQueue.forModel(redis, prefix, MODEL).name, null, { connection: redis.duplicate({ maxRetriesPerRequest: null }), prefix });
  try {
    return await use(async (token) => (await worker.getNextJob(token))!);
  } finally {
    await worker.close();
  }
}

describe('ShardQueue', () => {
  test('adds a shard job once, under its derived id, with the shard options and the run priority', async ({ redis, queuePrefix }) => {
    const queue = ShardQueue.forModel(redis, queuePrefix, MODEL);
    try {
      expect(queue.name).toBe('siglip-abababababababab-fp32');
      const record = records();
      expect(await queue.ensureShardJob('run-a', 3, { resumed: false, priority: 0 }, record)).toBe('added');
      // Added again (two producers, a retried call): the id finds the job already there.
      await queue.ensureShardJob('run-a', 3, { resumed: false, priority: 0 }, record);
      expect(await queue.waitingCount()).toBe(1);
      expect(await queue.ensureShardJob('run-a', 4, { resumed: false, priority: 5 }, record)).toBe('added');
      const job = await queue.queue.getJob('shard.run-a.00000003');
      expect(job?.name).toBe('shard');
      expect(job?.data).toEqual({ runId: 'run-a', shard: 3 });
      expect(job?.opts).toMatchObject({ attempts: SHARD_JOB_OPTIONS.attempts, backoff: SHARD_JOB_OPTIONS.backoff });
      expect(job?.opts.priority ?? 0).toBe(0);
      expect((await queue.queue.getJob('shard.run-a.00000004'))?.opts.priority).toBe(5);
      expect(record.cleared).toEqual([]);
      expect(await queue.waitingCount()).toBe(2);
      expect(await queue.counts()).toEqual({ waiting: 2, active: 0, delayed: 0, failed: 0, completed: 0 });
    } finally {
      await queue.close();
    }
  });

  test('a resumed shard: a failed job is retried, a completed one is done or started again', async ({ redis, queuePrefix }) => {
    const queue = ShardQueue.forModel(redis, queuePrefix, MODEL);
    const record = records();
    try {
      for (const shard of [0, 1, 2]) await queue.ensureShardJob('run-b', shard, { resumed: false, priority: 0 }, record);
      await withManualWorker(redis, queuePrefix, async (take) => {
        const failed = await take('t0');
        expect(failed.id).toBe('shard.run-b.00000000');
        expect(isFinalFailure(failed, permanentFailure('bad plan'))).toBe(true);
        await failed.moveToFailed(permanentFailure('bad plan'), 't0', false);
        for (const token of ['t1', 't2']) {
          const job = await take(token);
          await job.moveToCompleted({}, token, false);
        }
      });
      record.done.add(1);
      expect(await queue.ensureShardJob('run-b', 0, { resumed: true, priority: 0 }, record)).toBe('added');
      expect(await (await queue.queue.getJob('shard.run-b.00000000'))?.getState()).toBe('waiting');
      expect(await queue.ensureShardJob('run-b', 1, { resumed: true, priority: 0 }, record)).toBe('done');
      // Completed without being marked done (the store changed by hand): queued again.
      expect(await queue.ensureShardJob('run-b', 2, { resumed: true, priority: 0 }, record)).toBe('added');
      expect(await (await queue.queue.getJob('shard.run-b.00000002'))?.getState()).toBe('waiting');
      expect(record.cleared).toEqual([0, 2]);
      // A waiting job is left alone.
      expect(await queue.ensureShardJob('run-b', 2, { resumed: true, priority: 0 }, record)).toBe('exists');
    } finally {
      await queue.close();
    }
  });

  test('backpressure waits while maxWaiting jobs are waiting and goes on once one is taken', async ({ redis, queuePrefix }) => {
    const queue = ShardQueue.forModel(redis, queuePrefix, MODEL);
    try {
      for (const shard of [0, 1]) await queue.ensureShardJob('run-c', shard, { resumed: false, priority: 0 }, records());
      await queue.waitForRoom(3);
      const stop = new AbortController();
      const waiting = queue.waitForRoom(2, stop.signal);
      let settled = false;
      void waiting.then(
        () => (settled = true),
        () => (settled = true),
      );
      await new Promise((resolve) => setTimeout(resolve, 600));
      expect(settled).toBe(false);
      await withManualWorker(redis, queuePrefix, async (take) => {
        await take('t0');
        await waiting;
      });
      // Full again, and given up when its signal aborts.
      await queue.ensureShardJob('run-c', 2, { resumed: false, priority: 0 }, records());
      await queue.ensureShardJob('run-c', 3, { resumed: false, priority: 0 }, records());
      stop.abort(new Error('stopped'));
      await expect(queue.waitForRoom(2, stop.signal)).rejects.toThrow('stopped');
    } finally {
      await queue.close();
    }
  });

  test('the finalise job has one id; a delayed one is promoted; cancel removes what has not started', async ({ redis, queuePrefix }) => {
    const queue = ShardQueue.forModel(redis, queuePrefix, MODEL);
    try {
      await queue.ensureFinalizeJob('run-d', 0);
      await queue.ensureFinalizeJob('run-d', 0);
      const finalize = await queue.queue.getJob('finalize.run-d');
      expect(finalize?.opts.attempts).toBe(FINALIZE_JOB_OPTIONS.attempts);
      expect(await queue.counts()).toMatchObject({ waiting: 1 });
      await withManualWorker(redis, queuePrefix, async (take) => {
        const job = await take('t0');
        expect(job.id).toBe('finalize.run-d');
        // Shards still out: the worker delays it without using up an attempt.
        await expect(checkAgainLater(job, 't0', 60_000)).resolves.toMatchObject({ name: 'DelayedError' });
      });
      expect(await (await queue.queue.getJob('finalize.run-d'))?.getState()).toBe('delayed');
      await queue.promoteFinalize('run-d');
      expect(await (await queue.queue.getJob('finalize.run-d'))?.getState()).toBe('waiting');
      await queue.ensureShardJob('run-d', 7, { resumed: false, priority: 0 }, records());
      expect(await queue.removeShardIfNotStarted('run-d', 7)).toBe(1);
      expect(await queue.removeShardIfNotStarted('run-d', 7)).toBe(0);
      expect(await queue.removeFinalizeIfNotStarted('run-d')).toBe(1);
      expect(await queue.counts()).toMatchObject({ waiting: 0, delayed: 0 });
    } finally {
      await queue.close();
    }
  });

  test('a worker hands a shard back at its shutdown deadline: waiting again, seen as active while it runs', async ({ redis, queuePrefix }) => {
    const queue = ShardQueue.forModel(redis, queuePrefix, MODEL);
    try {
      await queue.ensureShardJob('run-e', 0, { resumed: false, priority: 0 }, records());
      await withManualWorker(redis, queuePrefix, async (take) => {
        const job = await take('t0');
        expect(attemptOf(job)).toBe(1);
        expect(await queue.activeShards('run-e')).toBe(1);
        expect(await queue.activeShards('run-other')).toBe(0);
        await expect(handBack(job, 't0')).resolves.toMatchObject({ name: 'WaitingError' });
      });
      expect(await (await queue.queue.getJob('shard.run-e.00000000'))?.getState()).toBe('waiting');
      expect(await queue.activeShards('run-e')).toBe(0);
    } finally {
      await queue.close();
    }
  });
});
