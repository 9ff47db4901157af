/**
 * @siglip-batch/jobs — the job contract (README.md): run, plan, stats and manifest schemas, the
 * ids and keys derived from a run id and a shard number, queue names, Redis keys. Imports no
 * other lib. Only what other projects use is exported.
 */
export { RUN_ID_PATTERN, assertRunId, isRunId } from './run-id';
export { MAX_SHARD, finalizeJobId, indexPartitionJobId, padShard, shardJobId } from './shard-key';
export { RUN_LAYOUT, errorsKey, partKey, planKey, runFolder, shardOfKey, statsKey } from './run-layout';
export { MODEL_VARIANTS, parseQueueName, queueNameForModel, type ModelVariant } from './queue-name';
export { DEFAULT_LABEL_THRESHOLD, DEFAULT_SHARD_SIZE, DEFAULT_TEMPLATE, decodeSpecSchema, labelSpecSchema, modelRefSchema, runSpecSchema, type DecodeSpec, type LabelSpec, type ModelRef, type ObjectSourceKind, type RetryErrors, type RunSpec, type SourceKind } from './run-spec';
export { extraColumnSchema, listingStateSchema, planFileSchema, type ExtraColumn, type ExtraValue, type ListingState, type PlanFile, type PlannedObject } from './plan-file';
export { ERROR_CODES, shardStatsSchema, type S3TagCountsSummary, type ShardStats } from './shard-stats';
export { RUN_FILES_DIR, runManifestSchema, type ManifestFileEntry, type RunManifest } from './run-manifest';
export { JOB_NAMES, finalizeJobDataSchema, indexPartitionJobDataSchema, shardJobDataSchema } from './job-data';
export { FINALIZE_JOB_OPTIONS, INDEX_JOB_OPTIONS, RUN_RECORD_TTL_SECONDS, SHARD_JOB_OPTIONS } from './job-defaults';
export { redisOptions, redisUrlFromEnv } from './redis-connection';
export { redactSecrets } from './secret-redaction';
export { errorMessage, zodIssuesLine } from './error-message';
export { runDoneBitmapKey, runFailedKey, runRecentErrorFilesKey, runRecentFailuresKey, runRecordKey, runsIndexKey } from './redis-keys';
export { ROW_ID_LAYOUT, ROW_ID_SHARD_BITS, parseRowId, rowId, rowIdsOf, runTag } from './row-id';
export { PLAN_UNITS_DIR, firstShardOfUnit, planUnitJobDataSchema, planUnitJobId, planUnitKey, planUnitSchema, planningQueueName, unitShardsFor, type PlanUnit, type PlanUnitJobData } from './planning-unit';
