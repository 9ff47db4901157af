/**
 * @siglip-batch/pipeline — what the producer, the worker and one-process mode share (README.md):
 * planning, the shard processor and its commit, the finaliser, the run registry, the processed
 * index, retrieval.
 */
export * from './async-pool';
export * from './stored-stats';
export * from './recent-error-files';
export * from './config-error';
export * from './embedder';
export * from './label-input';
export * from './loaded-model';
export * from './local-run';
export * from './location-checks';
export * from './redis-checks';
export * from './redis-unreachable-error';
export * from './run-context';
export * from './run-finalizer';
export * from './run-lock';
export * from './run-planner';
export * from './planned-shards';
export * from './planning/source-splitter';
export * from './run-registry';
export * from './run-state';
export * from './illegal-run-transition-error';
export * from './run-cancel-marker';
export * from './run-spec-builder';
export * from './s3-tags';
export * from './failed-shards';
export * from './shard-errors';
export * from './shard-processor';
export * from './siglip-model-adapter';
export * from './source-access';
export * from './source-kind';
export * from './inventory-source';
export * from './source-lister';
export * from './store-resolver';
export * from './retrieval';
export * from './fleet';
export * from './index/index';
export * from './compact';
export * from './retry';
