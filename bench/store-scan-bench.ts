/**
 * `status --out` and resume after Redis lost a run, read from the run folder alone: the serial
 * path (one GET per shard, one after the other) against one listing of `_stats/` plus bounded
 * parallel reads (only of shards Redis does not know, for resume). Prints store requests and
 * wall time for a synthetic run of stats objects, in a local folder and on moto.
 *
 *   npx tsx bench/store-scan-bench.ts [--shards 5000] [--store local|s3|both]
 *
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379); starts its own moto server unless
 * SIGLIP_TEST_S3_ENDPOINT is set.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { CreateBucketCommand } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { createS3Client, openLocation, type ObjectStore, type S3Options } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import type { RunSpec } from '@siglip-batch/jobs';
import { RunRegistry, forEachStoredStats } from '@siglip-batch/pipeline';
import { statusFromStore } from '../apps/producer/src/status/run-status';
import { startMotoServer, type MotoServer } from '../test/support/moto-server';

const { values } = parseArgs({ options: { shards: { type: 'string', default: '5000' }, store: { type: 'string', default: 'both' } } });
const SHARDS = Number(values.shards);
const RUN = 'scan-bench';

interface Counts {
  gets: number;
  lists: number;
}

function counting(store: ObjectStore, counts: Counts): ObjectStore {
  return new Proxy(store, {
    get(target, property, receiver) {
      if (property === 'get') {
        return (key: string, options?: Parameters<ObjectStore['get']>[1]) => {
          counts.gets++;
          return target.get(key, options);
        };
      }
      if (property === 'list') {
        return (prefix: string, options?: Parameters<ObjectStore['list']>[1]) => {
          counts.lists++;
          return target.list(prefix, options);
        };
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  });
}

function spec(output: string): RunSpec {
  return {
    schemaVersion: 1,
    runId: RUN,
    source: 's3://b/src/',
    sourceKind: 's3',
    output,
    model: { hash: 'ab'.repeat(32), variant: 'fp32', checkpoint: 'x', embedDim: 4, textLength: 16, imageSize: { height: 1, width: 1 } },
    labels: null,
    templates: ['{}'],
    shardSize: 1000,
    priority: 0,
    filters: { suffixes: [], maxBytes: 10_000, maxPixels: 10_000 },
    createdAt: new Date().toISOString(),
  };
}

async function fill(folder: RunFolder): Promise<void> {
  await folder.writeListing({ schemaVersion: 1, runId: RUN, shardsPlanned: SHARDS + 1, objectsPlanned: (SHARDS + 1) * 10, lastKey: null, complete: true, updatedAt: '' });
  let next = 0;
  await Promise.all(
    Array.from({ length: 32 }, async () => {
      while (next < SHARDS) {
        const shard = next++;
        const error = shard % 4 === 0 ? 1 : 0;
        await folder.writeStats({ schemaVersion: 1, runId: RUN, shard, planned: 10, ok: 10 - error, error, errorCodes: error ? { decode_failed: 1 } : {}, part: null, errors: null, attempt: 1, worker: 'w', startedAt: '', finishedAt: '', timingsMs: {} });
      }
    }),
  );
}

async function measure(label: string, store: ObjectStore, prefix: string, run: (folder: RunFolder) => Promise<string>): Promise<void> {
  const counts: Counts = { gets: 0, lists: 0 };
  const folder = openRunFolder({ output: { store: counting(store, counts), prefix }, runId: RUN });
  const started = performance.now();
  const result = await run(folder);
  const seconds = (performance.now() - started) / 1000;
  console.log(`| ${label} | ${counts.gets} | ${counts.lists} | ${seconds.toFixed(2)} | ${result} |`);
}

async function bench(kind: string, output: string, s3: S3Options, redis: Redis): Promise<void> {
  const { store, prefix } = openLocation(output, s3);
  await fill(openRunFolder({ output: { store, prefix }, runId: RUN }));
  const runSpec = spec(output);
  const freshRegistry = async (name: string): Promise<RunRegistry> => {
    const redisPrefix = `scan-bench-${name}-${process.pid}`;
    await deleteKeysWithPrefix(redis, redisPrefix);
    const registry = new RunRegistry(redis, redisPrefix);
    await registry.register(runSpec, 'q');
    return registry;
  };
  const counted = async (registry: RunRegistry) => {
    const record = await registry.get(RUN);
    return `${record?.shardsDone} done, ${record?.objectsOk} ok, ${record?.objectsError} error`;
  };

  await measure(`${kind}: status, serial (before)`, store, prefix, async (folder) => {
    let done = 0;
    let ok = 0;
    let error = 0;
    for await (const shard of folder.listStats()) {
      const stats = await folder.readStats(shard);
      if (!stats) continue;
      done++;
      ok += stats.ok;
      error += stats.error;
    }
    return `${done} done, ${ok} ok, ${error} error`;
  });
  await measure(`${kind}: status, listing + 32 reads (after)`, store, prefix, async (folder) => {
    const status = await statusFromStore(folder, RUN);
    return `${status?.shards.done} done, ${status?.objects.ok} ok, ${status?.objects.error} error`;
  });
  const before = await freshRegistry('before');
  await measure(`${kind}: resume, serial (before)`, store, prefix, async (folder) => {
    for await (const shard of folder.listStats()) {
      if (!(await before.isShardDone(RUN, shard))) {
        const stats = await folder.readStats(shard);
        if (stats) await before.markShardDone(stats);
      }
    }
    return counted(before);
  });
  await measure(`${kind}: resume again, all bits set (before)`, store, prefix, async (folder) => {
    for await (const shard of folder.listStats()) {
      if (!(await before.isShardDone(RUN, shard))) {
        const stats = await folder.readStats(shard);
        if (stats) await before.markShardDone(stats);
      }
    }
    return counted(before);
  });
  const after = await freshRegistry('after');
  await measure(`${kind}: resume, listing + 32 reads (after)`, store, prefix, async (folder) => {
    await forEachStoredStats(folder, { select: async (shards) => (await after.shardsDone(RUN, shards)).map((done) => !done) }, async (stats) => {
      await after.markShardDone(stats);
    });
    return counted(after);
  });
  await measure(`${kind}: resume again, all bits set (after)`, store, prefix, async (folder) => {
    await forEachStoredStats(folder, { select: async (shards) => (await after.shardsDone(RUN, shards)).map((done) => !done) }, async (stats) => {
      await after.markShardDone(stats);
    });
    return counted(after);
  });
  store.close();
}

async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

async function main(): Promise<void> {
  const redis = new Redis(process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379');
  const dir = mkdtempSync(join(tmpdir(), 'store-scan-bench-'));
  let moto: MotoServer | undefined;
  console.log(`${SHARDS} stats objects\n\n| path | GETs | listings | wall s | counts |\n|---|---:|---:|---:|---|`);
  try {
    if (values.store !== 's3') await bench('local', `file://${dir}/out`, {}, redis);
    if (values.store !== 'local') {
      const endpoint = process.env['SIGLIP_TEST_S3_ENDPOINT'] ?? (moto = await startMotoServer()).endpoint;
      process.env['AWS_ACCESS_KEY_ID'] ??= 'testing';
      process.env['AWS_SECRET_ACCESS_KEY'] ??= 'testing';
      const bucket = `scan-bench-${Date.now().toString(36)}`;
      const client = createS3Client({ endpoint, region: 'us-east-1' });
      await client.send(new CreateBucketCommand({ Bucket: bucket }));
      client.destroy();
      await bench('moto', `s3://${bucket}/out`, { endpoint, region: 'us-east-1' }, redis);
    }
  } finally {
    for (const name of ['before', 'after']) await deleteKeysWithPrefix(redis, `scan-bench-${name}-${process.pid}`);
    redis.disconnect();
    rmSync(dir, { recursive: true, force: true });
    await moto?.stop();
  }
}

await main();
