/** compactRun on a local run folder (the S3 path, crashes and readers are in test/compact.test.ts). */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, RunFolder, encodePartFile, readParquetBatches, readVectorColumn, shardFileMetadata } from '@siglip-batch/io';
import { partKey, type RunManifest } from '@siglip-batch/jobs';
import { DEFAULT_COMPACT_GRACE_MS, compactRun } from './run-compactor';
import { RunNotFinalisedError } from './run-not-finalised-error';

const D = 4;
const model = { hash: '0123456789abcdef', variant: 'fp32' as const, checkpoint: 'tiny', embedDim: D, textLength: 16, imageSize: { height: 4, width: 4 } };
let root: string;
let folder: RunFolder;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'siglip-compact-'));
  folder = new RunFolder({ store: new LocalObjectStore(root), prefix: 'out/' }, 'run-1');
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

async function writeRun(rowsPerShard: number[]): Promise<Float32Array> {
  const all: number[] = [];
  let n = 0;
  const parts: RunManifest['parts'] = [];
  for (const [shard, rows] of rowsPerShard.entries()) {
    const embedding = Float32Array.from({ length: rows * D }, () => Math.fround(Math.sin(n++) / 3));
    all.push(...embedding);
    await folder.writePart(
      shard,
      encodePartFile({
        uri: Array.from({ length: rows }, (_, i) => `file:///img/${shard}-${i}.jpg`),
        etag: Array.from({ length: rows }, () => null),
        sizeBytes: Array.from({ length: rows }, () => 1),
        sha256: Array.from({ length: rows }, () => '0'.repeat(64)),
        width: Array.from({ length: rows }, () => 1),
        height: Array.from({ length: rows }, () => 1),
        embedding,
        dim: D,
        metadata: shardFileMetadata({ runId: 'run-1', model, preprocessingVersion: 'v', labels: null, templates: [] }),
      }),
    );
    parts.push({ shard, key: partKey(shard), rows });
  }
  const ok = rowsPerShard.reduce((a, b) => a + b, 0);
  await folder.writeManifest({
    schemaVersion: 1,
    runId: 'run-1',
    source: 'file:///img/',
    model,
    labels: null,
    templates: [],
    embeddingDim: D,
    shards: rowsPerShard.length,
    parts,
    errors: [],
    labelsFile: null,
    counts: { planned: ok, ok, error: 0, byErrorCode: {} },
    timings: { createdAt: '', listedAt: null, finalizedAt: '', shardMs: {} },
  });
  return Float32Array.from(all);
}

async function readAll(manifest: RunManifest): Promise<{ uris: string[]; vectors: Float32Array }> {
  const uris: string[] = [];
  const vectors: number[] = [];
  for (const part of manifest.parts) {
    const blob = () => folder.store.openBlob(folder.keyOf(part.key));
    for await (const batch of readParquetBatches(await blob(), { columns: ['uri'] })) for (const uri of batch.getChild('uri')!) uris.push(uri as string);
    vectors.push(...(await readVectorColumn(await blob())).values);
  }
  return { uris, vectors: Float32Array.from(vectors) };
}

describe('compactRun (local store)', () => {
  it('merges parts into files of the target size, keeps every row and bit, deletes the old files after their grace, and is idempotent', async () => {
    const embeddings = await writeRun([3, 3, 3, 3, 3, 1]);
    const oldManifest = (await folder.readManifest())!;
    const before = await readAll(oldManifest);
    const result = await compactRun({ folder, targetRows: 6 });
    // The replaced files stay for their grace period: a reader holding the old manifest still reads them.
    expect(result).toMatchObject({ before: { parts: 6, errors: 0 }, after: { parts: 3, errors: 0 }, deleted: 0, kept: 6, rows: 16 });
    expect(Date.parse(result.keptUntil!)).toBe(Date.parse((await folder.readManifest())!.compaction!.compactedAt) + DEFAULT_COMPACT_GRACE_MS);
    expect((await readAll(oldManifest)).uris).toEqual(before.uris);
    const manifest = (await folder.readManifest())!;
    expect(manifest.compaction).toMatchObject({ graceSeconds: DEFAULT_COMPACT_GRACE_MS / 1000 });
    expect(new Set(manifest.compaction!.replaced.map((entry) => entry.retiredAt))).toEqual(new Set([manifest.compaction!.compactedAt]));
    // A later compact once the grace has passed (here: a grace of 0) is the cleanup: nothing else changes.
    const cleanup = await compactRun({ folder, targetRows: 6, graceMs: 0 });
    expect(cleanup).toMatchObject({ written: [], deleted: 6, kept: 0, keptUntil: null });
    expect(await folder.readManifest()).toEqual(manifest);
    expect(manifest.parts.map((p) => [p.shard, p.rows])).toEqual([
      [0, 6],
      [2, 6],
      [4, 4],
    ]);
    const after = await readAll(manifest);
    expect(after.uris).toEqual(before.uris);
    expect(Buffer.from(after.vectors.buffer).equals(Buffer.from(embeddings.buffer))).toBe(true);
    expect((await readdir(join(root, 'out', 'run-1'))).filter((name) => name.endsWith('.parquet')).sort()).toEqual(manifest.parts.map((p) => p.key).sort());

    const again = await compactRun({ folder, targetRows: 6, graceMs: 0 });
    expect(again).toMatchObject({ written: [], deleted: 0 });
    expect(await folder.readManifest()).toEqual(manifest);

    // A bigger target merges the merged files; old names still map to the file with their rows.
    await compactRun({ folder, targetRows: 100 });
    const final = (await folder.readManifest())!;
    // The first merge's files left the manifest now; the original parts keep their earlier time.
    const retired = new Map(final.compaction!.replaced.map((entry) => [entry.key, entry.retiredAt]));
    expect(retired.get(partKey(0))).toBe(manifest.compaction!.compactedAt);
    expect(retired.get(manifest.parts[0]!.key)).toBe(final.compaction!.compactedAt);
    expect(final.parts).toHaveLength(1);
    expect(new Set(final.compaction!.replaced.map((e) => e.into))).toEqual(new Set([final.parts[0]!.key]));
    expect(final.compaction!.replaced.map((e) => e.key)).toEqual(expect.arrayContaining([partKey(0), partKey(5), ...manifest.parts.map((p) => p.key)]));
    expect((await readAll(final)).uris).toEqual(before.uris);
  });

  it('refuses a run without a manifest', async () => {
    await expect(compactRun({ folder })).rejects.toThrow(RunNotFinalisedError);
    await expect(compactRun({ folder })).rejects.toThrow(/not finalised/);
  });
});
