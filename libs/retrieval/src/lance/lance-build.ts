/**
 * `siglip-batch index`: a run's rows into a LanceDB table, then its ANN index.
 *
 * A build streams the manifest's part files in chunks (lance-rows.ts) and adds each chunk, so a
 * run of any size is written with one chunk in memory; the ANN index is then trained by LanceDB
 * over the table. `incremental` adds a later run of the same model to an existing table: each
 * chunk is merged on `uri` (a row whose uri is in the table replaces it, others are appended),
 * then the objects in the run's deletions files are deleted, and the index is brought up to date
 * (`optimize`: new rows indexed, small fragments merged). `_index.json` is written last.
 */
import type * as lancedbTypes from '@lancedb/lancedb';
import type { RunFolder } from '@siglip-batch/run-format';
import { readParquetBatches } from '@siglip-batch/io';
import { partTotals, runFiles } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';
import { nextLanceInfo, readLanceInfo, writeLanceInfo, type LanceIndexParams, type LanceIndexType, type LanceInfo } from './lance-info';
import { chooseIndexType, indexParams } from './lance-index-params';
import { lanceRowChunks } from './lance-rows';
import { LANCE_TABLE, type LanceTarget } from './lance-target';

export type LanceDb = typeof lancedbTypes;
/** LanceDB, loaded on first use: a native module of its own that only these commands need. */
export const loadLanceDb = (): Promise<LanceDb> => import('@lancedb/lancedb');

export interface BuildLanceIndexOptions {
  folder: RunFolder;
  manifest: RunManifest;
  target: LanceTarget;
  /** Add the run to the table at `target` instead of building a new one. */
  incremental?: boolean;
  /** Replace a table that holds other runs (a new build otherwise refuses to). */
  overwrite?: boolean;
  /** @defaultValue 'auto' (by row count, see lance-index-params.ts) */
  indexType?: LanceIndexType | 'auto';
  /** Embedding bytes per chunk (see lance-rows.ts). */
  chunkBytes?: number;
  /**
   * The table at `target` already holds exactly this run's rows (a build stopped while its index
   * was trained): only the index is built. Refused when its row count is not the run's.
   */
  indexOnly?: boolean;
  /** Rows written so far, after each chunk. */
  onProgress?(rows: number): void;
}

export interface BuildLanceIndexResult {
  info: LanceInfo;
  /** Rows read from the run. */
  added: number;
  /** Rows deleted (incremental runs' deletions). */
  deleted: number;
}

export async function buildLanceIndex(options: BuildLanceIndexOptions): Promise<BuildLanceIndexResult> {
  const { folder, manifest, target } = options;
  const previous = await readLanceInfo(target);
  if (options.incremental) {
    if (!previous) throw new Error(`${target.display} holds no table built by siglip-batch index (no _index.json): build it first without --incremental`);
    if (previous.modelHash !== manifest.model.hash) {
      throw new Error(`${target.display} holds embeddings of model ${previous.modelHash.slice(0, 12)}…, run ${manifest.runId} of ${manifest.model.hash.slice(0, 12)}…: they cannot be searched together`);
    }
    if (previous.embeddingDim !== manifest.embeddingDim) throw new Error(`${target.display} holds ${previous.embeddingDim}-d embeddings, run ${manifest.runId} ${manifest.embeddingDim}-d`);
  } else if (previous && !options.overwrite && (previous.runsAdded > 1 || previous.firstRun.runId !== manifest.runId)) {
    throw new Error(`${target.display} already holds a table of run ${previous.lastRun.runId} (${previous.runsAdded} run(s)): add to it with --incremental, or replace it with --overwrite`);
  }
  const lancedb = await loadLanceDb();
  const db = await lancedb.connect(target.uri, { storageOptions: target.storageOptions });
  try {
    const started = performance.now();
    let added = 0;
    let deleted = 0;
    let table: lancedbTypes.Table | undefined = options.incremental || options.indexOnly ? await db.openTable(LANCE_TABLE) : undefined;
    const runRows = (await partTotals(folder, manifest)).rows;
    if (options.indexOnly && (await table!.countRows()) !== runRows) {
      throw new Error(`${target.display} has ${await table!.countRows()} rows, run ${manifest.runId} ${runRows}: build it again without indexOnly`);
    }
    const chunks = options.indexOnly ? [] : lanceRowChunks(folder, manifest, options.chunkBytes ? { chunkBytes: options.chunkBytes } : {});
    for await (const chunk of chunks) {
      if (!table) table = await db.createTable(LANCE_TABLE, chunk, { mode: 'overwrite' });
      else if (options.incremental) await mergeChunk(table, chunk, manifest.runId);
      else await table.add(chunk);
      added += chunk.numRows;
      options.onProgress?.(added);
    }
    if (!table) throw new Error(`run ${manifest.runId} has no embedded rows: nothing to index`);
    if (options.incremental) deleted = await applyDeletions(table, folder, manifest);
    const rowsMs = performance.now() - started;
    const rows = await table.countRows();
    const indexStarted = performance.now();
    const index = await ensureIndex(lancedb, table, {
      rows,
      dim: manifest.embeddingDim,
      requested: options.indexType ?? 'auto',
      ...(options.incremental && previous ? { previous: previous.index } : {}),
    });
    const indexMs = performance.now() - indexStarted;
    const info = nextLanceInfo(options.incremental ? previous : undefined, {
      table: LANCE_TABLE,
      rows,
      embeddingDim: manifest.embeddingDim,
      modelHash: manifest.model.hash,
      index,
      added: { runId: manifest.runId, finalizedAt: manifest.timings.finalizedAt },
      rowsMs,
      indexMs,
    });
    await writeLanceInfo(target, info);
    table.close();
    return { info, added, deleted };
  } finally {
    db.close();
  }
}

