/**
 * @siglip-batch/jobs — the job contract (README.md): run, plan, stats and manifest schemas, the
 * ids and keys derived from a run id and a shard number, queue names, Redis keys. Imports no
 * other lib.
 */
export * from './run-id';
export * from './shard-key';
export * from './run-layout';
export * from './queue-name';
export * from './run-spec';
export * from './plan-file';
export * from './shard-stats';
export * from './run-manifest';
export * from './job-data';
export * from './job-defaults';
export * from './redis-connection';
export * from './secret-redaction';
export * from './error-message';
export * from './redis-keys';
export * from './row-id';
export * from './planning-unit';
