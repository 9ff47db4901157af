/** compactRun on a local run folder (the S3 path, crashes and readers are in test/compact.test.ts). */
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, readParquetBatches, readVectorColumn } from '@siglip-batch/io';
import { collectRunFiles, encodePartFile, openRunFolder, type RunFolder, shardFileMetadata, writeRunFilesTable } from '@siglip-batch/run-format';
import { partKey, rowId, rowIdsOf, type ManifestFileEntry, type RunManifest } from '@siglip-batch/jobs';
import { DEFAULT_COMPACT_GRACE_MS, compactRun } from './run-compactor';
import { runFileMap } from './run-file-map';
import { RunNotFinalisedError } from './run-not-finalised-error';

const D = 4;
const model = { hash: '0123456789abcdef', variant: 'fp32' as const, checkpoint: 'tiny', embedDim: D, textLength: 16, imageSize: { height: 4, width: 4 } };
let root: string;
let folder: RunFolder;

beforeEach(async () => {
  root = await mkdtemp(join(tmpdir(), 'siglip-compact-'));
  folder = openRunFolder({ output: { store: new LocalObjectStore(root), prefix: 'out/' }, runId: 'run-1' });
});
afterEach(async () => {
  await rm(root, { recursive: true, force: true });
});

interface RunShape {
  /** Storage type of the embeddings. */
  dtype?: 'float32' | 'float16';
  /** Part files at the top of the run folder, as runs written before `parts/` have them. */
  legacyKeys?: boolean;
  /** A manifest of schema 1 (files listed inline), as runs finalised before the file table have. */
  schema1?: boolean;
  /** Deletions files the table lists (an incremental run): `compact` carries them over as they are. */
  deletions?: Array<{ shard: number; key: string; rows: number }>;
}

/** The files a manifest lists, through the reader every command uses. */
const filesOf = async (manifest: RunManifest, kind: 'part' | 'errors' | 'replaced-part' = 'part') => collectRunFiles(folder, manifest, { kind });
const partsOf = async (manifest: RunManifest) => (await filesOf(manifest)).map(({ shard, key, rows }) => ({ shard: shard!, key, rows }));

