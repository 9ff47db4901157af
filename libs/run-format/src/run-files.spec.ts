/**
 * The run file table: written as a stream, read back (by our reader and by DuckDB), checked
 * against the manifest, looked up by row group; schema 1 manifests read through the same API.
 */
import { DuckDBInstance } from '@duckdb/node-api';
import { join } from 'node:path';
import { readParquetMetadata } from '@siglip-batch/io';
import { describe, expect, localStoreTest, STORE_KINDS } from '@siglip-batch/io/testing';
import type { RunManifest } from '@siglip-batch/jobs';
import { compareRunFileRows, writeRunFilesTable, type RunFileRow } from './parquet/run-files-file';
import { collectRunFiles, openReplacedLookup, runFileCounts, runFiles, RunFilesTableError } from './run-files';
import { openRunFolder, type RunFolder } from './run-folder';

const pad = (shard: number) => String(shard).padStart(8, '0');
const listed = (kind: 'part' | 'errors', shard: number, rows: number): RunFileRow => ({
  kind,
  shard,
  key: kind === 'part' ? `parts/part-${pad(shard)}.parquet` : `errors/errors-${pad(shard)}.parquet`,
  rows,
  bytes: null,
  into: null,
  retiredAt: null,
});

async function* generate<T>(items: Iterable<T>): AsyncGenerator<T> {
  for (const item of items) yield item;
}

const base = {
  runId: 'run-1',
  source: 's3://b/p/',
  model: { checkpoint: 'c', variant: 'fp32', hash: 'h', embedDim: 4, preprocessingVersion: 1 },
  labels: null,
  templates: [],
  embeddingDim: 4,
  shards: 3,
  labelsFile: null,
  counts: { planned: 3, ok: 2, error: 1, byErrorCode: {} },
  timings: { createdAt: 't', listedAt: null, finalizedAt: 't', shardMs: {} },
} as unknown as Omit<RunManifest, 'schemaVersion'>;

async function tableManifest(folder: RunFolder, rows: RunFileRow[], rowGroupSize?: number): Promise<RunManifest> {
  const written = await writeRunFilesTable(folder.store, folder.keyOf('_manifest/files.parquet'), generate(rows), rowGroupSize ? { rowGroupSize } : {});
  const { part: parts, errors, deletions } = written.byKind;
  const replaced = written.byKind['replaced-part'] + written.byKind['replaced-errors'];
  return { ...base, schemaVersion: 2, files: { key: '_manifest/files.parquet', rows: written.rows, bytes: written.bytes, parts, errors, deletions, replaced } } as RunManifest;
}

for (const [kind, it] of STORE_KINDS) {
  describe(`run file table over the ${kind} store`, () => {
    it('streams 20,000 rows in row groups and reads them back by kind, in order', async ({ store }) => {
      const folder = openRunFolder({ output: { store, prefix: 'out/' }, runId: 'run-1' });
      const rows: RunFileRow[] = [];
      for (let shard = 0; shard < 10_000; shard++) rows.push(listed('part', shard, shard % 7), listed('errors', shard, 1));
      const manifest = await tableManifest(folder, rows);
      expect(manifest.files).toMatchObject({ rows: 20_000, parts: 10_000, errors: 10_000, deletions: 0, replaced: 0 });
      expect((await readParquetMetadata(await store.openBlob(folder.keyOf('_manifest/files.parquet')))).numRowGroups).toBe(5);
      let n = 0;
      for await (const row of runFiles(folder, manifest, { kind: 'part' })) {
        expect(row).toEqual(rows[2 * n]);
        n++;
      }
      expect(n).toBe(10_000);
      expect(runFileCounts(manifest)).toEqual({ parts: 10_000, errors: 10_000, deletions: 0, replaced: 0 });
    });
  });
}

