/**
 * The rows of a run, as Arrow tables of the LanceDB table's columns, streamed from the part files
 * its manifest lists a record batch at a time and handed out in chunks of about
 * {@link DEFAULT_CHUNK_BYTES} of embeddings: memory holds one chunk (and the batch being read),
 * never the run.
 *
 * Columns: `row_id` (int64: the part file's `row_id` column, or for files written before it
 * existed the same layout over the row's position in its part file, see libs/jobs row-id.ts),
 * `uri`, `embedding` (FixedSizeList<float32>[dim]: float16 files are cast to float32 here, so
 * that every table has one vector type whatever the run stored), `tags` and `scores` when the
 * run scored labels, then the run's extra (pass-through) columns as they are.
 */
import type * as arrow from 'apache-arrow';
import { Arrow, METADATA_KEYS, readParquetBatches, readParquetMetadata, vectorFloats } from '@siglip-batch/io';
import { runFiles, type RunFolder } from '@siglip-batch/run-format';
import { extraColumnSchema, rowIdsOf, type RunManifest } from '@siglip-batch/jobs';

/** Embedding bytes per chunk handed to LanceDB (one `add`, one fragment of the table). */
export const DEFAULT_CHUNK_BYTES = 128 * 1024 * 1024;

export interface LanceRowsOptions {
  /** @defaultValue {@link DEFAULT_CHUNK_BYTES} */
  chunkBytes?: number;
}

/** Columns of every table, in order; extra columns follow. */
const LANCE_CORE_COLUMNS = ['row_id', 'uri', 'embedding', 'tags', 'scores'] as const;

/** Chunks of a run's rows (see the file comment). Empty part files are skipped. */
export async function* lanceRowChunks(folder: RunFolder, manifest: RunManifest, options: LanceRowsOptions = {}): AsyncGenerator<arrow.Table> {
  const dim = manifest.embeddingDim;
  const chunkRows = Math.max(1, Math.floor((options.chunkBytes ?? DEFAULT_CHUNK_BYTES) / (dim * 4)));
  let pending: arrow.Table[] = [];
  let pendingRows = 0;
  const flush = (): arrow.Table => {
    const [first, ...rest] = pending;
    const table = rest.length > 0 ? first!.concat(...rest) : first!;
    pending = [];
    pendingRows = 0;
    return table;
  };
  for await (const part of runFiles(folder, manifest, { kind: 'part' })) {
    if (part.rows === 0) continue;
    const key = folder.keyOf(part.key);
    const meta = await readParquetMetadata(await folder.store.openBlob(key));
    const fileDim = Number(meta.keyValueMetadata[METADATA_KEYS.embeddingDim]);
    if (fileDim !== dim) throw new Error(`${folder.uriOf(part.key)}: embeddings of ${fileDim} dimensions, the manifest says ${dim}`);
    const extra = extraColumnSchema
      .array()
      .parse(JSON.parse(meta.keyValueMetadata[METADATA_KEYS.extraColumns] ?? '[]'))
      .map((column) => column.name);
    const names = new Set(meta.schema.fields.map((field) => field.name));
    const columns = [...LANCE_CORE_COLUMNS.filter((name) => names.has(name)), ...extra.filter((name) => names.has(name))];
    let row = 0;
    for await (const batch of readParquetBatches(await folder.store.openBlob(key), { columns, batchSize: 4096 })) {
      pending.push(lanceBatch(batch, { dim, extra, runId: manifest.runId, shard: part.shard ?? 0, firstRow: row }));
      row += batch.numRows;
      pendingRows += batch.numRows;
      if (pendingRows >= chunkRows) yield flush();
    }
    if (row !== part.rows) throw new Error(`${folder.uriOf(part.key)}: read ${row} rows, the manifest lists ${part.rows}`);
  }
  if (pendingRows > 0) yield flush();
}

interface BatchContext {
  dim: number;
  extra: string[];
  runId: string;
  shard: number;
  /** Position of the batch's first row in its part file. */
  firstRow: number;
}

function lanceBatch(batch: arrow.RecordBatch, context: BatchContext): arrow.Table {
  const rows = batch.numRows;
  const vectors: Record<string, arrow.Vector> = {};
  const stored = batch.getChild('row_id');
  if (stored) vectors['row_id'] = stored;
  else {
    const positions = Array.from({ length: rows }, (_, i) => context.firstRow + i);
    vectors['row_id'] = Arrow.makeVector(rowIdsOf(context.runId, context.shard, positions));
  }
  vectors['uri'] = batch.getChild('uri')!;
  vectors['embedding'] = float32Vectors(batch.getChild('embedding')!, context.dim, rows);
  for (const name of ['tags', 'scores', ...context.extra]) {
    const column = batch.getChild(name);
    if (column) vectors[name] = column;
  }
  return new Arrow.Table(vectors);
}

/** The column as one non-null FixedSizeList<float32 not null>[dim] vector (float16 cast). */
export function float32Vectors(column: arrow.Vector, dim: number, rows: number): arrow.Vector {
  const values = new Float32Array(rows * dim);
  let row = 0;
  for (const data of column.data) {
    values.set(vectorFloats(data, dim), row * dim);
    row += data.length;
  }
  const type = new Arrow.FixedSizeList(dim, new Arrow.Field('item', new Arrow.Float32(), false));
  const child = Arrow.makeData({ type: new Arrow.Float32(), length: rows * dim, nullCount: 0, data: values });
  return Arrow.makeVector(Arrow.makeData({ type, length: rows, nullCount: 0, child }));
}
