import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, compareKeys } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import { MAX_SHARD, PLAN_UNITS_DIR, ROW_ID_SHARD_BITS, unitShardsFor, type RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { plannedShardRanges, readPlanUnit } from '../planned-shards';
import { planRun } from '../run-planner';
import { listSource } from '../source-lister';
import { splitKeyRange } from './source-splitter';

let dir: string;
/** 640 keys in 64 top-level folders (as a bucket laid out by hash prefix), plus a key equal to a split prefix. */
const KEYS = Array.from({ length: 640 }, (_, i) => `d${String(i % 64).padStart(2, '0')}/${String(i).padStart(6, '0')}.jpg`);

function spec(shardSize: number, source = `file://${dir}/src`, sourceKind: RunSpec['sourceKind'] = 'file'): RunSpec {
  return runSpecFixture({ source, sourceKind, output: `file://${dir}/out`, shardSize, filters: { maxBytes: 1000, maxPixels: 1000 } });
}

function folderAt(name: string): RunFolder {
  return openRunFolder({ output: { store: new LocalObjectStore(join(dir, name)), prefix: '' }, runId: 'r1' });
}

/** Every planned object, shard by shard through plannedShardRanges, with its shard id. */
async function planned(folder: RunFolder): Promise<Array<{ shard: number; uri: string }>> {
  const listing = (await folder.readListing())!;
  const out: Array<{ shard: number; uri: string }> = [];
  for await (const range of plannedShardRanges(folder, listing)) {
    for (let shard = range.first; shard < range.first + range.count; shard++) {
      for (const object of (await folder.readPlan(shard))!.objects) out.push({ shard, uri: object.uri });
    }
  }
  return out;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'units-'));
  for (const key of KEYS) {
    mkdirSync(join(dir, 'src', key.slice(0, 3)), { recursive: true });
    writeFileSync(join(dir, 'src', key), key);
  }
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('unit blocks', () => {
  it('fit the 8-digit shard keys and the row ids, and unit 0 starts at shard 0', () => {
    for (const units of [1, 2, 4, 16, 1000, 97_656]) {
      const block = unitShardsFor(units);
      expect(Math.log2(block) % 1).toBe(0);
      expect(units * block - 1).toBeLessThanOrEqual(MAX_SHARD);
      expect(units * block - 1).toBeLessThan(2 ** ROW_ID_SHARD_BITS);
    }
    expect(unitShardsFor(4)).toBe(2 ** 24);
    expect(() => unitShardsFor(97_657)).toThrow(/planning units/);
  });
});

describe('splitKeyRange', () => {
  it('partitions the keys into consecutive ranges of about as many keys, the same every time', async () => {
    const store = new LocalObjectStore(join(dir, 'src'));
    const ranges = await splitKeyRange(store, '', 4);
    expect(await splitKeyRange(store, '', 4)).toEqual(ranges);
    expect(ranges).toHaveLength(4);
    expect(ranges[0]!.after).toBeNull();
    expect(ranges.at(-1)!.upTo).toBeNull();
    for (let i = 1; i < ranges.length; i++) expect(ranges[i]!.after).toBe(ranges[i - 1]!.upTo);
    const seen: string[] = [];
    for (const range of ranges) {
      const listing = await listSource(`file://${dir}/src`, { kind: 'file', after: range.after, upTo: range.upTo, suffixes: [] });
      let count = 0;
      for await (const entry of listing.entries) {
        seen.push(entry.cursor);
        count++;
      }
      expect(count).toBe(KEYS.length / 4);
    }
    expect(seen).toEqual([...KEYS].sort(compareKeys));
  });

  it('gives one range for a source too small to split', async () => {
    mkdirSync(join(dir, 'one'));
    writeFileSync(join(dir, 'one', 'a.jpg'), 'a');
    expect(await splitKeyRange(new LocalObjectStore(join(dir, 'one')), '', 8)).toEqual([{ after: null, upTo: null }]);
  });
});

