import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach } from 'vitest';
import { deleteKeysWithPrefix, describe, expect, test } from '@siglip-batch/testing';
import { openLocation, type ObjectStore } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import { queueNameForModel, type RunSpec, type ShardStats } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { RunRegistry } from '@siglip-batch/pipeline';
import { enqueueRun } from '../enqueue/run-enqueuer';
import { statusFromStore } from './run-status';

const dirs: string[] = [];
afterEach(() => {
  for (const dir of dirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});

const SHARDS = 7;

function localRun(): RunSpec {
  const dir = mkdtempSync(join(tmpdir(), 'store-status-'));
  dirs.push(dir);
  mkdirSync(join(dir, 'src'));
  for (let i = 0; i < 2 * SHARDS; i++) writeFileSync(join(dir, 'src', `img-${String(i).padStart(2, '0')}.jpg`), 'not decoded while planning');
  return runSpecFixture({ runId: 'scan', source: `file://${dir}/src`, sourceKind: 'file', output: `file://${dir}/out`, shardSize: 2, filters: { maxBytes: 10_000, maxPixels: 10_000 } });
}

/** Shard `shard`'s stats: some shards all ok, some with one or two error rows. */
function statsOf(spec: RunSpec, shard: number): ShardStats {
  const error = shard % 3;
  const errorCodes: Record<string, number> = {};
  if (shard % 2 === 0 && error > 0) errorCodes['decode_failed'] = error;
  if (shard % 2 === 1 && error > 0) errorCodes['not_found'] = 1;
  if (shard % 2 === 1 && error > 1) errorCodes['decode_failed'] = 1;
  return { schemaVersion: 1, runId: spec.runId, shard, planned: 2, ok: 2 - error, error, errorCodes, part: null, errors: null, attempt: 1, worker: 'w', startedAt: '', finishedAt: '', timingsMs: {} };
}

/** The run folder over a store that counts the stats objects read and the listings of `_stats/`. */
function countingFolder(spec: RunSpec): { folder: RunFolder; counts: { statsGets: number; statsListings: number } } {
  const inner = openLocation(spec.output);
  const counts = { statsGets: 0, statsListings: 0 };
  const store = new Proxy(inner.store, {
    get(target, property, receiver) {
      if (property === 'get') {
        return (key: string, options?: unknown) => {
          if (key.includes('/_stats/')) counts.statsGets++;
          return target.get(key, options as never);
        };
      }
      if (property === 'list') {
        return (prefix: string, options?: unknown) => {
          if (prefix.endsWith('/_stats/')) counts.statsListings++;
          return target.list(prefix, options as never);
        };
      }
      return Reflect.get(target, property, receiver) as unknown;
    },
  }) as ObjectStore;
  return { folder: openRunFolder({ output: { store, prefix: inner.prefix }, runId: spec.runId }), counts };
}

/** The counts the old path gave: every listed shard's stats read, one after the other. */
async function serialSums(folder: RunFolder) {
  const sums = { done: 0, ok: 0, error: 0, byErrorCode: {} as Record<string, number> };
  for await (const shard of folder.listStats()) {
    const stats = await folder.readStats(shard);
    if (!stats) continue;
    sums.done++;
    sums.ok += stats.ok;
    sums.error += stats.error;
    for (const [code, n] of Object.entries(stats.errorCodes)) sums.byErrorCode[code] = (sums.byErrorCode[code] ?? 0) + n;
  }
  return sums;
}

describe('a run rebuilt from its folder', () => {
  test('status reads each done shard once after one listing, with the serial path’s counts', async ({ redis, queuePrefix }) => {
    const spec = localRun();
    await enqueueRun({ spec, folder: openRunFolder(spec), redis, prefix: queuePrefix, maxWaiting: 100 });
    for (let shard = 0; shard < SHARDS - 1; shard++) await openRunFolder(spec).writeStats(statsOf(spec, shard));
    const expected = await serialSums(openRunFolder(spec));
    expect(expected).toMatchObject({ done: SHARDS - 1, error: 6 });

    const { folder, counts } = countingFolder(spec);
    const status = await statusFromStore(folder, spec.runId);
    expect(status).toMatchObject({
      state: 'running',
      shards: { planned: SHARDS, done: expected.done, waiting: 1 },
      objects: { ok: expected.ok, error: expected.error, byErrorCode: expected.byErrorCode, done: expected.ok + expected.error },
      source: 'store',
    });
    expect(counts).toEqual({ statsGets: SHARDS - 1, statsListings: 1 });
  });

  test('resume after Redis lost the run reads only the shards whose done bit is not set', async ({ redis, queuePrefix }) => {
    const spec = localRun();
    const registry = new RunRegistry(redis, queuePrefix);
    await enqueueRun({ spec, folder: openRunFolder(spec), redis, prefix: queuePrefix, maxWaiting: 100 });
    for (let shard = 0; shard < SHARDS - 1; shard++) await openRunFolder(spec).writeStats(statsOf(spec, shard));
    const expected = await serialSums(openRunFolder(spec));

    // Redis forgets everything; two shards finish (and are reported) before the producer is back.
    await deleteKeysWithPrefix(redis, queuePrefix);
    await registry.register(spec, queueNameForModel(spec.model.hash, spec.model.variant));
    for (const shard of [1, 4]) await registry.markShardDone(statsOf(spec, shard));

    const { folder, counts } = countingFolder(spec);
    const result = await enqueueRun({ spec, folder, redis, prefix: queuePrefix, maxWaiting: 100 });
    expect(result).toMatchObject({ shardsPlanned: SHARDS, shardsAlreadyDone: SHARDS - 1 });
    expect(counts).toEqual({ statsGets: SHARDS - 1 - 2, statsListings: 1 });
    const record = await registry.get(spec.runId);
    expect(record).toMatchObject({ shardsDone: expected.done, objectsOk: expected.ok, objectsError: expected.error, errorCodes: expected.byErrorCode });
    expect(await registry.shardsDone(spec.runId, [0, 1, 5, 6])).toEqual([true, true, true, false]);
  });
});
