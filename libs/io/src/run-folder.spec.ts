import type { PlanFile, ShardStats } from '@siglip-batch/jobs';
import { planKey } from '@siglip-batch/jobs';
import { z } from 'zod';
import { InvalidDocumentError } from './invalid-document-error';
import { getJson, putJson } from './json-document';
import { RunFolder } from './run-folder';
import { describe, expect, localStoreTest, STORE_KINDS } from './testing/store-fixtures';

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
      const run = new RunFolder({ store, prefix: 'out/' }, 'run-1');
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
      const run = new RunFolder({ store, prefix: '' }, 'run-2');
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

describe('putJson / getJson', () => {
  localStoreTest('with any zod schema', async ({ store }) => {
    const schema = z.object({ n: z.number() });
    await putJson(store, 'x.json', { n: 1 }, schema);
    expect(await getJson(store, 'x.json', schema)).toEqual({ n: 1 });
    expect(await getJson(store, 'absent.json', schema)).toBeUndefined();
    await store.put('empty.json', new Uint8Array(0));
    await expect(getJson(store, 'empty.json', schema)).rejects.toThrow(/empty\.json: not JSON/);
  });
});
