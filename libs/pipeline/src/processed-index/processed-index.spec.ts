import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '@siglip-batch/io';
import { RunFolder, encodePartFile } from '@siglip-batch/run-format';
import type { DecodeSpec, RunManifest } from '@siglip-batch/jobs';
import { indexModelKey } from './index-entry';
import { IncrementalListing } from './incremental-listing';
import { ProcessedIndex, indexFinalizedRun, mergeRunPartition, prepareRunIndex } from './processed-index';

let dir: string;
let store: LocalObjectStore;
const output = () => ({ store, prefix: 'out/' });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'siglip-index-'));
  store = new LocalObjectStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function finishedRun(runId: string, names: string[], finalizedAt: string, decode?: DecodeSpec, prefix = 'out/'): Promise<{ folder: RunFolder; manifest: RunManifest }> {
  const folder = new RunFolder({ store, prefix }, runId);
  const uri = names.map((n) => `s3://b/src/${n}`);
  await store.put(
    folder.keyOf('part-00000000.parquet'),
    encodePartFile({
      uri,
      etag: names.map((n) => `${runId}-${n}`),
      sizeBytes: names.map(() => 1),
      sha256: names.map(() => '0'),
      width: names.map(() => 1),
      height: names.map(() => 1),
      embedding: new Float32Array(names.length * 2),
      dim: 2,
      metadata: {},
    }),
  );
  const manifest = {
    schemaVersion: 1,
    runId,
    source: 's3://b/src/',
    model: { hash: 'ab'.repeat(32), variant: 'fp32', checkpoint: 'x', embedDim: 2, textLength: 16, imageSize: { height: 1, width: 1 } },
    labels: null,
    templates: ['{}'],
    embeddingDim: 2,
    shards: 1,
    parts: [{ shard: 0, key: 'part-00000000.parquet', rows: names.length }],
    errors: [],
    labelsFile: null,
    counts: { planned: names.length, ok: names.length, error: 0, byErrorCode: {} },
    timings: { createdAt: finalizedAt, listedAt: null, finalizedAt, shardMs: {} },
    ...(decode ? { decode } : {}),
  } satisfies RunManifest;
  return { folder, manifest };
}

async function entries(prefix = 'out/'): Promise<string[]> {
  const out: string[] = [];
  for await (const e of new ProcessedIndex({ store, prefix }).entries()) out.push(`${e.uri.slice('s3://b/src/'.length)} ${e.run} ${e.etag} ${e.finalizedAt} ${e.status}`);
  return out;
}

