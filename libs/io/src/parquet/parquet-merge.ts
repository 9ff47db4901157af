/**
 * Streaming merge of Parquet files that share one schema (compaction of a run's part files):
 * the sources are read row group by row group, in order, and their record batches go straight
 * into parquet-wasm's streaming writer (`transformParquetStream`), whose output is a stream of
 * bytes written one row group at a time. Batches never leave wasm memory and are never
 * converted, so every value — embeddings included — is copied bit for bit. Memory holds one
 * source batch and the row group being written, whatever the number or size of the sources.
 */
import { Readable } from 'node:stream';
import * as parquet from 'parquet-wasm';
import type { RandomAccessBlob } from '../object-store';
import { writerProperties } from './parquet-encoder';
import { readParquetMetadata } from './parquet-reader';
import { ERRORS_FILE_ENCODING, PART_FILE_ENCODING } from './parquet-shard-writer';
import { METADATA_KEYS } from './shard-schema';

export interface MergeParquetOptions {
  /**
   * Rows per row group of the output.
   * @defaultValue 8192 (as the shard writer)
   */
  rowGroupSize?: number;
  /** Rows per batch read from the sources. @defaultValue 1024 */
  batchSize?: number;
}

/** A source: opened when the merge reaches it (a store's `openBlob`), not before. */
export type MergeSource = () => Promise<RandomAccessBlob>;

export class ParquetMergeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/**
 * Checks that the sources can be merged (same columns and types, same key-value metadata:
 * the files of one run) and returns the bytes of the merged file as a stream, with the
 * encoding of the shard writer for their kind (`siglip_batch.file_kind`). Footers only are
 * read by the check.
 */
export async function mergeParquetFiles(sources: readonly MergeSource[], options: MergeParquetOptions = {}): Promise<Readable> {
  if (sources.length === 0) throw new ParquetMergeError('nothing to merge');
  const first = await readParquetMetadata(await sources[0]!());
  const shape = schemaShape(first.schema.fields);
  const metadata = JSON.stringify(Object.entries(first.keyValueMetadata).sort());
  for (let i = 1; i < sources.length; i++) {
    const other = await readParquetMetadata(await sources[i]!());
    if (schemaShape(other.schema.fields) !== shape) {
      throw new ParquetMergeError(`source ${i + 1} has other columns than the first: ${schemaShape(other.schema.fields)} vs ${shape}`);
    }
    if (JSON.stringify(Object.entries(other.keyValueMetadata).sort()) !== metadata) {
      throw new ParquetMergeError(`source ${i + 1} has other file metadata than the first (not files of one run?)`);
    }
  }
  const kind = first.keyValueMetadata[METADATA_KEYS.fileKind];
  const encoding = kind === 'errors' ? ERRORS_FILE_ENCODING : kind === 'part' ? PART_FILE_ENCODING : {};
  const properties = writerProperties({
    metadata: new Map(Object.entries(first.keyValueMetadata)),
    ...(options.rowGroupSize !== undefined ? { rowGroupSize: options.rowGroupSize } : {}),
    ...encoding,
  });
  const batches = sourceBatches(sources, options.batchSize ?? 1024);
  const bytes = (await parquet.transformParquetStream(batches, properties)) as ReadableStream<Uint8Array>;
  return Readable.fromWeb(bytes as import('node:stream/web').ReadableStream<Uint8Array>);
}

function schemaShape(fields: ReadonlyArray<{ name: string; type: unknown; nullable: boolean }>): string {
  return fields.map((field) => `${field.name}:${String(field.type)}${field.nullable ? '?' : ''}`).join(', ');
}

/** The sources' record batches, one file after another, pulled as the writer asks. */
function sourceBatches(sources: readonly MergeSource[], batchSize: number): ReadableStream<parquet.RecordBatch> {
  let next = 0;
  let file: parquet.ParquetFile | undefined;
  let reader: ReadableStreamDefaultReader<parquet.RecordBatch> | undefined;
  const release = () => {
    reader?.releaseLock();
    file?.free();
    reader = undefined;
    file = undefined;
  };
  return new ReadableStream<parquet.RecordBatch>(
    {
      async pull(controller) {
        for (;;) {
          if (!reader) {
            if (next >= sources.length) {
              controller.close();
              return;
            }
            const source = sources[next++]!;
            // parquet-wasm only calls size/slice/arrayBuffer on it (see parquet-reader.ts).
            file = await parquet.ParquetFile.fromFile((await source()) as Blob);
            reader = ((await file.stream({ batchSize })) as ReadableStream<parquet.RecordBatch>).getReader();
          }
          const { done, value } = await reader.read();
          if (done) {
            release();
            continue;
          }
          controller.enqueue(value);
          return;
        }
      },
      async cancel() {
        await reader?.cancel().catch(() => undefined);
        release();
      },
    },
    { highWaterMark: 0 },
  );
}
