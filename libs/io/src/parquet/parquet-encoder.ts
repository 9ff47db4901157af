/**
 * Arrow table → Parquet bytes through parquet-wasm (Rust `parquet` crate, node build: the wasm
 * module loads synchronously on import, no init call).
 *
 * Measured with bench/io-bench.ts (10,000 rows × 1,152 + 100 floats, zstd): dictionary encoding
 * of float vectors never pays (every value is distinct; the writer builds the dictionary, then
 * falls back) and min/max statistics of vector elements are of no use to any reader, so both are
 * off for the whole file. parquet-wasm only matches per-column settings against top-level
 * columns (a dotted path such as `embedding.list.item` is taken as one name), so the vector
 * columns cannot be singled out: dictionaries are switched back on, and chunk statistics kept,
 * for the named top-level columns instead.
 */
import type * as arrow from 'apache-arrow';
import { Arrow } from '../lazy-arrow';
import { parquet } from '../lazy-parquet';

export interface ParquetWriteOptions {
  /**
   * Rows per row group: the unit of parallel and streaming reads.
   * @defaultValue 8192
   */
  rowGroupSize?: number;
  /**
   * Dictionary-encode every column (the parquet default) instead of only `dictionaryColumns`.
   * @defaultValue false
   */
  dictionary?: boolean;
  /**
   * Statistics for every column, pages included (the parquet default), instead of chunk-level
   * statistics for `statisticsColumns` only.
   * @defaultValue false
   */
  statistics?: boolean;
}

export interface EncodeTableOptions extends ParquetWriteOptions {
  /** File key-value metadata (also kept in the Arrow schema, where pyarrow reads it). */
  metadata: ReadonlyMap<string, string>;
  /** Top-level columns that keep dictionary encoding (low-cardinality strings). */
  dictionaryColumns?: readonly string[];
  /** Top-level columns that keep chunk min/max statistics (row-group pruning). */
  statisticsColumns?: readonly string[];
}

export const DEFAULT_ROW_GROUP_SIZE = 8192;

export function encodeTable(table: arrow.Table, options: EncodeTableOptions): Uint8Array {
  // Both the wasm table and the properties are consumed (freed) by writeParquet.
  const wasmTable = parquet.Table.fromIPCStream(Arrow.tableToIPC(table, 'stream'));
  return parquet.writeParquet(wasmTable, writerProperties(options));
}

/** The writer properties of {@link encodeTable} (also used by the streaming merge of compact). */
export function writerProperties(options: EncodeTableOptions): parquet.WriterProperties {
  let builder = new parquet.WriterPropertiesBuilder()
    .setCompression(parquet.Compression.ZSTD)
    .setMaxRowGroupSize(options.rowGroupSize ?? DEFAULT_ROW_GROUP_SIZE)
    .setCreatedBy('siglip-batch (parquet-wasm)')
    .setKeyValueMetadata(new Map(options.metadata));
  if (!options.dictionary) {
    builder = builder.setDictionaryEnabled(false);
    for (const column of options.dictionaryColumns ?? []) builder = builder.setColumnDictionaryEnabled(column, true);
  }
  if (!options.statistics) {
    builder = builder.setStatisticsEnabled(parquet.EnabledStatistics.None);
    for (const column of options.statisticsColumns ?? []) {
      builder = builder.setColumnStatisticsEnabled(column, parquet.EnabledStatistics.Chunk);
    }
  }
  return builder.build();
}