async function mergeChunk(table: lancedbTypes.Table, chunk: Parameters<lancedbTypes.Table['add']>[0], runId: string): Promise<void> {
  try {
    await table.mergeInsert('uri').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(chunk);
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    throw new Error(`run ${runId} could not be merged into the table (are its columns — labels, extra columns — those of the table's runs?): ${message}`);
  }
}

/** Deletes the uris of the run's deletions files, a few hundred per statement. */
async function applyDeletions(table: lancedbTypes.Table, folder: RunFolder, manifest: RunManifest): Promise<number> {
  let deleted = 0;
  for await (const file of runFiles(folder, manifest, { kind: 'deletions' })) {
    if (file.rows === 0) continue;
    for await (const batch of readParquetBatches(await folder.store.openBlob(folder.keyOf(file.key)), { columns: ['uri'], batchSize: 500 })) {
      const uris = batch.getChild('uri')!.toArray() as string[];
      if (uris.length === 0) continue;
      const before = await table.countRows();
      await table.delete(`uri IN (${uris.map(sqlString).join(', ')})`);
      deleted += before - (await table.countRows());
    }
  }
  return deleted;
}

/** A SQL string literal: single quotes doubled. */
export function sqlString(value: string): string {
  return `'${value.replaceAll("'", "''")}'`;
}

export interface EnsureIndexOptions {
  rows: number;
  dim: number;
  requested: LanceIndexType | 'auto';
  /** The index of the table before an incremental add. */
  previous?: LanceIndexParams;
}

/**
 * A new build gets the index its row count calls for (or the one asked for). An incremental add
 * keeps the table's index and brings it up to date; a table without one gets the one its new
 * row count calls for; another type asked for is built anew.
 */
export async function ensureIndex(lancedb: LanceDb, table: lancedbTypes.Table, options: EnsureIndexOptions): Promise<LanceIndexParams> {
  const previous = options.previous?.type;
  const auto = previous && previous !== 'none' ? previous : chooseIndexType(options.rows);
  const type = options.requested === 'auto' ? auto : options.requested;
  if (options.previous && options.previous.type === type) {
    if (type !== 'none') await table.optimize();
    return options.previous;
  }
  const params = indexParams(type, options.rows, options.dim);
  if (type === 'none') {
    for (const index of await table.listIndices()) await table.dropIndex(index.name);
    return params;
  }
  const config =
    type === 'ivf_pq'
      ? lancedb.Index.ivfPq({
          distanceType: 'cosine',
          numPartitions: params.numPartitions!,
          numSubVectors: params.numSubVectors!,
          numBits: params.numBits!,
          sampleRate: params.sampleRate!,
          maxIterations: params.maxIterations!,
        })
      : lancedb.Index.hnswSq({
          distanceType: 'cosine',
          numPartitions: params.numPartitions!,
          m: params.m!,
          efConstruction: params.efConstruction!,
          sampleRate: params.sampleRate!,
          maxIterations: params.maxIterations!,
        });
  await table.createIndex('embedding', { config, replace: true });
  return params;
}
