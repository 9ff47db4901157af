/**
 * Streaming reads of Parquet files (search, retag, incremental runs, Parquet manifests).
 *
 * parquet-wasm's streaming reader (`ParquetFile.stream`) reads from a Blob-like source by byte
 * ranges (`size`, `slice(a, b).arrayBuffer()`), row group by row group. Given bytes, we wrap them
 * in a Blob; given a {@link RandomAccessBlob} (`store.openBlob(key)`: a file Blob, or ranged S3
 * GETs) the file is never read whole. Batches cross from wasm memory as Arrow IPC, one at a time.
 */
import type * as arrow from 'apache-arrow';
import { Arrow } from '../lazy-arrow';
import * as parquet from 'parquet-wasm';
import type { RandomAccessBlob } from '../object-store';

export type ParquetSource = Uint8Array | Blob | RandomAccessBlob;

export interface ReadParquetOptions {
  /** Top-level columns to read (all when omitted). */
  columns?: string[];
  /**
   * Rows per record batch.
   * @defaultValue 1024
   */
  batchSize?: number;
}

export interface ParquetMetadata {
  numRows: number;
  numRowGroups: number;
  /** File key-value metadata, without the `ARROW:schema` entry. */
  keyValueMetadata: Record<string, string>;
  /** The Arrow schema (nullability and FixedSizeList types restored from ARROW:schema). */
  schema: arrow.Schema;
}

function toBlob(source: ParquetSource): Blob {
  // parquet-wasm only calls size/slice/arrayBuffer on it, so a RandomAccessBlob stands in for a Blob.
  return (source instanceof Uint8Array ? new Blob([source]) : source) as Blob;
}

async function openParquet(source: ParquetSource): Promise<parquet.ParquetFile> {
  try {
    return await parquet.ParquetFile.fromFile(toBlob(source));
  } catch (error) {
    throw new Error(`not a readable Parquet file: ${errorText(error)}`);
  }
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export async function* readParquetBatches(source: ParquetSource, options: ReadParquetOptions = {}): AsyncGenerator<arrow.RecordBatch> {
  const file = await openParquet(source);
  try {
    const stream = (await file.stream({
      batchSize: options.batchSize ?? 1024,
      ...(options.columns ? { columns: options.columns } : {}),
    })) as ReadableStream<parquet.RecordBatch>;
    const reader = stream.getReader();
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return;
        // intoIPCStream consumes (frees) the wasm batch.
        const table = Arrow.tableFromIPC(value.intoIPCStream());
        yield* table.batches;
      }
    } finally {
      await reader.cancel().catch(() => undefined);
      reader.releaseLock();
    }
  } finally {
    file.free();
  }
}

export async function readParquetMetadata(source: ParquetSource): Promise<ParquetMetadata> {
  const file = await openParquet(source);
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

/** A FixedSizeList<float32> column (`embedding` by default) read into one Float32Array. */
export async function readVectorColumn(source: ParquetSource, column = 'embedding'): Promise<VectorColumn> {
  const { numRows, schema } = await readParquetMetadata(source);
  const field = schema.fields.find((candidate) => candidate.name === column);
  if (!field) throw new Error(`no column "${column}" in the Parquet file`);
  if (!Arrow.DataType.isFixedSizeList(field.type) || !Arrow.DataType.isFloat(field.type.children[0]!.type)) {
    throw new Error(`column "${column}" is ${field.type}, not FixedSizeList<Float32>`);
  }
  const dim = field.type.listSize;
  const values = new Float32Array(numRows * dim);
  let row = 0;
  for await (const batch of readParquetBatches(source, { columns: [column], batchSize: 4096 })) {
    for (const data of batch.getChild(column)!.data) {
      // The child vector's toArray() honours slice offsets; IPC batches normally have none.
      const floats = Arrow.makeVector(data.children[0]! as arrow.Data<arrow.Float32>).toArray();
      values.set(floats.subarray(0, data.length * dim), row * dim);
      row += data.length;
    }
  }
  if (row !== numRows) throw new Error(`read ${row} rows of "${column}", the file says ${numRows}`);
  return { rows: numRows, dim, values };
}
