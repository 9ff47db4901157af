/**
 * Streaming merge of Parquet files that share one schema (compaction of a run's part files):
 * the sources are read row group by row group, in order, and their record batches go straight
 * into the streaming writer of parquet-stream-writer.ts (parquet-wasm's `transformParquetStream`),
 * whose output is a stream of bytes written one row group at a time. Batches never leave wasm
 * memory and are never converted, so every value — embeddings included — is copied bit for bit.
 * Memory holds one source batch and the row group being written, whatever the number or size of
 * the sources.
 */
import type { Readable } from 'node:stream';
import { parquet } from '../lazy-parquet';
import type { RandomAccessBlob } from '../object-store';
import { guardParquetSource, unlessReadFailed, type GuardedParquetSource } from './guarded-parquet-source';
import type { EncodeTableOptions } from './parquet-encoder';
import { readParquetMetadata } from './parquet-reader';
import { encodeBatchStream } from './parquet-stream-writer';

/** Per-column encoding of a file (see parquet-encoder.ts). */
export type ColumnEncoding = Pick<EncodeTableOptions, 'dictionaryColumns' | 'statisticsColumns'>;

export interface MergeParquetOptions {
  /**
   * Rows per row group of the output.
   * @defaultValue 8192 (as the shard writer)
   */
  rowGroupSize?: number;
  /** Rows per batch read from the sources. @defaultValue 1024 */
  batchSize?: number;
  /**
   * The output's per-column encoding, from the sources' key-value metadata (the writer of their
   * kind knows it: libs/run-format `mergeShardFiles`). @defaultValue none (see parquet-encoder.ts)
   */
  encoding?: (keyValueMetadata: Readonly<Record<string, string>>) => ColumnEncoding;
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
 * encoding `options.encoding` gives. Footers only are read by the check.
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
  const encoding = options.encoding?.(first.keyValueMetadata) ?? {};
  const batches = sourceBatches(sources, options.batchSize ?? 1024);
  // A source that fails to read fails the output with its own error (parquet-stream-writer.ts).
  return encodeBatchStream(batches.stream, () => batches.error(), {
    metadata: new Map(Object.entries(first.keyValueMetadata)),
    ...(options.rowGroupSize !== undefined ? { rowGroupSize: options.rowGroupSize } : {}),
    ...encoding,
  });
}

function schemaShape(fields: ReadonlyArray<{ name: string; type: unknown; nullable: boolean }>): string {
  return fields.map((field) => `${field.name}:${String(field.type)}${field.nullable ? '?' : ''}`).join(', ');
}

/** The sources' record batches, one file after another, pulled as the writer asks. */
function sourceBatches(sources: readonly MergeSource[], batchSize: number): { stream: ReadableStream<parquet.RecordBatch>; error(): Error | undefined } {
  let next = 0;
  let failure: Error | undefined;
  let file: parquet.ParquetFile | undefined;
  let reader: ReadableStreamDefaultReader<parquet.RecordBatch> | undefined;
  let guarded: GuardedParquetSource | undefined;
  const release = () => {
    // A source whose read failed is left alone: its read is still pending inside wasm.
    if (guarded?.error) return;
    reader?.releaseLock();
    file?.free();
    reader = undefined;
    file = undefined;
  };
  const stream = new ReadableStream<parquet.RecordBatch>(
    {
      async pull(controller) {
        try {
          await pullOne(controller);
        } catch (error) {
          failure ??= error instanceof Error ? error : new Error(String(error));
          throw failure;
        }
      },
      async cancel() {
        if (!guarded?.error) await reader?.cancel().catch(() => undefined);
        release();
      },
    },
    { highWaterMark: 0 },
  );
  return { stream, error: () => failure };

  async function pullOne(controller: ReadableStreamDefaultController<parquet.RecordBatch>): Promise<void> {
    for (;;) {
      if (!reader) {
        if (next >= sources.length) {
          controller.close();
          return;
        }
        const source = sources[next++]!;
        // A failed read of a source never reaches wasm (see guarded-parquet-source.ts).
        guarded = guardParquetSource(await source());
        file = await unlessReadFailed(guarded, parquet.ParquetFile.fromFile(guarded.blob));
        reader = ((await unlessReadFailed(guarded, file.stream({ batchSize }))) as ReadableStream<parquet.RecordBatch>).getReader();
      }
      const { done, value } = await unlessReadFailed(guarded!, reader.read());
      if (done) {
        release();
        continue;
      }
      controller.enqueue(value);
      return;
    }
  }
}
