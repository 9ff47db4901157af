/**
 * @siglip-batch/io — object stores (S3, local), the Parquet codec, JSON documents, S3 Inventory
 * reports (README.md). Imports no other lib: the run folder's layout and files are
 * libs/run-format's. `redactSecrets` has an entry of its own, `@siglip-batch/io/secret-redaction`,
 * light enough for every command's start-up path.
 */
export { parseLocation, isWithin, folderOf, type Location } from './location';
export { parsePositiveInteger } from './positive-integer';
export { forEachBounded, mapBounded, range } from './bounded-concurrency';
export { lookaheadPages, type LookaheadOptions } from './lookahead-pages';
export { realPathOf } from './real-path';
export type { ObjectInfo, GetManyOptions, FetchResult, RandomAccessBlob, ObjectStore } from './object-store';
export { isObjectStoreError, isAbortError } from './object-store-error';
export { compareKeys } from './key-order';
export { LocalObjectStore } from './local-object-store';
export { S3ObjectStore, normalizeEtag } from './s3-object-store';
export { s3StoreError } from './s3-error';
export { S3ConfigError } from './s3-config-error';
export { assertS3RegionConfigured } from './s3-config-check';
export { s3OptionsFromEnv, createS3Client, openLocation, openObject, type S3Options } from './open-store';
export { S3RateLimiter, parseRequestsPerSecond, rateLimiterRedisOptions, readGrantCounts, type RateLimiterEvent } from './s3-rate-limiter';
// Parquet
export { METADATA_KEYS, PARQUET_SCHEMA_VERSION } from './parquet/file-metadata';
export {
  boolColumn,
  float16VectorColumn,
  float32VectorColumn,
  float64Column,
  int32Column,
  int64Column,
  tableOf,
  utf8Column,
  utf8ListColumn,
  type Column,
} from './parquet/arrow-columns';
export { float32ToFloat16Bits, float16BitsToFloat32, vectorFloats, vectorDtypeOf, EMBEDDING_DTYPES, type EmbeddingDtype } from './parquet/float16';
export { encodeTable, writerProperties, type ParquetWriteOptions } from './parquet/parquet-encoder';
export { encodeTableStream } from './parquet/parquet-stream-writer';
export { embeddedObjectColumns, fileKindMetadata, type EmbeddedObjectInput } from './parquet/embedded-object-columns';
export { readParquetBatches, readParquetMetadata, readVectorColumn, type ParquetSource } from './parquet/parquet-reader';
export { mergeParquetFiles, type ColumnEncoding, type MergeParquetOptions, type MergeSource, ParquetMergeError } from './parquet/parquet-merge';
// JSON documents, S3 Inventory reports, the index and latest files
export { InvalidDocumentError } from './invalid-document-error';
export { putJson, getJson } from './json-document';
export {
  csvLine,
  encodeInventoryKey,
  InventoryError,
  inventorySourceBucketOf,
  isInventoryManifestUri,
  readInventoryManifest,
  resolveInventoryManifest,
  type InventoryFile,
  type InventoryManifest,
  InventoryReader,
  type InventoryRow,
} from './inventory';
export { encodeIndexFile, encodeIndexFileStream, encodeDeletionsFile, INDEX_ROW_GROUP_SIZE } from './parquet/index-file';
export { encodeLatestFileStream, type LatestRowsInput } from './parquet/latest-file';
export { Arrow, preloadArrow, useSingleFileArrow } from './lazy-arrow';
export { parquet, preloadParquet } from './lazy-parquet';
