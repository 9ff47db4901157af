/**
 * A run whose model no worker serves waits, and `status` says so; `cancel` removes its queued
 * shards and ends it `cancelled`.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Queue } from 'bullmq';
import { describe, expect, test } from '@siglip-batch/testing';
import { queueNameForModel } from '@siglip-batch/jobs';
import { inspectSiglipModel } from '@siglip-batch/pipeline';
import { makeSampleImage } from './support/sample-images';
import { TINY_MODEL, runCli } from './support/cli';

describe('status and cancel of a run no worker serves', () => {
  test('waits, says no worker serves it, and is cancelled with its queued shards removed', async ({ redisUrl, redis, queuePrefix }) => {
    const work = mkdtempSync(join(tmpdir(), 'siglip-cancel-'));
    try {
      mkdirSync(join(work, 'images'));
      for (let i = 0; i < 12; i++) {
        const image = await makeSampleImage(9000 + i);
        writeFileSync(join(work, 'images', image.name), image.bytes);
      }
      const env = { ...process.env, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: queuePrefix };
      const enqueued = await runCli(['enqueue', '--run', 'waiting', '--source', join(work, 'images'), '--out', join(work, 'out'), '--model', TINY_MODEL, '--shard-size', '4'], env);
      expect(enqueued.code, enqueued.stderr).toBe(0);

      const status = await runCli(['status', 'waiting'], env);
      expect(status.stdout).toMatch(/NO WORKER serves this model/);
      const json = JSON.parse((await runCli(['status', 'waiting', '--json'], env)).stdout) as { state: string; shards: { planned: number; waiting: number }; workers: number };
      expect(json).toMatchObject({ state: 'running', shards: { planned: 3, waiting: 3 }, workers: 0 });

      const cancelled = await runCli(['cancel', 'waiting'], env);
      expect(cancelled.code, cancelled.stderr).toBe(0);
      expect(cancelled.stdout).toMatch(/cancelled: 3 queued shard\(s\) removed/);
      const model = await inspectSiglipModel(TINY_MODEL);
      const queue = new Queue(queueNameForModel(model.hash, model.variant), { connection: redis, prefix: queuePrefix });
      try {
        const counts = await queue.getJobCounts('waiting', 'prioritized', 'delayed', 'active');
        expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
      } finally {
        await queue.close();
      }
      const after = JSON.parse((await runCli(['status', 'waiting', '--json'], env)).stdout) as { state: string };
      expect(after.state).toBe('cancelled');
      // Enqueuing a cancelled run again adds nothing.
      const again = await runCli(['enqueue', '--run', 'waiting', '--source', join(work, 'images'), '--out', join(work, 'out'), '--model', TINY_MODEL, '--shard-size', '4'], env);
      expect(again.code).not.toBe(0);
      expect(again.stderr).toMatch(/is cancelled/);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