async function writeRun(rowsPerShard: number[], shape: RunShape = {}): Promise<Float32Array> {
  const all: number[] = [];
  let n = 0;
  const parts: ManifestFileEntry[] = [];
  for (const [shard, rows] of rowsPerShard.entries()) {
    const embedding = Float32Array.from({ length: rows * D }, () => Math.fround(Math.sin(n++) / 3));
    all.push(...embedding);
    const key = shape.legacyKeys ? partKey(shard).replace(/^parts\//, '') : partKey(shard);
    await folder.store.put(
      folder.keyOf(key),
      encodePartFile({
        rowId: rowIdsOf('run-1', shard, Array.from({ length: rows }, (_, i) => i)),
        uri: Array.from({ length: rows }, (_, i) => `file:///img/${shard}-${i}.jpg`),
        etag: Array.from({ length: rows }, () => null),
        sizeBytes: Array.from({ length: rows }, () => 1),
        sha256: Array.from({ length: rows }, () => '0'.repeat(64)),
        width: Array.from({ length: rows }, () => 1),
        height: Array.from({ length: rows }, () => 1),
        embedding,
        dim: D,
        ...(shape.dtype ? { embeddingDtype: shape.dtype } : {}),
        metadata: shardFileMetadata({ runId: 'run-1', model, preprocessingVersion: 'v', labels: null, templates: [] }),
      }),
    );
    parts.push({ shard, key, rows });
  }
  const ok = rowsPerShard.reduce((a, b) => a + b, 0);
  const files = shape.schema1
    ? { parts, errors: [] }
    : {
        files: await (async () => {
          const rows = (async function* () {
            for (const part of parts) yield { kind: 'part' as const, ...part, bytes: null, into: null, retiredAt: null };
            for (const file of shape.deletions ?? []) yield { kind: 'deletions' as const, ...file, bytes: null, into: null, retiredAt: null };
          })();
          const table = await writeRunFilesTable(folder.store, folder.keyOf('_manifest/files.parquet'), rows);
          return { key: '_manifest/files.parquet', rows: table.rows, bytes: table.bytes, parts: table.byKind.part, errors: 0, deletions: table.byKind.deletions, replaced: 0 };
        })(),
      };
  await folder.writeManifest({
    schemaVersion: shape.schema1 ? 1 : 2,
    runId: 'run-1',
    source: 'file:///img/',
    model,
    labels: null,
    templates: [],
    embeddingDim: D,
    shards: rowsPerShard.length,
    ...files,
    labelsFile: null,
    counts: { planned: ok, ok, error: 0, byErrorCode: {} },
    timings: { createdAt: '', listedAt: null, finalizedAt: '', shardMs: {} },
  });
  return Float32Array.from(all);
}

async function readAll(manifest: RunManifest): Promise<{ uris: string[]; vectors: Float32Array }> {
  const uris: string[] = [];
  const vectors: number[] = [];
  for (const part of await partsOf(manifest)) {
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
    expect(manifest).toMatchObject({ schemaVersion: 2, files: { parts: 3, errors: 0, replaced: 6 } });
    expect(manifest.files!.key).toMatch(/^_manifest\/files-c[0-9a-f]+\.parquet$/);
    expect(manifest.compaction!.retiredTables).toEqual([{ key: '_manifest/files.parquet', retiredAt: manifest.compaction!.compactedAt }]);
    const replacedOnce = await filesOf(manifest, 'replaced-part');
    expect(new Set(replacedOnce.map((entry) => entry.retiredAt))).toEqual(new Set([manifest.compaction!.compactedAt]));
    // The old manifest's table is kept for its readers until the grace has passed.
    expect(await partsOf(oldManifest)).toHaveLength(6);
    // A later compact once the grace has passed (here: a grace of 0) is the cleanup: nothing else changes.
    const cleanup = await compactRun({ folder, targetRows: 6, graceMs: 0 });
    expect(cleanup).toMatchObject({ written: 0, deleted: 6, kept: 0, keptUntil: null });
    await expect(partsOf(oldManifest)).rejects.toThrow();
    expect(await folder.readManifest()).toEqual(manifest);
    expect((await partsOf(manifest)).map((p) => [p.shard, p.rows])).toEqual([
      [0, 6],
      [2, 6],
      [4, 4],
    ]);
    const after = await readAll(manifest);
    expect(after.uris).toEqual(before.uris);
    expect(Buffer.from(after.vectors.buffer).equals(Buffer.from(embeddings.buffer))).toBe(true);
    const stored = (await readdir(join(root, 'out', 'run-1'), { recursive: true })).filter((name) => name.endsWith('.parquet')).sort();
    expect(stored).toEqual([manifest.files!.key, ...(await partsOf(manifest)).map((p) => p.key)].sort());

    const again = await compactRun({ folder, targetRows: 6, graceMs: 0 });
    expect(again).toMatchObject({ written: 0, deleted: 0 });
    expect(await folder.readManifest()).toEqual(manifest);

    // A bigger target merges the merged files; old names still map to the file with their rows.
    await compactRun({ folder, targetRows: 100 });
    const final = (await folder.readManifest())!;
    // The first merge's files left the manifest now; the original parts keep their earlier time.
    const replaced = await filesOf(final, 'replaced-part');
    const retired = new Map(replaced.map((entry) => [entry.key, entry.retiredAt]));
    const firstParts = await partsOf(manifest);
    expect(retired.get(partKey(0))).toBe(manifest.compaction!.compactedAt);
    expect(retired.get(firstParts[0]!.key)).toBe(final.compaction!.compactedAt);
    const finalParts = await partsOf(final);
    expect(finalParts).toHaveLength(1);
    expect(new Set(replaced.map((e) => e.into))).toEqual(new Set([finalParts[0]!.key]));
    expect(replaced.map((e) => e.key)).toEqual(expect.arrayContaining([partKey(0), partKey(5), ...firstParts.map((p) => p.key)]));
    // Sorted by shard, then key: the order lookups rely on.
    expect(replaced.map((e) => e.shard)).toEqual([0, 0, 1, 2, 2, 3, 4, 4, 5]);
    // The processed index's old names map to the file holding their rows, and so do the first merge's.
    const map = await runFileMap(folder, final);
    for (const key of [partKey(0), partKey(3), partKey(5), firstParts[1]!.key]) expect(await map(key)).toBe(finalParts[0]!.key);
    expect(await map(finalParts[0]!.key)).toBe(finalParts[0]!.key);
    expect((await readAll(final)).uris).toEqual(before.uris);
  });

  it('keeps row ids and float16 storage as they are; merges an older run\'s top-level parts into parts/', async () => {
    await writeRun([2, 3, 1], { dtype: 'float16', legacyKeys: true, schema1: true });
    const oldManifest = (await folder.readManifest())!;
    expect(oldManifest.parts!.map((p) => p.key)).toEqual(['part-00000000.parquet', 'part-00000001.parquet', 'part-00000002.parquet']);
    const ids = async (manifest: RunManifest) => {
      const out: bigint[] = [];
      for (const part of await partsOf(manifest)) {
        for await (const batch of readParquetBatches(await folder.store.openBlob(folder.keyOf(part.key)), { columns: ['row_id'] })) {
          for (const id of batch.getChild('row_id')!) out.push(id as bigint);
        }
      }
      return out;
    };
    const before = { ids: await ids(oldManifest), vectors: (await readAll(oldManifest)).vectors };
    expect(before.ids).toEqual([rowId('run-1', 0, 0), rowId('run-1', 0, 1), rowId('run-1', 1, 0), rowId('run-1', 1, 1), rowId('run-1', 1, 2), rowId('run-1', 2, 0)]);
    await compactRun({ folder, targetRows: 100, graceMs: 0 });
    const manifest = (await folder.readManifest())!;
    // A schema 1 manifest is compacted into a schema 2 one: its list moves to a file table.
    expect(manifest).toMatchObject({ schemaVersion: 2, files: { parts: 1, replaced: 3 } });
    expect(manifest.parts).toBeUndefined();
    const [merged] = await partsOf(manifest);
    expect(merged!.key).toMatch(/^parts\/part-c[0-9a-f]+-00000\.parquet$/);
    expect(await (await runFileMap(folder, manifest))('part-00000001.parquet')).toBe(merged!.key);
    expect(await ids(manifest)).toEqual(before.ids);
    const blob = await folder.store.openBlob(folder.keyOf(merged!.key));
    for await (const batch of readParquetBatches(blob, { columns: ['embedding'] })) expect(String(batch.getChild('embedding')!.type)).toBe(`FixedSizeList[${D}]<Float16>`);
    // Cast on read, bit for bit the values the small files held.
    expect((await readAll(manifest)).vectors).toEqual(before.vectors);
  });

  it('carries the deletions files over to the new table, and a lookup of the old names needs no map of the run', async () => {
    const deletions = [{ shard: 2, key: 'deletions/deletions-00000002.parquet', rows: 5 }];
    await writeRun([1, 1, 1, 1, 1, 1, 1, 1], { deletions });
    await compactRun({ folder, targetRows: 3, graceMs: 0 });
    const manifest = (await folder.readManifest())!;
    expect(manifest.files).toMatchObject({ parts: 3, deletions: 1, replaced: 8 });
    expect((await collectRunFiles(folder, manifest, { kind: 'deletions' })).map(({ shard, key, rows }) => ({ shard, key, rows }))).toEqual(deletions);
    const parts = await partsOf(manifest);
    expect(parts.map((p) => [p.shard, p.rows])).toEqual([
      [0, 3],
      [3, 3],
      [6, 2],
    ]);
    const map = await runFileMap(folder, manifest);
    for (let shard = 0; shard < 8; shard++) expect(await map(partKey(shard))).toBe(parts[Math.min(2, Math.floor(shard / 3))]!.key);
  });

  it("a lookup whose table a later compaction deleted goes on with the new manifest's table", async () => {
    await writeRun([3, 3, 3, 3, 3, 1]);
    await compactRun({ folder, targetRows: 6 });
    const first = (await folder.readManifest())!;
    const map = await runFileMap(folder, first);
    await compactRun({ folder, targetRows: 100, graceMs: 0 });
    expect(await folder.store.exists(folder.keyOf(first.files!.key))).toBe(false);
    const [merged] = await partsOf((await folder.readManifest())!);
    expect(await map(partKey(4))).toBe(merged!.key);
  });

  it('refuses a run without a manifest', async () => {
    await expect(compactRun({ folder })).rejects.toThrow(RunNotFinalisedError);
    await expect(compactRun({ folder })).rejects.toThrow(/not finalised/);
  });
});
