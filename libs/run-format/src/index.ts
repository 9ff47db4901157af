/**
 * @siglip-batch/run-format — the run folder (README.md): its layout and JSON documents, the
 * Parquet files a run writes (part, errors, labels, run-files table), the manifest sources a run
 * reads, and the one way to open a run folder. Built on libs/io (stores, Parquet codec) and
 * libs/jobs (schemas, keys).
 */
export { openRunFolder, RunFolder } from './run-folder';
export { collectRunFiles, openReplacedLookup, partTotals, runFileCounts, runFiles, shardOfFileKey } from './run-files';
export { compareRunFileRows, readRunFilesTable, writeRunFilesTable, type RunFileKind, type RunFileRow } from './parquet/run-files-file';
export { ERRORS_COLUMNS, shardFileMetadata } from './parquet/shard-schema';
export { encodeErrorsFile, encodePartFile, type ExtraColumnsInput, type PartFileInput } from './parquet/parquet-shard-writer';
export { readPartRows, type PartRows } from './parquet/part-rows';
export { mergeShardFiles } from './parquet/shard-merge';
export { encodeLabelsFile } from './parquet/labels-file';
export { encodeManifestParquet } from './parquet/manifest-file';
export { extraTypeOf, readManifestSource } from './manifest-source';
export type { LatestView } from './latest-view';
