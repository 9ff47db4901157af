/**
 * Run state changes on a real Redis: compared and set in one step, so of two changes made at
 * once exactly one wins, and a refused one names the state that refused it.
 */
import { Redis } from 'ioredis';
import { describe, expect, test } from '@siglip-batch/testing';
import type { RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { IllegalRunTransitionError } from './illegal-run-transition-error';
import { RunRegistry } from './run-registry';

const spec = (runId: string): RunSpec => runSpecFixture({ runId });

async function refusal(promise: Promise<unknown>): Promise<IllegalRunTransitionError> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(IllegalRunTransitionError);
  return error as IllegalRunTransitionError;
}

describe('RunRegistry transitions', () => {
  test('go through the table and refuse a completed run’s cancel, leaving it completed', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    try {
      const registry = new RunRegistry(redis, queuePrefix);
      await registry.register(spec('r1'), 'q');
      expect(await registry.transition('r1', 'running')).toBe('listing');
      expect(await registry.transition('r1', 'finalizing')).toBe('running');
      await registry.beginCommit('r1');
      expect(await registry.transition('r1', 'completed')).toBe('finalizing');
      const refused = await refusal(registry.transition('r1', 'cancelled', { reason: 'cancelled by user' }));
      expect(refused.message).toBe('run r1 is completed: a completed run cannot be cancelled (its manifest is written)');
      expect(refused.current).toBe('completed');
      const record = (await registry.get('r1'))!;
      expect(record).toMatchObject({ state: 'completed', reason: null });
      expect(record.finishedAt).not.toBeNull();
    } finally {
      redis.disconnect();
    }
  });

  test('of a cancel and the finaliser’s commit at once, exactly one wins, every time', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    const other = new Redis(redisUrl);
    try {
      const a = new RunRegistry(redis, queuePrefix);
      const b = new RunRegistry(other, queuePrefix);
      let cancelWon = 0;
      let commitWon = 0;
      for (let i = 0; i < 40; i++) {
        const runId = `race-${i}`;
        await a.register(spec(runId), 'q');
        await a.transition(runId, 'running');
        await a.transition(runId, 'finalizing');
        // Alternate which one is sent first: both orders must end consistently.
        const cancel = () => b.transition(runId, 'cancelled', { reason: 'cancelled by user' });
        const commit = () => a.beginCommit(runId);
        const results = await Promise.allSettled(i % 2 === 0 ? [cancel(), commit()] : [commit(), cancel()]);
        const [cancelResult, commitResult] = i % 2 === 0 ? results : [results[1]!, results[0]!];
        expect(results.filter((r) => r.status === 'fulfilled'), runId).toHaveLength(1);
        const record = (await a.get(runId))!;
        if (cancelResult.status === 'fulfilled') {
          cancelWon++;
          expect(record).toMatchObject({ state: 'cancelled', committing: false, reason: 'cancelled by user' });
          expect((commitResult as PromiseRejectedResult).reason).toBeInstanceOf(IllegalRunTransitionError);
          await refusal(a.transition(runId, 'completed'));
        } else {
          commitWon++;
          expect(record).toMatchObject({ state: 'finalizing', committing: true });
          expect(String((cancelResult as PromiseRejectedResult).reason.message)).toBe(
            `run ${runId} is finalizing and its manifest is being written: it can no longer be cancelled`,
          );
          await a.transition(runId, 'completed');
        }
      }
      expect(cancelWon + commitWon).toBe(40);
    } finally {
      redis.disconnect();
      other.disconnect();
    }
  });

  test('two cancels at once: one cancels, the other is refused naming the cancelled state', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    const other = new Redis(redisUrl);
    try {
      await new RunRegistry(redis, queuePrefix).register(spec('r2'), 'q');
      const results = await Promise.allSettled([
        new RunRegistry(redis, queuePrefix).transition('r2', 'cancelled', { reason: 'first' }),
        new RunRegistry(other, queuePrefix).transition('r2', 'cancelled', { reason: 'second' }),
      ]);
      expect(results.map((r) => r.status).sort()).toEqual(['fulfilled', 'rejected']);
      const rejected = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      expect(rejected.reason.message).toBe('run r2 is cancelled: a cancelled run cannot be cancelled (use a new run id)');
      // The winner's reason stays.
      const winner = results[0]!.status === 'fulfilled' ? 'first' : 'second';
      expect((await new RunRegistry(redis, queuePrefix).get('r2'))!.reason).toBe(winner);
    } finally {
      redis.disconnect();
      other.disconnect();
    }
  });

  test('a run Redis does not know is refused, and no partial record is written', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    try {
      const registry = new RunRegistry(redis, queuePrefix);
      const refused = await refusal(registry.transition('gone', 'cancelled'));
      expect(refused.message).toBe('run gone is not known to Redis: it cannot be cancelled');
      expect(refused.current).toBeUndefined();
      await refusal(registry.beginCommit('gone'));
      expect(await redis.exists(`${queuePrefix}:siglip:run:gone`)).toBe(0);
    } finally {
      redis.disconnect();
    }
  });

  test('a failed run runs again with its reason cleared; a cancelled one never does', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl);
    try {
      const registry = new RunRegistry(redis, queuePrefix);
      await registry.register(spec('r3'), 'q');
      await registry.transition('r3', 'failed', { reason: 'shard 2: broken' });
      expect((await registry.get('r3'))!.reason).toBe('shard 2: broken');
      await registry.transition('r3', 'running');
      expect(await registry.get('r3')).toMatchObject({ state: 'running', reason: null, finishedAt: null });
      await registry.transition('r3', 'cancelled', { reason: 'cancelled by user' });
      const refused = await refusal(registry.transition('r3', 'running'));
      expect(refused.message).toMatch(/^run r3 is cancelled: a cancelled run cannot be run again/);
    } finally {
      redis.disconnect();
    }
  });
});
