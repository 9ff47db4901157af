import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import type { PlanFile, RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import { planRun } from './run-planner';

let dir: string;

function spec(shardSize: number, source = `file://${dir}/src`, sourceKind: RunSpec['sourceKind'] = 'file'): RunSpec {
  return runSpecFixture({ source, sourceKind, output: `file://${dir}/out`, shardSize, filters: { maxBytes: 1000, maxPixels: 1000 } });
}

function folderAt(name: string): RunFolder {
  return openRunFolder({ output: { store: new LocalObjectStore(join(dir, name)), prefix: '' }, runId: 'r1' });
}

async function plannedUris(folder: RunFolder): Promise<string[]> {
  const uris: string[] = [];
  for await (const shard of folder.listPlans()) uris.push(...(await folder.readPlan(shard))!.objects.map((o) => o.uri));
  return uris;
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'planner-'));
  mkdirSync(join(dir, 'src', 'sub'), { recursive: true });
  for (let i = 0; i < 23; i++) writeFileSync(join(dir, 'src', i < 20 ? `${String(i).padStart(3, '0')}.jpg` : `sub/${i}.jpg`), `image ${i}`);
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('planRun', () => {
  it('streams the listing into frozen shard plans of the shard size, in key order, then marks it complete', async () => {
    const folder = folderAt('out');
    const shards: number[] = [];
    const result = await planRun({ folder, spec: spec(10), onShard: async (shard) => void shards.push(shard) });
    expect(result).toEqual({ shardsPlanned: 3, objectsPlanned: 23, complete: true });
    expect(shards).toEqual([0, 1, 2]);
    const uris = await plannedUris(folder);
    expect(uris).toHaveLength(23);
    expect([...uris].sort()).toEqual(uris);
    expect((await folder.readPlan(2))!.objects).toHaveLength(3);
    expect((await folder.readListing())!.complete).toBe(true);
  });

  it('plans the same objects whatever the shard size', async () => {
    const a = folderAt('a');
    const b = folderAt('b');
    await planRun({ folder: a, spec: spec(10), onShard: async () => undefined });
    await planRun({ folder: b, spec: spec(7), onShard: async () => undefined });
    expect(await plannedUris(b)).toEqual(await plannedUris(a));
  });

  it('resumes after an interruption: existing plans are kept as they are, new uploads after the cursor are added', async () => {
    const folder = folderAt('out');
    // The first producer dies while enqueueing shard 1…
    await expect(
      planRun({
        folder,
        spec: spec(10),
        onShard: async (shard) => {
          if (shard === 1) throw new Error('killed');
        },
      }),
    ).rejects.toThrow('killed');
    const frozen = (await folder.readPlan(1)) as PlanFile;
    // …and as if it had died between writing plan 1 and the listing state: the state still says
    // one shard. The orphan plan must be adopted as it is, not planned again.
    const listing = (await folder.readListing())!;
    const plan0 = (await folder.readPlan(0))!;
    await folder.writeListing({ ...listing, shardsPlanned: 1, objectsPlanned: 10, lastKey: plan0.cursor });
    // An object uploaded meanwhile in the range of shard 1 must not change that plan.
    writeFileSync(join(dir, 'src', '005b.jpg'), 'late upload');
    const resumed: Array<[number, boolean]> = [];
    const result = await planRun({ folder, spec: spec(10), onShard: async (shard, info) => void resumed.push([shard, info.resumed]) });
    expect(await folder.readPlan(1)).toEqual(frozen);
    expect(resumed).toEqual([
      [0, true],
      [1, true],
      [2, false],
    ]);
    expect(result.objectsPlanned).toBe(23);
  });

  it('does not list again once complete; every shard is offered again for re-enqueueing', async () => {
    const folder = folderAt('out');
    await planRun({ folder, spec: spec(10), onShard: async () => undefined });
    writeFileSync(join(dir, 'src', 'zzz.jpg'), 'after the run');
    const offered: number[] = [];
    const result = await planRun({ folder, spec: spec(10), onShard: async (shard) => void offered.push(shard) });
    expect(result).toEqual({ shardsPlanned: 3, objectsPlanned: 23, complete: true });
    expect(offered).toEqual([0, 1, 2]);
  });

  it('plans a text manifest by position and resumes after the last planned position', async () => {
    const lines = Array.from({ length: 12 }, (_, i) => `s3://bucket/images/${i}.jpg`);
    writeFileSync(join(dir, 'list.txt'), `# a manifest\n${lines.join('\n')}\n`);
    const folder = folderAt('out');
    const manifestSpec = spec(5, `file://${dir}/list.txt`, 'manifest-text');
    await expect(
      planRun({ folder, spec: manifestSpec, onShard: async (shard) => { if (shard === 1) throw new Error('killed'); } }),
    ).rejects.toThrow('killed');
    await planRun({ folder, spec: manifestSpec, onShard: async () => undefined });
    expect(await plannedUris(folder)).toEqual(lines);
  });
});