describe('run file table', () => {
  localStoreTest('an empty table is a valid table; a rows failure leaves no file', async ({ localStore }) => {
    const folder = openRunFolder({ output: { store: localStore, prefix: '' }, runId: 'run-1' });
    const manifest = await tableManifest(folder, []);
    expect(await collectRunFiles(folder, manifest)).toEqual([]);
    async function* failing(): AsyncGenerator<RunFileRow> {
      yield listed('part', 0, 1);
      throw new Error('stats gone');
    }
    await expect(writeRunFilesTable(localStore, 'run-1/_manifest/other.parquet', failing())).rejects.toThrow('stats gone');
    expect(await localStore.exists('run-1/_manifest/other.parquet')).toBe(false);
  });

  localStoreTest('a table that is not the one the manifest names is refused', async ({ localStore }) => {
    const folder = openRunFolder({ output: { store: localStore, prefix: '' }, runId: 'run-1' });
    const manifest = await tableManifest(folder, [listed('part', 0, 1), listed('part', 1, 1)]);
    await expect(collectRunFiles(folder, { ...manifest, files: { ...manifest.files!, rows: 3 } })).rejects.toThrow(RunFilesTableError);
    await expect(collectRunFiles(folder, { ...manifest, files: { ...manifest.files!, bytes: 1 } })).rejects.toThrow(/bytes, the manifest says 1/);
  });

  localStoreTest('DuckDB reads the table: the part files of a run, as SQL', async ({ localStore, root }) => {
    const folder = openRunFolder({ output: { store: localStore, prefix: '' }, runId: 'run-1' });
    await tableManifest(folder, [listed('part', 0, 5), listed('errors', 0, 1), listed('part', 1, 3)]);
    const connection = await (await DuckDBInstance.create(':memory:')).connect();
    const reader = await connection.runAndReadAll(
      `SELECT kind, shard::INTEGER AS shard, key, rows::INTEGER AS rows FROM read_parquet('${join(root, 'store', 'run-1', '_manifest', 'files.parquet')}') WHERE kind = 'part' ORDER BY shard`,
    );
    expect(reader.getRowObjectsJson()).toEqual([
      { kind: 'part', shard: 0, key: 'parts/part-00000000.parquet', rows: 5 },
      { kind: 'part', shard: 1, key: 'parts/part-00000001.parquet', rows: 3 },
    ]);
    connection.closeSync();
  });

  localStoreTest('replaced files are found by a binary search over small row groups', async ({ localStore }) => {
    const folder = openRunFolder({ output: { store: localStore, prefix: '' }, runId: 'run-1' });
    const rows: RunFileRow[] = [];
    for (let group = 0; group < 100; group++) rows.push({ ...listed('part', group * 10, 10), key: `parts/part-cabc-${String(group).padStart(5, '0')}.parquet` });
    for (let shard = 0; shard < 1000; shard++) {
      rows.push({ ...listed('part', shard, 1), kind: 'replaced-part', into: `parts/part-cabc-${String(Math.floor(shard / 10)).padStart(5, '0')}.parquet`, retiredAt: 'now' });
    }
    // An earlier compaction's merged file, replaced too: found by its key alone.
    rows.push({ ...listed('part', 0, 0), key: 'parts/part-cold-00000.parquet', kind: 'replaced-part', into: 'parts/part-cabc-00000.parquet', retiredAt: 'then' });
    rows.sort(compareRunFileRows);
    const manifest = await tableManifest(folder, rows, 64);
    const lookup = await openReplacedLookup(folder, manifest, { cachedRowGroups: 2 });
    for (const shard of [0, 9, 10, 517, 999]) expect(await lookup(`parts/part-${pad(shard)}.parquet`)).toBe(`parts/part-cabc-${String(Math.floor(shard / 10)).padStart(5, '0')}.parquet`);
    expect(await lookup('parts/part-cold-00000.parquet')).toBe('parts/part-cabc-00000.parquet');
    expect(await lookup('parts/part-cabc-00003.parquet')).toBe('parts/part-cabc-00003.parquet');
    expect(await lookup(`parts/part-${pad(1000)}.parquet`)).toBe(`parts/part-${pad(1000)}.parquet`);
    expect(await lookup(`errors/errors-${pad(3)}.parquet`)).toBe(`errors/errors-${pad(3)}.parquet`);
  });

  localStoreTest('schema 1 manifests (files inline) read through the same API', async ({ localStore }) => {
    const folder = openRunFolder({ output: { store: localStore, prefix: '' }, runId: 'run-1' });
    const legacy = {
      ...base,
      schemaVersion: 1,
      parts: [{ shard: 0, key: 'parts/part-cabc-00000.parquet', rows: 2 }],
      errors: [{ shard: 0, key: 'errors-00000000.parquet', rows: 1 }],
      deletions: [{ key: 'deletions-00000000.parquet', rows: 4 }],
      compaction: { compactedAt: 'c', targetRows: 2, replaced: [{ key: 'part-00000000.parquet', into: 'parts/part-cabc-00000.parquet' }] },
    } as RunManifest;
    expect((await collectRunFiles(folder, legacy)).map((row) => [row.kind, row.shard, row.key, row.rows, row.into, row.retiredAt])).toEqual([
      ['part', 0, 'parts/part-cabc-00000.parquet', 2, null, null],
      ['errors', 0, 'errors-00000000.parquet', 1, null, null],
      ['deletions', 0, 'deletions-00000000.parquet', 4, null, null],
      ['replaced-part', 0, 'part-00000000.parquet', 0, 'parts/part-cabc-00000.parquet', 'c'],
    ]);
    expect(runFileCounts(legacy)).toEqual({ parts: 1, errors: 1, deletions: 1, replaced: 1 });
    const lookup = await openReplacedLookup(folder, legacy);
    expect(await lookup('part-00000000.parquet')).toBe('parts/part-cabc-00000.parquet');
    expect(await lookup('x')).toBe('x');
  });
});
