/**
 * @siglip-batch/pipeline — what the producer, the worker and one-process mode share (README.md):
 * planning, the shard processor and its commit, the finaliser, the run registry, the processed
 * index and the `latest` view, compaction, retries of a run's errors. Its errors chosen as exit
 * codes at every command's start have an entry of their own, `@siglip-batch/pipeline/start-up-errors`.
 */
export { forEachStoredStats } from './stored-stats';
export { recordRecentErrorFile, readRecentErrorFiles } from './recent-error-files';
export { ConfigError, ProblemList } from './config-error';
export type { ImageEmbedder } from './embedder';
export { parseLabelList, readLabelFile, parseLabelFile } from './label-input';
export type { LoadedModel } from './loaded-model';
export { runLocally } from './local-run';
export { checkSourceReadable, checkOutputWritable } from './location-checks';
export { connectCheckedRedis } from './redis-checks';
export { RedisUnreachableError } from './redis-unreachable-error';
export { createRunContext } from './run-context';
export { finalizeRun } from './run-finalizer';
export { RunLock } from './run-lock';
export { prepareRunPlan, completeRunPlan, planRun, planUnit, type PlanProgress } from './run-planner';
export { plannedShardRanges, plannedTotals } from './planned-shards';
export { type RunRecord, RunRegistry } from './run-registry';
export type { RunState } from './run-state';
export { IllegalRunTransitionError } from './illegal-run-transition-error';
export { writeCancelMarker, readCancelMarker } from './run-cancel-marker';
export { buildRunSpec, specDifferences } from './run-spec-builder';
export { shardFailureCode } from './failed-shards';
export { PermanentShardError } from './shard-errors';
export { processShard, type ShardContext, type ShardProcessorOptions } from './shard-processor';
export { inspectSiglipModel, loadSiglipModel } from './siglip-model-adapter';
export { sourceScopeOf, type SourceAccessOptions, SourceAccess } from './source-access';
export { sourceKindOf } from './source-kind';
export { resolveRunSource, type SourceKindHint } from './inventory-source';
export { StoreResolver } from './store-resolver';
export {
  ModelCache,
  resolveModelLocation,
  hubClientOptionsFromEnv,
  pullHubModel,
  HUB_VARIANTS,
  type HubVariant,
  validateRepoId,
  validateRevision,
} from './fleet';
export { indexModelKey } from './processed-index/index-entry';
export { deleteRunGroups } from './processed-index/index-run-groups';
export { ProcessedIndex, prepareRunIndex, mergeRunPartition, indexFinalizedRun } from './processed-index/processed-index';
export type { IncrementalStats } from './processed-index/incremental-listing';
export { createIncrementalFilter } from './processed-index/incremental-filter';
export { writeLatest } from './processed-index/latest-writer';
export { openLatestView } from './latest-view';
export { compactRun, DEFAULT_COMPACT_TARGET_ROWS, DEFAULT_COMPACT_GRACE_MS, type CompactionStep } from './compact';
export { readRetriedRun, parseDuration, parseErrorCodes } from './retry';
