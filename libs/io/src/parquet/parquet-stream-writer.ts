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
import * as parquet from 'parquet-wasm';
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
  return Readable.from(
    (async function* () {
      const bytes = (await parquet.transformParquetStream(batches, writerProperties(options))) as ReadableStream<Uint8Array>;
      yield* Readable.fromWeb(bytes as import('node:stream/web').ReadableStream<Uint8Array>);
      // The writer ends its output quietly (a short file) when the input fails: raised here instead.
      if (failure) throw failure;
    })(),
    { objectMode: false },
  );
}
