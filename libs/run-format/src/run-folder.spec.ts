import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { InvalidDocumentError, LocalObjectStore } from '@siglip-batch/io';
import { describe, expect, localStoreTest, STORE_KINDS, test } from '@siglip-batch/io/testing';
import type { PlanFile, ShardStats } from '@siglip-batch/jobs';
import { InvalidRunIdError, planKey } from '@siglip-batch/jobs';
import { openRunFolder } from './run-folder';

const plan = (shard: number): PlanFile => ({
  schemaVersion: 1,
  runId: 'run-1',
  shard,
  extraColumns: [{ name: 'caption', type: 'string' }],
  objects: [{ uri: `s3://b/${shard}.jpg`, etag: 'abc', size: 10, extra: ['a cat'] }],
  cursor: `${shard}.jpg`,
});

const stats = (shard: number): ShardStats => ({
  schemaVersion: 1,
  runId: 'run-1',
  shard,
  planned: 1,
  ok: 1,
  error: 0,
  errorCodes: {},
  part: { key: `part-${String(shard).padStart(8, '0')}.parquet`, rows: 1 },
  errors: null,
  attempt: 1,
  worker: 'w1',
  startedAt: '2024-01-01T00:00:00Z',
  finishedAt: '2024-01-01T00:00:01Z',
  timingsMs: { fetch: 1 },
});

for (const [kind, it] of STORE_KINDS) {
  describe(`RunFolder over the ${kind} store`, () => {
    it('writes and reads plan, stats, listing; absent documents are undefined', async ({ store }) => {
      const run = openRunFolder({ output: { store, prefix: 'out/' }, runId: 'run-1' });
      expect(run.prefix).toBe('out/run-1/');
      expect(await run.readPlan(3)).toBeUndefined();
      expect(await run.readManifest()).toBeUndefined();
      await run.writePlan(plan(3));
      expect(await run.readPlan(3)).toEqual(plan(3));
      expect(await store.exists('out/run-1/_plan/00000003.json')).toBe(true);
      expect(run.uriOf('part-00000003.parquet')).toBe(store.uriOf('out/run-1/part-00000003.parquet'));

      for (const shard of [12, 2, 7]) await run.writeStats(stats(shard));
      expect(await run.readStats(7)).toEqual(stats(7));
      const done: number[] = [];
      for await (const shard of run.listStats()) done.push(shard);
      expect(done).toEqual([2, 7, 12]);
      const planned: number[] = [];
      for await (const shard of run.listPlans()) planned.push(shard);
      expect(planned).toEqual([3]);

      const listing = { schemaVersion: 1 as const, runId: 'run-1', shardsPlanned: 4, objectsPlanned: 4000, lastKey: 'img/x.jpg', complete: false, updatedAt: 'now' };
      await run.writeListing(listing);
      expect(await run.readListing()).toEqual(listing);

      await run.writeErrors(3, new Uint8Array([1, 2, 3]));
      expect(await store.exists('out/run-1/errors/errors-00000003.parquet')).toBe(true);
      await run.deleteErrors(3);
      await run.deleteErrors(3);
      expect(await store.exists('out/run-1/errors/errors-00000003.parquet')).toBe(false);
    });

    it('an invalid document is an error naming it; an invalid one is never written', async ({ store }) => {
      const run = openRunFolder({ output: { store, prefix: '' }, runId: 'run-2' });
      await store.put(run.keyOf(planKey(1)), Buffer.from('{"schemaVersion":1,"runId":"run-2"}'));
      const error = await run.readPlan(1).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(InvalidDocumentError);
      expect((error as Error).message).toContain(store.uriOf('run-2/_plan/00000001.json'));
      expect((error as Error).message).toMatch(/objects/);

      await store.put(run.keyOf(planKey(2)), Buffer.from('{not json'));
      await expect(run.readPlan(2)).rejects.toThrow(/_plan\/00000002\.json: not JSON/);

      await expect(run.writePlan({ ...plan(5), objects: [] })).rejects.toBeInstanceOf(InvalidDocumentError);
      expect(await store.exists(run.keyOf(planKey(5)))).toBe(false);
    });
  });
}

describe('openRunFolder', () => {
  localStoreTest('the same folder from a run spec, an open output or the folder’s own URI', async ({ root }) => {
    const output = join(root, 'out');
    const fromSpec = openRunFolder({ output, runId: 'run-3' });
    const fromStore = openRunFolder({ output: { store: new LocalObjectStore(output), prefix: '' }, runId: 'run-3' });
    const fromPath = openRunFolder(join(output, 'run-3'));
    const fromFileUri = openRunFolder(pathToFileURL(join(output, 'run-3/')).href);
    for (const folder of [fromStore, fromPath, fromFileUri]) {
      expect(folder.runId).toBe('run-3');
      expect(folder.uriOf('_manifest.json')).toBe(fromSpec.uriOf('_manifest.json'));
    }
    await fromSpec.writeStats(stats(4));
    expect(await fromFileUri.readStats(4)).toEqual(stats(4));
  });

  test('an S3 run folder URI: its parent prefix is the output, its last segment the run id', () => {
    const folder = openRunFolder('s3://bucket/out/nightly/run-5/', { region: 'us-east-1' });
    expect(folder.runId).toBe('run-5');
    expect(folder.prefix).toBe('out/nightly/run-5/');
    expect(folder.uriOf('_manifest.json')).toBe('s3://bucket/out/nightly/run-5/_manifest.json');
    folder.store.close();
    const top = openRunFolder('s3://bucket/run-6', { region: 'us-east-1' });
    expect(top.prefix).toBe('run-6/');
    top.store.close();
    expect(() => openRunFolder('s3://bucket/out/not a run id/')).toThrow(InvalidRunIdError);
  });
});
