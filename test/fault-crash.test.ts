/**
 * Fault suite, scenarios 1, 3 and 8 (issue 6): workers die or are stopped in the middle of
 * shards. SIGKILL at random points (stalled-job recovery by the other worker), SIGTERM during
 * a batch (finish or hand back within --shutdown-timeout, exit 0), and a crash right after the
 * Parquet PUT or right after the stats (the retry overwrites / finds the shard done). Each run
 * is then checked the strong way: nothing lost, nothing doubled.
 */
import { HeadObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { listKeys, scenario } from './support/fault-checks';
import { FAST_WORKER, createFaultWorld, hardKill, sleep, until, type FaultWorld } from './support/fault-run';
import { descendantPids } from './support/process-metrics';
import type { WorkerProcess } from './support/cli';

let world: FaultWorld;
beforeEach(async () => {
  world = await createFaultWorld();
});
afterEach(async () => {
  await world?.close();
});

/** Pids a worker may appear under in BullMQ's `processedBy` (the worker app, not its launcher). */
function workerPids(worker: WorkerProcess): number[] {
  return [worker.child.pid!, ...descendantPids(worker.child.pid!)];
}

async function activeJobOf(worker: WorkerProcess): Promise<string | undefined> {
  const queue = await world.queue();
  const pids = workerPids(worker);
  for (const job of await queue.getActive()) {
    if (job.name === 'shard' && pids.some((pid) => job.processedBy?.endsWith(`:${pid}`))) return job.id;
  }
  return undefined;
}

describe('fault: crashes and shutdowns', () => {
  it('1: SIGKILL of a worker at random points of three shards, with a second worker alive: the run completes', async () => {
    await scenario('1 SIGKILL x3 mid-shard, second worker alive', async () => {
      const uris = await world.upload(240);
      // Slow batches (a real block of the inference thread) so that a shard lasts ~1 s.
      const slow = { SIGLIP_BATCH_TEST_INFER_DELAY_MS: '250' };
      const args = [...FAST_WORKER.filter((a, i, all) => a !== '--batch-size' && all[i - 1] !== '--batch-size'), '--batch-size', '4'];
      await world.worker(args, slow);
      let victim = await world.worker(args, slow);
      const enqueued = await world.enqueue('kill', ['--shard-size', '12']);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      const killed: string[] = [];
      for (let kill = 0; kill < 3; kill++) {
        let jobId: string | undefined;
        await until(async () => {
          jobId = await activeJobOf(victim);
          return jobId !== undefined && !killed.includes(jobId);
        }, 60_000, `worker busy with a new shard (kill ${kill + 1})`);
        await sleep(Math.floor(Math.random() * 900));
        await hardKill(victim);
        killed.push(jobId!);
        victim = await world.worker(args, slow);
      }
      expect(await world.waitEnd('kill')).toBe('completed');
      const check = await world.check('kill', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      return check;
    });
  });

  it('3: SIGTERM during a batch: the worker finishes or hands back its shard within --shutdown-timeout and exits 0', async () => {
    await scenario('3 SIGTERM during a batch', async () => {
      const uris = await world.upload(60);
      const deadlineMs = 3000;
      const args = ['--model', FAST_WORKER[1]!, '--threads', '1', '--batch-size', '4', '--concurrency', '1', '--lock-duration', '4000', '--shutdown-timeout', String(deadlineMs)];
      const stopping = await world.worker(args, { SIGLIP_BATCH_TEST_INFER_DELAY_MS: '1000' });
      const enqueued = await world.enqueue('term', ['--shard-size', '30']);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      await until(async () => ((await world.registry.get('term'))?.inferred ?? 0) > 0, 60_000, 'a first batch inferred');
      const started = Date.now();
      const code = await stopping.stop('SIGTERM');
      const tookMs = Date.now() - started;
      expect(code).toBe(0);
      // The deadline, plus the batch in flight on the inference thread, plus a generous margin
      // for a loaded 2-core machine: this checks "within its deadline", not speed.
      expect(tookMs).toBeLessThan(deadlineMs + 1000 + 6000);
      expect(stopping.log()).toMatch(/SIGTERM: stopping/);
      expect(stopping.log()).toMatch(/handed back|finished/);
      expect(descendantPids(stopping.child.pid!)).toEqual([]);
      await world.worker();
      expect(await world.waitEnd('term')).toBe('completed');
      const check = await world.check('term', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      return { ...check, planned: check.planned };
    });
  });

  for (const point of ['after-part-put', 'after-stats'] as const) {
    it(`8: a crash ${point === 'after-part-put' ? 'after the Parquet PUT, before the stats' : 'after the stats, before the job completes'}: the retry overwrites`, async () => {
      await scenario(`8 crash ${point}`, async () => {
        const uris = await world.upload(40);
        const enqueued = await world.enqueue(`crash-${point}`, ['--shard-size', '10']);
        expect(enqueued.code, enqueued.stderr).toBe(0);
        const crashing = await world.worker(FAST_WORKER, { SIGLIP_BATCH_TEST_CRASH_AT: point });
        await new Promise((resolve) => (crashing.child.exitCode !== null ? resolve(null) : crashing.child.once('exit', resolve)));
        expect(crashing.child.exitCode).not.toBe(0);
        const runPrefix = `out/crash-${point}/`;
        const keys = await listKeys(world.s3, world.bucket, runPrefix);
        const parts = keys.filter((key) => /part-\d{8}\.parquet$/.test(key));
        const stats = keys.filter((key) => /_stats\/\d{8}\.json$/.test(key));
        expect(parts.length).toBe(1);
        expect(stats.length).toBe(point === 'after-stats' ? 1 : 0);
        const before = await world.s3.send(new HeadObjectCommand({ Bucket: world.bucket, Key: parts[0]! }));
        await world.worker();
        expect(await world.waitEnd(`crash-${point}`)).toBe('completed');
        const check = await world.check(`crash-${point}`, uris);
        expect(check.problems, check.problems.join('; ')).toEqual([]);
        const shard = Number(/part-(\d{8})/.exec(parts[0]!)![1]);
        const shardStats = check.stats.find((s) => s.shard === shard)!;
        if (point === 'after-part-put') {
          // Retried after stalled-job recovery: a second execution, which overwrote the part.
          expect(shardStats.attempt).toBeGreaterThan(1);
          const after = await world.s3.send(new HeadObjectCommand({ Bucket: world.bucket, Key: parts[0]! }));
          expect(after.LastModified!.getTime()).toBeGreaterThanOrEqual(before.LastModified!.getTime());
        } else {
          // Delivered again, found done by its stats: nothing redone.
          expect(shardStats.attempt).toBe(1);
          expect(check.inferred).toBe(check.ok);
        }
        return check;
      });
    });
  }
});
