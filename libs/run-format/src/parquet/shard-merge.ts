/**
 * Merge of a run's part (or errors) files into one (`compact`): libs/io's streaming
 * {@link mergeParquetFiles}, writing the merged file with the encoding of the shard writer for
 * the sources' kind (`siglip_batch.file_kind`), so a merged file is laid out as a written one.
 */
import { METADATA_KEYS, mergeParquetFiles, type ColumnEncoding, type MergeParquetOptions, type MergeSource } from '@siglip-batch/io';
import type { Readable } from 'node:stream';
import { ERRORS_FILE_ENCODING, PART_FILE_ENCODING } from './parquet-shard-writer';

export function mergeShardFiles(sources: readonly MergeSource[], options: Omit<MergeParquetOptions, 'encoding'> = {}): Promise<Readable> {
  return mergeParquetFiles(sources, { ...options, encoding: shardFileEncoding });
}

function shardFileEncoding(keyValueMetadata: Readonly<Record<string, string>>): ColumnEncoding {
  const kind = keyValueMetadata[METADATA_KEYS.fileKind];
  return kind === 'errors' ? ERRORS_FILE_ENCODING : kind === 'part' ? PART_FILE_ENCODING : {};
}
