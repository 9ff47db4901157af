/**
 * The partitioned processed index over a real local store and real Parquet: contributions,
 * per-partition merges (hierarchical past the fan-in), size-tiered compaction and what it
 * writes, repeated and racing merges, the old single-pointer layout, uri ranges, `latest`.
 * (The same code against moto, through workers and `index-partition` jobs: test/incremental.test.ts.)
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, putJson, readParquetBatches } from '@siglip-batch/io';
import { RunFolder, encodePartFile } from '@siglip-batch/run-format';
import { padShard, type RunManifest, type RunSpec } from '@siglip-batch/jobs';
import { encodeEntries } from './index-files';
import { ensureLayout, fnv1a32, partitionOf } from './index-layout';
import { writeShardContribution } from './index-contribution';
import { ProcessedIndex, indexFinalizedRun, mergeRunPartition } from './processed-index';
import { writeLatest } from './latest-writer';

const MODEL = 'ab'.repeat(32);
let dir: string;
let store: LocalObjectStore;
const output = () => ({ store, prefix: 'out/' });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'siglip-pindex-'));
  store = new LocalObjectStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const uri = (name: string) => `s3://b/src/${name}`;
/** ETags as S3 gives them (hex MD5): they do not compress, unlike the sequential test keys. */
const etagOf = (run: string, name: string) => createHash('md5').update(`${run}/${name}`).digest('hex');
const key = (i: number) => `k${String(i).padStart(6, '0')}.jpg`;

/** A run whose shards committed contributions: shard s holds `shards[s]` (names), all ok. */
async function contributedRun(runId: string, shards: string[][], finalizedAt: string): Promise<{ folder: RunFolder; manifest: RunManifest }> {
  const folder = new RunFolder(output(), runId);
  const spec = { runId, model: { hash: MODEL } } as RunSpec;
  for (const [shard, names] of shards.entries()) {
    await writeShardContribution(folder, spec, shard, [
      { file: `parts/part-${padShard(shard)}.parquet`, status: 'ok', uri: names.map(uri), etag: names.map((n) => etagOf(runId, n)) },
      { file: `errors/errors-${padShard(shard)}.parquet`, status: 'error', uri: [], etag: [] },
    ]);
  }
  const manifest = { runId, model: { hash: MODEL }, timings: { finalizedAt } } as RunManifest;
  return { folder, manifest };
}

async function entries(range = {}): Promise<string[]> {
  const out: string[] = [];
  for await (const e of new ProcessedIndex(output()).entries(range)) out.push(`${e.uri.slice(uri('').length)} ${e.run} ${e.status}`);
  return out;
}

async function keysUnder(prefix: string): Promise<Array<{ key: string; size: number }>> {
  const out: Array<{ key: string; size: number }> = [];
  for await (const info of store.list(prefix)) out.push({ key: info.key, size: info.size });
  return out;
}

/** Index files of every partition: compacted segments and run segments. */
async function indexBytes(): Promise<number> {
  return (await keysUnder('out/_index/p-')).filter((f) => f.key.endsWith('.parquet')).reduce((n, f) => n + f.size, 0);
}