describe('planRun with planning units', () => {
  it('plans the same objects as one listing, each unit in its own block of shard ids', async () => {
    const one = folderAt('one');
    await planRun({ folder: one, spec: spec(30), onShard: async () => undefined });
    expect((await one.readListing())!.units).toBeUndefined();
    const serial = await planned(one);
    expect(new Set(serial.map((p) => p.shard))).toEqual(new Set(Array.from({ length: 22 }, (_, i) => i)));

    const four = folderAt('four');
    const offered: number[] = [];
    const result = await planRun({ folder: four, spec: spec(30), units: 4, planners: 4, onShard: async (shard) => void offered.push(shard) });
    const listing = (await four.readListing())!;
    expect(listing).toMatchObject({ units: 4, unitShards: 2 ** 24, complete: true, objectsPlanned: 640 });
    expect(result).toEqual({ shardsPlanned: listing.shardsPlanned, objectsPlanned: 640, complete: true });
    const parallel = await planned(four);
    // Same objects in the same (key) order; only the shard ids differ.
    expect(parallel.map((p) => p.uri)).toEqual(serial.map((p) => p.uri));
    for (const { shard } of parallel) expect(shard % 2 ** 24).toBeLessThan(6);
    expect(new Set(parallel.map((p) => Math.floor(p.shard / 2 ** 24)))).toEqual(new Set([0, 1, 2, 3]));
    expect([...offered].sort((a, b) => a - b)).toEqual([...new Set(parallel.map((p) => p.shard))]);
    const unit2 = (await readPlanUnit(four, 2))!;
    expect(unit2).toMatchObject({ kind: 'key-range', complete: true, objectsPlanned: 160, shardsPlanned: 6 });
  });

  it('resumes each unit from its own cursor and writes the same plans as an uninterrupted run', async () => {
    const whole = folderAt('whole');
    await planRun({ folder: whole, spec: spec(25), units: 4, onShard: async () => undefined });

    const folder = folderAt('interrupted');
    const block = 2 ** 24;
    // Unit 1 dies after its third shard; the others finish (their planners are independent).
    await expect(
      planRun({
        folder,
        spec: spec(25),
        units: 4,
        onShard: async (shard) => {
          if (shard === block + 2) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    expect(await readPlanUnit(folder, 1)).toMatchObject({ complete: false, shardsPlanned: 3 });
    expect(await folder.readPlan(block + 2)).toBeDefined();
    expect(await folder.readPlan(block + 3)).toBeUndefined();
    expect((await folder.readListing())!.complete).toBe(false);
    const resumed: Array<[number, boolean]> = [];
    await planRun({ folder, spec: spec(25), units: 1, onShard: async (shard, info) => void resumed.push([shard, info.resumed]) });
    // The split is frozen: `units: 1` on resume changes nothing.
    expect((await folder.readListing())!).toMatchObject({ units: 4, complete: true, objectsPlanned: 640 });
    expect(resumed.filter(([shard, again]) => shard >= block && shard < 2 * block && !again).map(([shard]) => shard)).toEqual([
      block + 3,
      block + 4,
      block + 5,
      block + 6,
    ]);
    expect(await planned(folder)).toEqual(await planned(whole));
  });

  it('plans a glob of manifests as one unit per file, in key order', async () => {
    mkdirSync(join(dir, 'lists'));
    for (let f = 0; f < 3; f++) {
      writeFileSync(join(dir, 'lists', `part-${f}.txt`), `${Array.from({ length: 5 + f }, (_, i) => `s3://bucket/f${f}/${i}.jpg`).join('\n')}\n`);
    }
    writeFileSync(join(dir, 'lists', 'other.txt'), 's3://bucket/not-this.jpg\n');
    const folder = folderAt('out');
    await planRun({ folder, spec: spec(4, `file://${dir}/lists/part-*.txt`, 'manifest-text'), onShard: async () => undefined });
    const listing = (await folder.readListing())!;
    expect(listing).toMatchObject({ units: 3, unitShards: unitShardsFor(3), objectsPlanned: 18, shardsPlanned: 6, complete: true });
    const objects = await planned(folder);
    expect(objects.map((o) => o.uri)).toEqual([0, 1, 2].flatMap((f) => Array.from({ length: 5 + f }, (_, i) => `s3://bucket/f${f}/${i}.jpg`)));
    expect([...new Set(objects.map((o) => o.shard))]).toEqual([0, 1, listing.unitShards!, listing.unitShards! + 1, 2 * listing.unitShards!, 2 * listing.unitShards! + 1]);
    expect((await readPlanUnit(folder, 1))!).toMatchObject({ kind: 'manifest-file', file: expect.stringMatching(/part-1\.txt$/), cursor: '#6' });
    const unitKeys: string[] = [];
    for await (const info of folder.store.list(folder.keyOf(PLAN_UNITS_DIR))) unitKeys.push(info.key.slice(folder.prefix.length));
    expect(unitKeys).toEqual(['_plan/units/00000000.json', '_plan/units/00000001.json', '_plan/units/00000002.json']);
  });
});
