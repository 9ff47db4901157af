/**
 * Streaming reads of Parquet files (search, retag, incremental runs, Parquet manifests).
 *
 * parquet-wasm's streaming reader (`ParquetFile.stream`) reads from a Blob-like source by byte
 * ranges (`size`, `slice(a, b).arrayBuffer()`), row group by row group. Given bytes, we wrap them
 * in a Blob; given a {@link RandomAccessBlob} (`store.openBlob(key)`: a file Blob, or ranged S3
 * GETs) the file is never read whole. Batches cross from wasm memory as Arrow IPC, one at a time.
 * A read of the source that fails (the file deleted or replaced meanwhile) fails the call with
 * the store's error, never wasm (see guarded-parquet-source.ts).
 */
import type * as arrow from 'apache-arrow';
import { Arrow } from '../lazy-arrow';
import { parquet } from '../lazy-parquet';
import type { RandomAccessBlob } from '../object-store';
import { vectorDtypeOf, vectorFloats } from './float16';
import { guardParquetSource, unlessReadFailed, type GuardedParquetSource } from './guarded-parquet-source';

export type ParquetSource = Uint8Array | Blob | RandomAccessBlob;

export interface ReadParquetOptions {
  /** Top-level columns to read (all when omitted). */
  columns?: string[];
  /**
   * Rows per record batch.
   * @defaultValue 1024
   */
  batchSize?: number;
  /** Only these row groups (all when omitted). */
  rowGroups?: number[];
  /** Rows to skip from the start of the file (a range of a sorted file, e.g. one index partition). */
  offset?: number;
  /** Rows to read at most (after `offset`). */
  limit?: number;
  /**
   * Chooses the rows from the file's key-value metadata, once it is open (one open instead of a
   * metadata read and then a data read): a range, or null for none.
   */
  rowsFromMetadata?(metadata: Readonly<Record<string, string>>): { offset: number; limit: number } | null;
}

export interface ParquetMetadata {
  numRows: number;
  numRowGroups: number;
  /** File key-value metadata, without the `ARROW:schema` entry. */
  keyValueMetadata: Record<string, string>;
  /** The Arrow schema (nullability and FixedSizeList types restored from ARROW:schema). */
  schema: arrow.Schema;
}

async function openParquet(guarded: GuardedParquetSource): Promise<parquet.ParquetFile> {
  let file: parquet.ParquetFile;
  try {
    file = await unlessReadFailed(guarded, parquet.ParquetFile.fromFile(guarded.blob));
  } catch (error) {
    // The store's error (a file gone meanwhile) as it is; anything else is the file's fault.
    if (error === guarded.error) throw error;
    throw new Error(`not a readable Parquet file: ${errorText(error)}`);
  }
  return file;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Frees a file whose read may still be pending in wasm (a failed read): never throws. */
function release(file: parquet.ParquetFile): void {
  try {
    file.free();
  } catch {
    // Still borrowed by the pending read: left to it.
  }
}

export async function* readParquetBatches(source: ParquetSource, options: ReadParquetOptions = {}): AsyncGenerator<arrow.RecordBatch> {
  const guarded = guardParquetSource(source);
  const file = await openParquet(guarded);
  let failed = false;
  try {
    let range: { offset?: number; limit?: number } = options;
    if (options.rowsFromMetadata) {
      const keyValue: Record<string, string> = {};
      for (const [key, value] of file.metadata().fileMetadata().keyValueMetadata()) {
        if (key !== 'ARROW:schema') keyValue[String(key)] = String(value);
      }
      const chosen = options.rowsFromMetadata(keyValue);
      if (!chosen || chosen.limit === 0) return;
      range = chosen;
    }
    const stream = (await unlessReadFailed(
      guarded,
      file.stream({
        batchSize: options.batchSize ?? 1024,
        ...(options.columns ? { columns: options.columns } : {}),
        ...(options.rowGroups ? { rowGroups: options.rowGroups } : {}),
        ...(range.offset !== undefined ? { offset: range.offset } : {}),
        ...(range.limit !== undefined ? { limit: range.limit } : {}),
      }),
    )) as ReadableStream<parquet.RecordBatch>;
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await unlessReadFailed(guarded, reader.read()).catch((error: unknown) => {
          failed = true;
          throw error;
        });
        if (done) return;
        // intoIPCStream consumes (frees) the wasm batch.
        const table = Arrow.tableFromIPC(value.intoIPCStream());
        yield* table.batches;
      }
    } finally {
      // A stream whose read is stuck on a failed source is left alone: touching it from here
      // would re-enter the pending wasm call.
      if (!failed) {
        await reader.cancel().catch(() => undefined);
        reader.releaseLock();
      }
    }
  } finally {
    if (!failed) release(file);
  }
}

export async function readParquetMetadata(source: ParquetSource): Promise<ParquetMetadata> {
  const file = await openParquet(guardParquetSource(source));
  try {
    const metadata = file.metadata();
    const fileMetadata = metadata.fileMetadata();
    const keyValueMetadata: Record<string, string> = {};
    for (const [key, value] of fileMetadata.keyValueMetadata()) {
      if (key !== 'ARROW:schema') keyValueMetadata[String(key)] = String(value);
    }
    const schema = Arrow.tableFromIPC(file.schema().intoIPCStream()).schema;
    return { numRows: fileMetadata.numRows(), numRowGroups: metadata.numRowGroups(), keyValueMetadata, schema };
  } finally {
    file.free();
  }
}

export interface VectorColumn {
  rows: number;
  dim: number;
  /** rows × dim, row-major. */
  values: Float32Array;
}

/** A FixedSizeList<float32 | float16> column (`embedding` by default) read into one Float32Array. */
export async function readVectorColumn(source: ParquetSource, column = 'embedding'): Promise<VectorColumn> {
  const { numRows, schema } = await readParquetMetadata(source);
  const field = schema.fields.find((candidate) => candidate.name === column);
  if (!field) throw new Error(`no column "${column}" in the Parquet file`);
  if (!Arrow.DataType.isFixedSizeList(field.type) || vectorDtypeOf(field) === undefined) {
    throw new Error(`column "${column}" is ${field.type}, not FixedSizeList<Float32> or FixedSizeList<Float16>`);
  }
  const dim = field.type.listSize;
  const values = new Float32Array(numRows * dim);
  let row = 0;
  for await (const batch of readParquetBatches(source, { columns: [column], batchSize: 4096 })) {
    for (const data of batch.getChild(column)!.data) {
      // float16 files are cast to float32 here.
      values.set(vectorFloats(data, dim), row * dim);
      row += data.length;
    }
  }
  if (row !== numRows) throw new Error(`read ${row} rows of "${column}", the file says ${numRows}`);
  return { rows: numRows, dim, values };
}