describe('the partitioned processed index', () => {
  it('sends a uri to a partition by 32-bit FNV-1a of its UTF-8 bytes', () => {
    expect([fnv1a32(''), fnv1a32('a'), fnv1a32('foobar')]).toEqual([0x811c9dc5, 0xe40c292c, 0xbf9cf968]);
    expect(fnv1a32('s3://b/é.jpg')).toBe(0x7f53341f);
    expect(partitionOf('s3://b/é.jpg', 16)).toBe(15);
  });

  it('merges the contributions of a run, hierarchically past the fan-in, newest run per uri', async () => {
    await ensureLayout(output(), 4);
    // 300 shards whose uri ranges overlap (a manifest source): a real merge. Past the fan-in (2
    // here) the run is split in groups of 128 files by partition, and the 3 groups merged in levels.
    const shards = Array.from({ length: 300 }, (_, s) => [key(s), key(s + 300), key(s + 600)]);
    const r1 = await contributedRun('r1', shards, '2026-01-01T00:00:00Z');
    expect(await indexFinalizedRun(r1.folder, r1.manifest, undefined, { fanIn: 2 })).toEqual({ partitions: 4, merged: 4 });
    // Split groups and merge levels are gone once every partition has the run.
    expect(await keysUnder('out/r1/_index/tmp/')).toEqual([]);
    const r2 = await contributedRun('r2', [[key(5), key(900)]], '2026-01-02T00:00:00Z');
    await indexFinalizedRun(r2.folder, r2.manifest);
    const all = await entries();
    expect(all).toHaveLength(901);
    expect(all.slice(0, 6)).toEqual(['k000000.jpg r1 ok', 'k000001.jpg r1 ok', 'k000002.jpg r1 ok', 'k000003.jpg r1 ok', 'k000004.jpg r1 ok', 'k000005.jpg r2 ok']);
    expect(all.at(-1)).toBe('k000900.jpg r2 ok');
    for await (const e of new ProcessedIndex(output()).entries()) expect(e.finalizedAt).toBe(e.run === 'r1' ? '2026-01-01T00:00:00Z' : '2026-01-02T00:00:00Z');
    // A repeated finalise merges nothing again.
    expect(await indexFinalizedRun(r1.folder, r1.manifest)).toEqual({ partitions: 4, merged: 0 });
  });

  it('splits a big run by partition once, shared by merge jobs running at once (as workers run them)', async () => {
    await ensureLayout(output(), 2);
    const r1 = await contributedRun('r1', Array.from({ length: 6 }, (_, s) => [key(s), key(s + 6)]), '2026-01-01T00:00:00Z');
    // Each job of each partition twice, all at once, past a fan-in of 2: every job may split the run.
    await Promise.all([0, 1, 0, 1].map((p) => mergeRunPartition(r1.folder, p, { fanIn: 2, finalizedAt: r1.manifest.timings.finalizedAt })));
    expect(await entries()).toEqual(Array.from({ length: 12 }, (_, i) => `${key(i)} r1 ok`));
    expect((await keysUnder('out/r1/_index/tmp/')).some((f) => f.key.endsWith('/_done.json'))).toBe(true);
  });

  it('splits by bands of partitions, slices cut across decoded batches (files of 3,000 rows, 8 partitions)', async () => {
    await ensureLayout(output(), 8);
    const shards = Array.from({ length: 3 }, (_, s) => Array.from({ length: 3000 }, (_, i) => key(i * 3 + s)));
    const r1 = await contributedRun('r1', shards, '2026-01-01T00:00:00Z');
    expect(await indexFinalizedRun(r1.folder, r1.manifest, undefined, { fanIn: 2 })).toEqual({ partitions: 8, merged: 8 });
    const all = await entries();
    expect(all).toEqual(Array.from({ length: 9000 }, (_, i) => `${key(i)} r1 ok`));
    for (let p = 0; p < 8; p++) {
      for await (const e of new ProcessedIndex(output()).partition(p).batches()) expect(e.uri.every((u) => partitionOf(u, 8) === p)).toBe(true);
    }
  });

  it('writes about the size of a 1% nightly run, not the index, and keeps few segments per partition', async () => {
    await ensureLayout(output(), 2);
    const shards = Array.from({ length: 40 }, (_, s) => Array.from({ length: 1000 }, (_, i) => key(s * 1000 + i)));
    const base = await contributedRun('base', shards, '2026-01-01T00:00:00Z');
    await indexFinalizedRun(base.folder, base.manifest);
    const before = await indexBytes();
    let written = 0;
    const nightly = await contributedRun('nightly', [Array.from({ length: 400 }, (_, i) => key(40_000 + i))], '2026-01-02T00:00:00Z');
    const contributed = (await keysUnder('out/nightly/_index/')).reduce((n, f) => n + f.size, 0);
    await indexFinalizedRun(nightly.folder, nightly.manifest, undefined, { onBytes: (bytes) => (written += bytes) });
    expect(written).toBeGreaterThan(0);
    // Partition merges plus the shards' contributions: under 5 % of the index.
    expect((written + contributed) / before).toBeLessThan(0.05);
    expect(await entries()).toHaveLength(40_400);
    // Twelve more nights: tiers keep the segments of each partition few.
    for (let night = 0; night < 12; night++) {
      const run = await contributedRun(`n${night}`, [Array.from({ length: 100 }, (_, i) => key(50_000 + night * 100 + i))], `2026-02-${String(night + 1).padStart(2, '0')}T00:00:00Z`);
      await indexFinalizedRun(run.folder, run.manifest);
    }
    for (let p = 0; p < 2; p++) {
      const partition = new ProcessedIndex(output()).partition(p);
      const pointer = await partition.readPointer();
      let pending = 0;
      for await (const _ of partition.pendingRuns(pointer)) pending++;
      expect(pointer!.segments.length + pending).toBeLessThanOrEqual(5);
    }
    expect(await entries()).toHaveLength(41_600);
  });

  it('stays right when merge jobs repeat and race, and deletes what compaction retired only after the grace period', async () => {
    await ensureLayout(output(), 2);
    const runs = await Promise.all(
      ['r1', 'r2', 'r3', 'r4', 'r5'].map((id, i) => contributedRun(id, [[`${id}-x.jpg`, `shared-${i % 2}.jpg`]], `2026-01-0${i + 1}T00:00:00Z`)),
    );
    // Every run's merge of every partition, three times over, all at once.
    await Promise.all(runs.flatMap((run) => [0, 1].flatMap((p) => [1, 2, 3].map(() => mergeRunPartition(run.folder, p, { finalizedAt: run.manifest.timings.finalizedAt })))));
    const expected = ['r1-x.jpg r1 ok', 'r2-x.jpg r2 ok', 'r3-x.jpg r3 ok', 'r4-x.jpg r4 ok', 'r5-x.jpg r5 ok', 'shared-0.jpg r5 ok', 'shared-1.jpg r4 ok'];
    expect(await entries()).toEqual(expected);
    // Later runs with no grace: what the earlier compactions retired is deleted, nothing read is.
    const index = new ProcessedIndex(output());
    for (const id of ['r6', 'r7', 'r8', 'r9', 'r10']) {
      const retiredBefore = (await index.pointers()).flatMap((pointer) => pointer!.retired);
      const run = await contributedRun(id, [[`${id}-y.jpg`]], '2026-02-01T00:00:00Z');
      await indexFinalizedRun(run.folder, run.manifest, undefined, { graceMs: 0 });
      expect((await entries()).filter((e) => !e.includes('-y.jpg'))).toEqual(expected);
      for (const r of retiredBefore) expect(await store.exists(`out/${r.base}-00000.parquet`)).toBe(false);
    }
    // Compactions happened (four nights of one tier merge) and retired what they merged.
    expect((await index.pointers()).some((pointer) => pointer!.segments.length > 0)).toBe(true);
  });

  it('reads an index in the old single-pointer layout and converts it with the next run', async () => {
    const old = (name: string, run: string, finalizedAt: string, status: 'ok' | 'deleted' = 'ok') => ({ uri: uri(name), etag: 'e', modelHash: MODEL, run, file: 'f', status, finalizedAt });
    await store.put('out/_index/base-00000001-abcd-00000.parquet', encodeEntries([old('a.jpg', 'r0', '2025-01-01'), old('b.jpg', 'r0', '2025-01-01'), old('c.jpg', 'r0', '2025-01-01')]));
    await putJson(store, 'out/_index/_current.json', { schemaVersion: 1, generation: 1, token: 'abcd', base: ['_index/base-00000001-abcd-00000.parquet'], runs: ['r0'], entries: 3, updatedAt: '2025-01-01' });
    await store.put('out/_index/segments/r0b.parquet', encodeEntries([old('b.jpg', 'r0b', '2025-01-02', 'deleted')]));
    expect(await entries()).toEqual(['a.jpg r0 ok', 'b.jpg r0b deleted', 'c.jpg r0 ok']);
    const r1 = await contributedRun('r1', [['c.jpg', 'd.jpg']], '2026-01-01T00:00:00Z');
    await indexFinalizedRun(r1.folder, r1.manifest);
    expect(await entries()).toEqual(['a.jpg r0 ok', 'b.jpg r0b deleted', 'c.jpg r1 ok', 'd.jpg r1 ok']);
    // Every partition has folded the old layout in: it is gone.
    expect(await store.exists('out/_index/_current.json')).toBe(false);
    expect(await keysUnder('out/_index/segments/')).toEqual([]);
    expect(await keysUnder('out/_index/base-')).toEqual([]);
  });

  it('reads a uri range', async () => {
    const r1 = await contributedRun('r1', [Array.from({ length: 50 }, (_, i) => key(i))], '2026-01-01T00:00:00Z');
    await indexFinalizedRun(r1.folder, r1.manifest);
    expect(await entries({ after: uri(key(10)), before: uri(key(14)) })).toEqual([key(11), key(12), key(13)].map((n) => `${n} r1 ok`));
  });

  it('writes `latest` from the partitions in bounded chunks, from runs whose contributions come from their files', async () => {
    const run = async (runId: string, names: string[], finalizedAt: string) => {
      const folder = new RunFolder(output(), runId);
      await store.put(
        folder.keyOf('parts/part-00000000.parquet'),
        encodePartFile({
          uri: names.map(uri),
          etag: names.map((n) => `${runId}-${n}`),
          sizeBytes: names.map(() => 1),
          sha256: names.map(() => '0'),
          width: names.map(() => 1),
          height: names.map(() => 1),
          embedding: new Float32Array(names.length * 2).fill(runId === 'r1' ? 1 : 2),
          dim: 2,
          metadata: {},
        }),
      );
      await indexFinalizedRun(folder, { runId, model: { hash: MODEL }, timings: { finalizedAt } } as RunManifest);
    };
    await run('r1', ['a.jpg', 'b.jpg', 'c.jpg', 'd.jpg', 'e.jpg'], '2026-01-01T00:00:00Z');
    await run('r2', ['b.jpg', 'e.jpg', 'f.jpg'], '2026-01-02T00:00:00Z');
    const latest = await writeLatest(output(), { chunkEntries: 2, chunkRows: 3 });
    expect(latest.rows).toBe(6);
    const rows: string[] = [];
    for (const file of latest.files) {
      expect(file.rows).toBeLessThanOrEqual(3 + 3);
      for await (const batch of readParquetBatches(await store.get(`out/${file.key}`))) {
        for (const row of batch.toArray()) rows.push(`${String(row.uri).slice(uri('').length)} ${row.run}`);
      }
    }
    expect(rows.sort()).toEqual(['a.jpg r1', 'b.jpg r2', 'c.jpg r1', 'd.jpg r1', 'e.jpg r2', 'f.jpg r2']);
  });
});
