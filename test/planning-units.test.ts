/**
 * Planning units end to end (issue 13, item 1), on real Redis and moto: a source split into four
 * key ranges planned by two producer processes at once, each unit in its own block of shard
 * ids; the run is the same as the one-listing run of the same source apart from the ids.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DeleteObjectCommand, GetObjectCommand } from '@aws-sdk/client-s3';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { duck, listKeys, sqlFiles } from './support/fault-checks';
import { createFaultWorld, until, type FaultWorld } from './support/fault-run';
import { makeSampleImage } from './support/sample-images';
import { planningQueueOf, startProducer } from './support/producer-process';

let world: FaultWorld;
beforeEach(async () => {
  world = await createFaultWorld();
});
afterEach(async () => {
  await world?.close();
});

const BLOCK = 2 ** 24;

describe('planning units', () => {
  it('two producers share the four units of a run; the run equals its one-listing twin apart from shard ids', async () => {
    const uris = await world.upload(64);
    // Backpressure (2 waiting shards, no worker yet) holds every planner inside its unit, so
    // that both producers are seen holding units at the same time.
    const args = ['--shard-size', '4', '--planning-units', '4', '--planners', '2', '--max-waiting', '2'];
    const first = startProducer('units4', world.bucket, args, world.env);
    const second = startProducer('units4', world.bucket, args, world.env);
    const units = planningQueueOf(world.redis, world.prefix, 'units4');
    try {
      await until(async () => (await units.getJobCounts('active'))['active'] === 4, 90_000, 'four units being planned');
      const holders = await Promise.all((await units.getActive()).map(async (job) => job.processedBy));
      expect(holders.filter((name) => first.owns(name))).toHaveLength(2);
      expect(holders.filter((name) => second.owns(name))).toHaveLength(2);
      await world.worker();
      const [a, b] = await Promise.all([first.exited(), second.exited()]);
      expect(a.code, a.stderr).toBe(0);
      expect(b.code, b.stderr).toBe(0);
      const summaries = [JSON.parse(a.stdout), JSON.parse(b.stdout)] as Array<{ shardsPlanned: number; objectsPlanned: number; shardsEnqueued: number; planningUnits: number }>;
      for (const summary of summaries) expect(summary).toMatchObject({ shardsPlanned: 16, objectsPlanned: 64, planningUnits: 4 });
      // Every shard was queued once, by one of the two.
      expect(summaries[0]!.shardsEnqueued + summaries[1]!.shardsEnqueued).toBe(16);
    } finally {
      await first.stop('SIGKILL');
      await second.stop('SIGKILL');
      await units.close();
    }
    expect(await world.waitEnd('units4')).toBe('completed');
    const split = await world.check('units4', uris);
    expect(split.problems, split.problems.join('; ')).toEqual([]);
    const planKeys = (await listKeys(world.s3, world.bucket, 'out/units4/_plan/')).filter((key) => /_plan\/\d{8}\.json$/.test(key));
    const shards = planKeys.map((key) => Number(/(\d{8})\.json$/.exec(key)![1]));
    // Four units of 16 objects: shards u·B … u·B + 3.
    expect(shards.sort((x, y) => x - y)).toEqual([0, 1, 2, 3].flatMap((u) => [0, 1, 2, 3].map((i) => u * BLOCK + i)));
    expect((await listKeys(world.s3, world.bucket, 'out/units4/_plan/units/')).length).toBe(4);

    const serial = await world.enqueue('units1', ['--shard-size', '4']);
    expect(serial.code, serial.stderr).toBe(0);
    expect(JSON.parse(serial.stdout)).toMatchObject({ shardsPlanned: 16, objectsPlanned: 64, planningUnits: 1 });
    expect(await world.waitEnd('units1')).toBe('completed');
    const one = await world.check('units1', uris);
    expect(one.problems, one.problems.join('; ')).toEqual([]);
    // A run of one listing keeps the ids 0 … n−1 and no unit objects.
    expect(await listKeys(world.s3, world.bucket, 'out/units1/_plan/units/')).toEqual([]);
    // The same rows: every object, its hash and its embedding.
    expect(split.fingerprints.size).toBe(64);
    expect([...split.fingerprints.entries()].sort()).toEqual([...one.fingerprints.entries()].sort());
  });

  it('an incremental run in four units plans new and changed objects once and finds each deletion in its own unit only', async () => {
    const uris = await world.upload(40);
    await world.worker();
    const first = await world.enqueue('night-1', ['--incremental', '--shard-size', '4']);
    expect(first.code, first.stderr).toBe(0);
    expect(await world.waitEnd('night-1')).toBe('completed');

    // Changes spread over the key space: new objects at the end, a rewrite and two deletions in
    // different units.
    const added = await world.upload(4, 'src/', 40);
    const key = (uri: string) => uri.slice(`s3://${world.bucket}/`.length);
    await world.put(key(uris[20]!), (await makeSampleImage(20)).bytes.subarray(0, -1));
    for (const gone of [uris[5]!, uris[33]!]) await world.s3.send(new DeleteObjectCommand({ Bucket: world.bucket, Key: key(gone) }));
    const second = await world.enqueue('night-2', ['--incremental', '--shard-size', '4', '--planning-units', '4', '--planners', '2']);
    expect(second.code, second.stderr).toBe(0);
    const summary = JSON.parse(second.stdout) as { planningUnits: number; objectsPlanned: number; incremental: unknown };
    expect(summary.planningUnits).toBe(4);
    expect(summary.incremental).toEqual({ listed: 42, planned: 5, unchanged: 37, deleted: 2 });
    expect(await world.waitEnd('night-2')).toBe('completed');
    const check = await world.check('night-2', [...added, uris[20]!]);
    expect(check.problems, check.problems.join('; ')).toEqual([]);

    // Each deletion is written once, beside a plan of the unit whose range holds it.
    const deletionKeys = (await listKeys(world.s3, world.bucket, 'out/night-2/deletions/')).filter((k) => k.endsWith('.parquet'));
    const work = mkdtempSync(join(tmpdir(), 'units-deletions-'));
    try {
      const paths = await Promise.all(
        deletionKeys.map(async (k, i) => {
          const body = await world.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: k }));
          const path = join(work, `${i}.parquet`);
          writeFileSync(path, await body.Body!.transformToByteArray());
          return path;
        }),
      );
      const rows = await duck<{ uri: string }>(`SELECT uri FROM read_parquet(${sqlFiles(paths)}) ORDER BY uri`);
      expect(rows.map((r) => r.uri)).toEqual([uris[5]!, uris[33]!]);
      const units = deletionKeys.map((k) => Math.floor(Number(/(\d{8})\.parquet$/.exec(k)![1]) / BLOCK));
      expect(new Set(units).size).toBe(2);
    } finally {
      rmSync(work, { recursive: true, force: true });
    }
  });
});
