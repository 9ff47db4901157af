import type { DefaultJobOptions } from 'bullmq';

const HOUR_S = 3600;
const DAY_S = 24 * HOUR_S;

/**
 * Defaults for every job on a model queue.
 *
 * Retention is bounded by age and count, never "keep everything": whether a shard is done is
 * decided by its stats object in the store, so forgetting finished jobs loses nothing, and a
 * run of 100 million objects needs no more Redis than one of 100 thousand.
 */
export const SHARD_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 6,
  // 10 s, 20 s, 40 s … with up to 50 % jitter so that a fleet does not retry in lockstep
  // after a shared outage (S3 throttling, a Redis restart).
  backoff: { type: 'exponential', delay: 10_000, jitter: 0.5 },
  removeOnComplete: { age: DAY_S, count: 10_000 },
  removeOnFail: { age: 7 * DAY_S, count: 10_000 },
};

/** The finalise job is retried for longer: it waits for the last shards' stats to appear. */
export const FINALIZE_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 20,
  backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
  removeOnComplete: { age: DAY_S, count: 1_000 },
  removeOnFail: { age: 7 * DAY_S, count: 1_000 },
};

/** Index partition merges: idempotent, retried like shards. */
export const INDEX_JOB_OPTIONS: DefaultJobOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 5_000, jitter: 0.5 },
  removeOnComplete: { age: DAY_S, count: 10_000 },
  removeOnFail: { age: 7 * DAY_S, count: 1_000 },
};

/** Run records (the run hash, its done bitmap…) expire this long after the run ends. */
export const RUN_RECORD_TTL_SECONDS = 7 * DAY_S;
