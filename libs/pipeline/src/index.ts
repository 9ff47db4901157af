/**
 * @siglip-batch/pipeline — what the producer, the worker and one-process mode share (README.md):
 * planning, the shard processor and its commit, the finaliser, the run registry, the processed
 * index, retrieval. Only what other projects use is exported.
 */
export { forEachStoredStats } from './stored-stats';
export { readRecentErrorFiles, recordRecentErrorFile } from './recent-error-files';
export { ConfigError, ProblemList } from './config-error';
export { type ImageEmbedder } from './embedder';
export { parseLabelFile, parseLabelList, readLabelFile } from './label-input';
export { type LoadedModel } from './loaded-model';
export { runLocally } from './local-run';
export { checkOutputWritable, checkSourceReadable } from './location-checks';
export { connectCheckedRedis } from './redis-checks';
export { RedisUnreachableError } from './redis-unreachable-error';
export { createRunContext, openRunFolder } from './run-context';
export { finalizeRun } from './run-finalizer';
export { RunLock } from './run-lock';
export { completeRunPlan, planRun, planUnit, prepareRunPlan, type PlanProgress } from './run-planner';
export { plannedShardRanges, plannedTotals } from './planned-shards';
export { RunRegistry, type RunRecord } from './run-registry';
export { type RunState } from './run-state';
export { IllegalRunTransitionError } from './illegal-run-transition-error';
export { readCancelMarker, writeCancelMarker } from './run-cancel-marker';
export { buildRunSpec, specDifferences } from './run-spec-builder';
export { shardFailureCode } from './failed-shards';
export { PermanentShardError } from './shard-errors';
export { processShard, type ShardContext, type ShardProcessorOptions } from './shard-processor';
export { inspectSiglipModel, loadSiglipModel } from './siglip-model-adapter';
export { SourceAccess, sourceScopeOf, type SourceAccessOptions } from './source-access';
export { sourceKindOf } from './source-kind';
export { resolveRunSource, type SourceKindHint } from './inventory-source';
export { StoreResolver } from './store-resolver';
export { LANCE_INDEX_TYPES, LanceSearcher, assertRunModel, buildLanceIndex, buildLatestLanceIndex, defaultLanceUri, embedImageQuery, embedTextQuery, openLanceTarget, openRunFolderUri, prepareRunSearch, readFinishedManifest, retagRun, searchRun, type BuildLanceIndexResult, type LanceIndexType, type LanceTarget, type SearchEngine } from './retrieval';
export { HUB_VARIANTS, ModelCache, S3RateLimiter, hubClientOptionsFromEnv, parseRequestsPerSecond, pullHubModel, rateLimiterRedisOptions, readGrantCounts, resolveModelLocation, validateRepoId, validateRevision, type HubVariant, type RateLimiterEvent } from './fleet';
export { ProcessedIndex, createIncrementalFilter, deleteRunGroups, indexFinalizedRun, indexModelKey, mergeRunPartition, prepareRunIndex, writeLatest, type IncrementalStats } from './index/index';
export { DEFAULT_COMPACT_GRACE_MS, DEFAULT_COMPACT_TARGET_ROWS, compactRun, type CompactionStep } from './compact';
export { parseDuration, parseErrorCodes, readRetriedRun } from './retry';
