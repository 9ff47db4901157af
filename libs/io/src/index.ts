/**
 * @siglip-batch/io — object stores (S3, local), the run folder, Parquet codecs, S3 Inventory
 * reports (README.md). Knows nothing of the model. Only what other projects use is exported.
 */
export { folderOf, isWithin, parseLocation, type Location } from './location';
export { parsePositiveInteger } from './positive-integer';
export { realPathOf } from './real-path';
export { type FetchResult, type GetManyOptions, type ObjectInfo, type ObjectStore } from './object-store';
export { isObjectStoreError } from './object-store-error';
export { compareKeys } from './key-order';
export { LocalObjectStore, LOCAL_TEMP_PREFIX, localEtag } from './local-object-store';
export { S3ObjectStore, normalizeEtag, DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_SIZE_BYTES, type ObjectTag, type S3ObjectStoreOptions } from './s3-object-store';
export { classifyS3Error } from './s3-error';
export { S3ConfigError } from './s3-config-error';
export { assertS3RegionConfigured } from './s3-config-check';
export { createS3Client, openLocation, openObject, s3OptionsFromEnv, type S3Options } from './open-store';
export { ERRORS_COLUMNS, METADATA_KEYS, shardFileMetadata } from './parquet/shard-schema';
export { encodeErrorsFile, encodePartFile, type ExtraColumnsInput, type PartFileInput } from './parquet/parquet-shard-writer';
export { EMBEDDING_DTYPES, float16BitsToFloat32, float32ToFloat16Bits, vectorDtypeOf, vectorFloats, type EmbeddingDtype } from './parquet/float16';
export { type ParquetWriteOptions, DEFAULT_ROW_GROUP_SIZE } from './parquet/parquet-encoder';
export { readParquetBatches, readParquetMetadata, readVectorColumn, type ParquetSource } from './parquet/parquet-reader';
export { mergeParquetFiles } from './parquet/parquet-merge';
export { getJson, putJson } from './json-document';
export { RunFolder } from './run-folder';
export { extraTypeOf, readManifestSource } from './manifest-source';
export { InventoryError, InventoryReader, csvLine, encodeInventoryKey, inventorySourceBucketOf, isInventoryManifestUri, readInventoryManifest, resolveInventoryManifest, type InventoryFile, type InventoryManifest, type InventoryRow } from './inventory';
export { encodeLabelsFile } from './parquet/labels-file';
export { encodeManifestParquet } from './parquet/manifest-file';
export { encodeDeletionsFile, encodeIndexFile } from './parquet/index-file';
export { encodeLatestFile } from './parquet/latest-file';
export { compareRunFileRows, readRunFilesTable, writeRunFilesTable, type RunFileKind, type RunFileRow } from './parquet/run-files-file';
export { collectRunFiles, openReplacedLookup, partTotals, runFileCounts, runFiles, shardOfFileKey } from './run-files';
export { Arrow, preloadArrow } from './lazy-arrow';
