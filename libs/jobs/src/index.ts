/**
 * @siglip-batch/jobs — the job contract (README.md): run, plan, stats and manifest schemas, the
 * ids and keys derived from a run id and a shard number, queue names, the shard queue gateway,
 * Redis keys. Imports no other lib. `errorMessage` has an entry of its own too,
 * `@siglip-batch/jobs/error-message`, for every command's start-up path.
 */
export { isRunId, assertRunId, RUN_ID_PATTERN, InvalidRunIdError } from './run-id';
export { padShard, shardJobId, finalizeJobId, MAX_SHARD } from './shard-key';
export { runFolder, planKey, partKey, errorsKey, statsKey, shardOfKey, RUN_LAYOUT } from './run-layout';
export { queueNameForModel, parseQueueName, MODEL_VARIANTS, type ModelVariant } from './queue-name';
export {
  DEFAULT_SHARD_SIZE,
  DEFAULT_LABEL_THRESHOLD,
  DEFAULT_TEMPLATE,
  labelSpecSchema,
  type LabelSpec,
  modelRefSchema,
  type ModelRef,
  type SourceKind,
  type ObjectSourceKind,
  type RetryErrors,
  decodeSpecSchema,
  type DecodeSpec,
  runSpecSchema,
  type RunSpec,
} from './run-spec';
export {
  encodePlanFile,
  extraColumnSchema,
  type ExtraColumn,
  type ExtraValue,
  type PlannedObject,
  planFileSchema,
  type PlanFile,
  listingStateSchema,
  type ListingState,
} from './plan-file';
export { ERROR_CODES, type S3TagCountsSummary, shardStatsSchema, type ShardStats } from './shard-stats';
export { type ManifestFileEntry, RUN_FILES_DIR, runManifestSchema, type RunManifest } from './run-manifest';
export { shardJobDataSchema, finalizeJobDataSchema, indexPartitionJobDataSchema, JOB_NAMES } from './job-data';
export { RUN_RECORD_TTL_SECONDS } from './job-defaults';
export { removeIfNotStarted, handBack, checkAgainLater, permanentFailure, isFinalFailure, attemptOf, ShardQueue } from './shard-queue';
export { redisUrlFromEnv, redisOptions } from './redis-connection';
export { errorMessage } from './error-message';
export { runRecordKey, runDoneBitmapKey, runFailedKey, runRecentFailuresKey, runsIndexKey, runRecentErrorFilesKey } from './redis-keys';
export { runTag, rowId, rowIdsOf, parseRowId, ROW_ID_SHARD_BITS, ROW_ID_LAYOUT } from './row-id';
export {
  unitShardsFor,
  firstShardOfUnit,
  planUnitKey,
  planningQueueName,
  planUnitJobId,
  planUnitSchema,
  type PlanUnit,
  PLAN_UNITS_DIR,
  planUnitJobDataSchema,
  type PlanUnitJobData,
} from './planning-unit';
