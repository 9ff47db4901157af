/**
 * Fault suite, scenario 6 (issue 6): S3 misbehaving, through our fault-injecting proxy in front
 * of moto (producer and workers use the proxy as their endpoint; the checks read moto direct).
 *
 * - 503 SlowDown, connection resets and slow responses on GETs (source objects, plans) and on
 *   PUTs (Parquet, stats): retried; the run completes; at no moment is a partial Parquet
 *   object visible in the store.
 * - A 30-second storm of 503s on every source GET: no existing object is committed as an
 *   error row; the affected shards fail and are retried later by the queue.
 */
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, inject, it } from 'vitest';
import { listKeys, scenario } from './support/fault-checks';
import { createFaultWorld, sleep, type FaultWorld } from './support/fault-run';
import { s3Faults, startFaultProxy, type FaultProxy } from './support/fault-proxy';

let proxy: FaultProxy;
let world: FaultWorld;

beforeEach(async () => {
  proxy = await startFaultProxy({ target: inject('s3Endpoint') });
  world = await createFaultWorld({ processS3Endpoint: proxy.endpoint });
});

afterEach(async () => {
  await world?.close();
  await proxy?.stop();
});

/**
 * Watches the run folder while the run goes on: every version of every Parquet object that
 * becomes visible is read whole (straight from moto) and must be a complete Parquet file.
 */
function watchParquet(runPrefix: string): { stop(): Promise<{ seen: number; partial: string[] }> } {
  let stopped = false;
  const seen = new Set<string>();
  const partial: string[] = [];
  const loop = (async () => {
    while (!stopped) {
      for (const key of (await listKeys(world.s3, world.bucket, runPrefix)).filter((k) => k.endsWith('.parquet'))) {
        try {
          const response = await world.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: key }));
          if (seen.has(`${key}@${response.ETag}`)) {
            await response.Body!.transformToByteArray();
            continue;
          }
          const bytes = Buffer.from(await response.Body!.transformToByteArray());
          seen.add(`${key}@${response.ETag}`);
          const magic = (at: number) => bytes.subarray(at, at + 4).toString('latin1') === 'PAR1';
          if (bytes.length < 12 || !magic(0) || !magic(bytes.length - 4)) partial.push(`${key} (${bytes.length} bytes)`);
        } catch {
          // Deleted between listing and reading (an errors file a retry removed): fine.
        }
      }
      await sleep(100);
    }
  })();
  return {
    async stop() {
      stopped = true;
      await loop;
      return { seen: seen.size, partial };
    },
  };
}

describe('fault: S3', () => {
  it('6: 503 SlowDown, resets and slow responses on GET and PUT are retried; the run completes; no partial Parquet is visible', async () => {
    await scenario('6 S3 503/reset/slow on GET+PUT', async () => {
      const uris = await world.upload(80);
      proxy.setRules([
        { name: 'get-source-503', method: 'GET', path: /\/src\//, probability: 0.1, seed: 11, fault: s3Faults.slowDown() },
        { name: 'get-source-reset', method: 'GET', path: /\/src\//, probability: 0.05, seed: 12, fault: s3Faults.truncate(64) },
        { name: 'get-source-slow', method: 'GET', path: /\/src\//, probability: 0.05, seed: 13, fault: s3Faults.delay(1500) },
        { name: 'get-plan-503', method: 'GET', path: /\/_plan\//, probability: 0.2, seed: 14, fault: s3Faults.slowDown() },
        { name: 'put-parquet-503', method: 'PUT', path: /\.parquet$/, probability: 0.3, seed: 21, fault: s3Faults.slowDown() },
        { name: 'put-parquet-reset', method: 'PUT', path: /\.parquet$/, probability: 0.2, seed: 22, fault: s3Faults.reset(200) },
        { name: 'put-parquet-slow', method: 'PUT', path: /\.parquet$/, probability: 0.2, seed: 23, fault: s3Faults.delay(1000) },
        { name: 'put-stats-503', method: 'PUT', path: /\/_stats\//, probability: 0.2, seed: 24, fault: s3Faults.serviceUnavailable() },
      ]);
      const watcher = watchParquet('out/flaky/');
      await world.worker();
      await world.worker();
      const enqueued = await world.enqueue('flaky', ['--shard-size', '10']);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      const state = await world.waitEnd('flaky');
      const watched = await watcher.stop();
      expect(state).toBe('completed');
      const byRule = proxy.stats().byRule;
      for (const name of ['get-source-503', 'get-source-reset', 'put-parquet-503', 'put-parquet-reset', 'put-parquet-slow']) {
        expect(byRule[name]!.injected, name).toBeGreaterThan(0);
      }
      expect(watched.partial, watched.partial.join('; ')).toEqual([]);
      expect(watched.seen).toBeGreaterThan(0);
      const check = await world.check('flaky', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      // Every source object exists: a transient fault must never become an error row.
      expect(Object.fromEntries(check.errorCodes)).toEqual({});
      return { ...check, problems: [] };
    });
  });

  it('6: a 30-second storm of 503s on GET: no existing object becomes an error row; the shards are retried later', async () => {
    await scenario('6 S3 30 s storm of 503 on GET', async () => {
      const uris = await world.upload(40);
      await world.worker();
      await world.worker();
      proxy.setRules([{ name: 'storm', method: 'GET', path: /\/src\//, forMs: 30_000, fault: s3Faults.slowDown() }]);
      const enqueued = await world.enqueue('storm', ['--shard-size', '10']);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      expect(await world.waitEnd('storm', 280_000)).toBe('completed');
      expect(proxy.stats().byRule['storm']!.injected).toBeGreaterThan(0);
      const check = await world.check('storm', uris);
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      expect(Object.fromEntries(check.errorCodes)).toEqual({});
      // Retried later by the queue: every shard needed more than one attempt.
      expect(check.stats.every((s) => s.attempt > 1)).toBe(true);
      const log = world.workers.map((w) => w.log()).join('\n');
      expect(log).toMatch(/"shard attempt failed"[^\n]*transiently/);
      return check;
    });
  });
});
