/**
 * `siglip-batch index --latest <out>`: the `latest` view of an output (the newest embedded row
 * of every object across its runs, `<out>/_latest/`) into a LanceDB table, or merged into one.
 *
 * The view's files are streamed in chunks, like a run's part files (lance-rows.ts). A new build
 * writes them as they are: `row_id` (null for rows of runs written before row ids), `uri`,
 * `embedding`, `tags` — no `scores`, runs may have scored different labels. Merged into an
 * existing table (`incremental`), each chunk is matched on `uri`: a row whose uri is in the
 * table replaces it, the others are appended; columns the view has not (`scores`, extra columns
 * of the runs the table was built from) are null in those rows. The view is the whole current
 * set, so objects the output's processed index no longer holds as embedded (deleted since, or
 * failed in their newest run) are then deleted from the table, a few hundred per statement,
 * streaming the index. Rows of objects the index never saw (a table built from another output)
 * are kept.
 *
 * The view and the processed index are read through a `LatestView` (declared in
 * libs/run-format), which libs/pipeline opens (`openLatestView`): this lib knows their files, not
 * how they are kept.
 */
import type * as lancedbTypes from '@lancedb/lancedb';
import type * as arrow from 'apache-arrow';
import { Arrow, METADATA_KEYS, readParquetBatches, readParquetMetadata } from '@siglip-batch/io';
import type { LatestView } from '@siglip-batch/run-format';
import { ensureIndex, loadLanceDb, sqlString, type BuildLanceIndexResult } from './lance-build';
import { nextLanceInfo, readLanceInfo, writeLanceInfo, type LanceIndexType } from './lance-info';
import { DEFAULT_CHUNK_BYTES, float32Vectors } from './lance-rows';
import { LANCE_TABLE, type LanceTarget } from './lance-target';

export interface BuildLatestLanceIndexOptions {
  view: LatestView;
  target: LanceTarget;
  /** Merge the view into the table at `target` instead of building a new one. */
  incremental?: boolean;
  overwrite?: boolean;
  /** The view's model, when it holds several: a prefix of its hash, `+fast-<gap>` for fast-decoded rows. */
  modelHash?: string;
  indexType?: LanceIndexType | 'auto';
  chunkBytes?: number;
  onProgress?(rows: number): void;
}

/** The run name a table built or merged from the latest view records in `_index.json`. */
const LATEST_RUN_NAME = 'latest';

export async function buildLatestLanceIndex(options: BuildLatestLanceIndexOptions): Promise<BuildLanceIndexResult> {
  const { view, target } = options;
  const { output } = view;
  const where = output.store.uriOf(output.prefix);
  // The view's files and the index entries are kept apart per model and decode mode (the key);
  // the table records the model's hash, as for runs.
  const modelKey = pickModel(view, options.modelHash, where);
  const modelHash = modelKey.replace(/\+fast-\d+$/, '');
  const files = view.files.filter((file) => file.modelHash === modelKey && file.rows > 0);
  if (files.length === 0) throw new Error(`the latest view of ${where} has no rows: nothing to index`);
  const dim = Number((await readParquetMetadata(await output.store.openBlob(output.prefix + files[0]!.key))).keyValueMetadata[METADATA_KEYS.embeddingDim]);
  const previous = await readLanceInfo(target);
  if (options.incremental) {
    if (!previous) throw new Error(`${target.display} holds no table built by siglip-batch index (no _index.json): build it first without --incremental`);
    if (previous.modelHash !== modelHash) throw new Error(`${target.display} holds embeddings of model ${previous.modelHash.slice(0, 12)}…, the latest view ${modelHash.slice(0, 12)}…: they cannot be searched together`);
    if (previous.embeddingDim !== dim) throw new Error(`${target.display} holds ${previous.embeddingDim}-d embeddings, the latest view ${dim}-d`);
  } else if (previous && !options.overwrite && previous.lastRun.runId !== LATEST_RUN_NAME) {
    throw new Error(`${target.display} already holds a table of run ${previous.lastRun.runId}: merge the view into it with --incremental, or replace it with --overwrite`);
  }
  const lancedb = await loadLanceDb();
  const db = await lancedb.connect(target.uri, { storageOptions: target.storageOptions });
  try {
    const started = performance.now();
    let added = 0;
    let table = options.incremental ? await db.openTable(LANCE_TABLE) : undefined;
    const schema = table ? await table.schema() : undefined;
    const chunkRows = Math.max(1, Math.floor((options.chunkBytes ?? DEFAULT_CHUNK_BYTES) / (dim * 4)));
    for await (const chunk of latestChunks(output, files, dim, chunkRows)) {
      if (!table) table = await db.createTable(LANCE_TABLE, chunk, { mode: 'overwrite' });
      else if (schema) {
        try {
          await table.mergeInsert('uri').whenMatchedUpdateAll().whenNotMatchedInsertAll().execute(alignTo(chunk, schema));
        } catch (error) {
          throw new Error(`the latest view could not be merged into ${target.display}: ${error instanceof Error ? error.message : String(error)}`);
        }
      } else await table.add(chunk);
      added += chunk.numRows;
      options.onProgress?.(added);
    }
    if (!table) throw new Error(`the latest view of ${where} has no rows: nothing to index`);
    const deleted = options.incremental ? await deleteGone(table, view, modelKey) : 0;
    const rowsMs = performance.now() - started;
    const rows = await table.countRows();
    const indexStarted = performance.now();
    const index = await ensureIndex(lancedb, table, {
      rows,
      dim,
      requested: options.indexType ?? 'auto',
      ...(options.incremental && previous ? { previous: previous.index } : {}),
    });
    const info = nextLanceInfo(options.incremental ? previous : undefined, {
      table: LANCE_TABLE,
      rows,
      embeddingDim: dim,
      modelHash,
      index,
      added: { runId: LATEST_RUN_NAME, finalizedAt: view.updatedAt },
      rowsMs,
      indexMs: performance.now() - indexStarted,
    });
    await writeLanceInfo(target, info);
    table.close();
    return { info, added, deleted };
  } finally {
    db.close();
  }
}