describe('ProcessedIndex', () => {
  it('indexes runs as they finalise, newest run per uri, idempotently', async () => {
    const r1 = await finishedRun('r1', ['c.jpg', 'a.jpg', 'b.jpg'], '2026-01-01T00:00:00Z');
    const r2 = await finishedRun('r2', ['b.jpg', 'd.jpg'], '2026-01-02T00:00:00Z');
    await indexFinalizedRun(r1.folder, r1.manifest, output());
    await indexFinalizedRun(r2.folder, r2.manifest, output());
    await indexFinalizedRun(r2.folder, r2.manifest, output());
    expect((await entries()).map((e) => e.split(' ').slice(0, 3).join(' '))).toEqual(['a.jpg r1 r1-a.jpg', 'b.jpg r2 r2-b.jpg', 'c.jpg r1 r1-c.jpg', 'd.jpg r2 r2-d.jpg']);
    const pointers = await new ProcessedIndex(output()).pointers();
    expect(new Set(pointers.flatMap((p) => p?.recentRuns ?? []))).toEqual(new Set(['r1', 'r2']));
  });

  it('loses nothing when runs finalise and compact at the same time', async () => {
    const runs = await Promise.all(['r1', 'r2', 'r3', 'r4'].map((id, i) => finishedRun(id, [`${id}-x.jpg`, `shared-${i % 2}.jpg`], `2026-01-0${i + 1}T00:00:00Z`)));
    await Promise.all(runs.map((run) => indexFinalizedRun(run.folder, run.manifest, output())));
    // Whichever compaction won, every run's segment is read (one a pointer lacks is never deleted).
    const all = (await entries()).map((e) => e.split(' ').slice(0, 3).join(' '));
    expect(all.filter((e) => /-x\.jpg/.test(e))).toHaveLength(4);
    expect(all.filter((e) => e.startsWith('shared-0.jpg'))).toEqual(['shared-0.jpg r3 r3-shared-0.jpg']);
    expect(all.filter((e) => e.startsWith('shared-1.jpg'))).toEqual(['shared-1.jpg r4 r4-shared-1.jpg']);
  });

  it('matches entries on the decode mode too: a fast run after an exact one plans everything again, then nothing', async () => {
    const fast: DecodeSpec = { mode: 'fast', reducingGap: 2 };
    const names = ['a.jpg', 'b.jpg', 'c.jpg'];
    const plan = async (run: string, decode: DecodeSpec | undefined) => {
      const listing = new IncrementalListing({ index: new ProcessedIndex(output()).entries(), modelHash: indexModelKey('ab'.repeat(32), decode), sourceUri: 's3://b/src/', suffixes: [] });
      const listed = names.map((n) => ({ cursor: `src/${n}`, object: { uri: `s3://b/src/${n}`, etag: `${run}-${n}`, size: 1 } }));
      const planned: string[] = [];
      for await (const entry of listing.filter((async function* () { yield* listed; })())) planned.push(entry.object.uri);
      return planned.length;
    };
    const exact = await finishedRun('r1', names, '2026-01-01T00:00:00Z');
    await indexFinalizedRun(exact.folder, exact.manifest, output());
    expect(await plan('r1', undefined)).toBe(0);
    expect(await plan('r1', fast)).toBe(3);
    expect(await plan('r1', { mode: 'fast', reducingGap: 3 })).toBe(3);
    const fastRun = await finishedRun('r2', names, '2026-01-02T00:00:00Z', fast);
    await indexFinalizedRun(fastRun.folder, fastRun.manifest, output());
    expect(await plan('r2', fast)).toBe(0);
    // The exact entries stay (an entry without a decode mode means exact): one per uri and mode.
    expect(await plan('r1', undefined)).toBe(0);
    expect((await entries()).map((e) => e.split(' ').slice(0, 3).join(' ')).sort()).toEqual(['a.jpg r1 r1-a.jpg', 'a.jpg r2 r2-a.jpg', 'b.jpg r1 r1-b.jpg', 'b.jpg r2 r2-b.jpg', 'c.jpg r1 r1-c.jpg', 'c.jpg r2 r2-c.jpg']);
  });

  it('reads and decodes a small run\'s contributions once for all its partitions; the index equals what its partition jobs write', async () => {
    const names = Array.from({ length: 60 }, (_, i) => `photo-${String(i).padStart(3, '0')}.jpg`);
    const inProcess = await finishedRun('r1', names, '2026-01-01T00:00:00Z');
    const jobs = await finishedRun('r1', names, '2026-01-01T00:00:00Z', undefined, 'jobs/');
    // The partition jobs' way (a worker each): every merge reads its own slice of every file.
    const layout = await prepareRunIndex(jobs.folder, indexModelKey(jobs.manifest.model.hash, undefined));
    for (let p = 0; p < layout.partitions; p++) await mergeRunPartition(jobs.folder, p, { finalizedAt: jobs.manifest.timings.finalizedAt });
    const reads: string[] = [];
    const get = store.get.bind(store);
    const openBlob = store.openBlob.bind(store);
    store.get = (key, ...rest) => {
      reads.push(`get ${key}`);
      return get(key, ...rest);
    };
    store.openBlob = (key) => {
      reads.push(`openBlob ${key}`);
      return openBlob(key);
    };
    await indexFinalizedRun(inProcess.folder, inProcess.manifest, output());
    const contributionReads = reads.filter((read) => read.includes('/r1/_index/') && read.endsWith('.parquet'));
    expect(contributionReads).toEqual(['get out/r1/_index/f-part-00000000.parquet']);
    const written = await entries('out/');
    expect(written).toHaveLength(60);
    expect(written).toEqual(await entries('jobs/'));
    expect(new Set((await new ProcessedIndex(output()).pointers()).map((pointer) => pointer?.recentRuns.join()))).toEqual(new Set(['r1']));
  });
});
