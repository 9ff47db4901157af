/**
 * A Parquet file written as its rows come: each Arrow table pulled from the input (a few
 * thousand rows) crosses into wasm and goes to parquet-wasm's streaming writer
 * (`transformParquetStream`), which writes a row group whenever it holds `rowGroupSize` rows and
 * hands the bytes on. Memory holds one input table and the row group being written, whatever the
 * file's size (the writer of the processed index and of `latest`). An input table of exactly
 * `rowGroupSize` rows is exactly one row group.
 */
import { Readable } from 'node:stream';
import type * as arrow from 'apache-arrow';
import { parquet } from '../lazy-parquet';
import { Arrow } from '../lazy-arrow';
import { writerProperties, type EncodeTableOptions } from './parquet-encoder';

/** The Parquet bytes of the tables, in order, as a stream (pulled: a table is built only when the writer asks for it). */
export function encodeTableStream(tables: AsyncIterable<arrow.Table>, options: EncodeTableOptions): Readable {
  const iterator = tables[Symbol.asyncIterator]();
  let failure: Error | undefined;
  const batches = new ReadableStream<parquet.RecordBatch>(
    {
      async pull(controller) {
        try {
          const next = await iterator.next();
          if (next.done) {
            controller.close();
            return;
          }
          const table = parquet.Table.fromIPCStream(Arrow.tableToIPC(next.value, 'stream'));
          try {
            for (const batch of table.recordBatches()) controller.enqueue(batch);
          } finally {
            table.free();
          }
        } catch (error) {
          failure ??= error instanceof Error ? error : new Error(String(error));
          throw failure;
        }
      },
      async cancel() {
        await iterator.return?.();
      },
    },
    { highWaterMark: 0 },
  );
  return encodeBatchStream(batches, () => failure, options);
}

/**
 * The Parquet bytes of wasm record batches pulled from `batches` (the streaming merge's source
 * batches too). `failure` is the error the input stream failed with, if it did: it is raised in
 * place of the writer's own report of it, or of its quiet end.
 */
export function encodeBatchStream(batches: ReadableStream<parquet.RecordBatch>, failure: () => Error | undefined, options: EncodeTableOptions): Readable {
  return Readable.from(
    (async function* () {
      // The writer reports a failure of the input as its own ("Dyn casting error"): the input's error it is.
      const bytes = (await parquet.transformParquetStream(batches, writerProperties(options)).catch((error: unknown) => {
        throw failure() ?? error;
      })) as ReadableStream<Uint8Array>;
      try {
        yield* Readable.fromWeb(bytes as import('node:stream/web').ReadableStream<Uint8Array>);
      } catch (error) {
        throw failure() ?? error;
      }
      // Or it ends its output quietly (a short file): raised here instead.
      const error = failure();
      if (error) throw error;
    })(),
    { objectMode: false },
  );
}
