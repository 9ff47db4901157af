/**
 * @siglip-batch/io — object stores (S3, local), the run folder, Parquet codecs, S3 Inventory
 * reports (README.md). Knows nothing of the model.
 */
export * from './location';
export * from './positive-integer';
export * from './real-path';
export * from './invalid-uri-error';
export * from './object-store';
export * from './object-store-error';
export { compareKeys } from './key-order';
export { LocalObjectStore, LOCAL_TEMP_PREFIX, localEtag } from './local-object-store';
export { S3ObjectStore, normalizeEtag, DEFAULT_MULTIPART_THRESHOLD_BYTES, DEFAULT_PART_SIZE_BYTES, type ObjectTag, type S3ObjectStoreOptions } from './s3-object-store';
export { classifyS3Error } from './s3-error';
export * from './s3-config-error';
export * from './s3-config-check';
export * from './s3-config-messages';
export * from './open-store';
export * from './s3-request-gate';
// Parquet
export * from './parquet/shard-schema';
export * from './parquet/parquet-shard-writer';
export * from './parquet/float16';
export { type ParquetWriteOptions, DEFAULT_ROW_GROUP_SIZE } from './parquet/parquet-encoder';
export * from './parquet/parquet-reader';
export * from './parquet/parquet-merge';
// Run folder documents and manifest sources
export * from './invalid-document-error';
export * from './json-document';
export * from './run-folder';
export * from './manifest-source';
export * from './inventory';
export * from './parquet/labels-file';
export * from './parquet/manifest-file';
export * from './parquet/index-file';
export * from './parquet/latest-file';
export * from './parquet/run-files-file';
export * from './run-files';
export { Arrow, preloadArrow } from './lazy-arrow';