function pickModel(view: LatestView, wanted: string | undefined, where: string): string {
  const models = [...new Set(view.files.map((file) => file.modelHash))];
  const matching = wanted === undefined ? models : models.includes(wanted) ? [wanted] : models.filter((key) => key.startsWith(wanted));
  if (matching.length === 1) return matching[0]!;
  const list = models.map((key) => key.replace(/^(.{12}).*?(\+fast-\d+)?$/, '$1…$2')).join(', ') || 'none';
  if (matching.length === 0 && wanted !== undefined) throw new Error(`the latest view of ${where} holds no model ${wanted} (models: ${list})`);
  if (matching.length === 0) throw new Error(`the latest view of ${where} is empty`);
  throw new Error(`the latest view of ${where} holds embeddings of several models (${list}): choose one with --model-hash`);
}

/** The view's rows for one model, in chunks of about `chunkRows` rows. */
async function* latestChunks(output: LatestView['output'], files: LatestView['files'], dim: number, chunkRows: number): AsyncGenerator<arrow.Table> {
  let pending: arrow.Table[] = [];
  let pendingRows = 0;
  const flush = (): arrow.Table => {
    const [first, ...rest] = pending;
    pending = [];
    pendingRows = 0;
    return rest.length > 0 ? first!.concat(...rest) : first!;
  };
  for (const file of files) {
    const blob = () => output.store.openBlob(output.prefix + file.key);
    const fileDim = Number((await readParquetMetadata(await blob())).keyValueMetadata[METADATA_KEYS.embeddingDim]);
    if (fileDim !== dim) throw new Error(`${output.store.uriOf(output.prefix + file.key)}: embeddings of ${fileDim} dimensions, the view's first file ${dim}`);
    for await (const batch of readParquetBatches(await blob(), { columns: ['row_id', 'uri', 'embedding', 'tags'], batchSize: 4096 })) {
      pending.push(
        new Arrow.Table({
          row_id: batch.getChild('row_id')!,
          uri: batch.getChild('uri')!,
          embedding: float32Vectors(batch.getChild('embedding')!, dim, batch.numRows),
          tags: batch.getChild('tags')!,
        }),
      );
      pendingRows += batch.numRows;
      if (pendingRows >= chunkRows) yield flush();
    }
  }
  if (pendingRows > 0) yield flush();
}

/** The chunk with the table's columns, in its order: those it lacks all null. */
function alignTo(chunk: arrow.Table, schema: arrow.Schema): arrow.Table {
  const vectors: Record<string, arrow.Vector> = {};
  for (const field of schema.fields) {
    vectors[field.name] = chunk.getChild(field.name) ?? Arrow.vectorFromArray(Array.from({ length: chunk.numRows }, () => null), field.type);
  }
  return new Arrow.Table(vectors);
}

/** Deletes the rows of objects whose newest index entry for the model is not an embedded row. */
async function deleteGone(table: lancedbTypes.Table, view: LatestView, modelKey: string): Promise<number> {
  const before = await table.countRows();
  let uris: string[] = [];
  const flush = async () => {
    if (uris.length > 0) await table.delete(`uri IN (${uris.map(sqlString).join(', ')})`);
    uris = [];
  };
  for await (const uri of view.goneUris(modelKey)) {
    uris.push(uri);
    if (uris.length >= 500) await flush();
  }
  await flush();
  return before - (await table.countRows());
}
