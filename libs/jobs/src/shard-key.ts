/**
 * Everything about a shard is derived from run id + shard number, never stored twice:
 * its BullMQ job id, its plan, part, errors and stats keys. A retried shard therefore
 * overwrites its own outputs, and a run can be rebuilt from the store after Redis forgets it.
 */
import { assertRunId } from './run-id';

/** Shard numbers are zero-padded to 8 digits in every key. */
export const SHARD_DIGITS = 8;
export const MAX_SHARD = 10 ** SHARD_DIGITS - 1;

export function padShard(shard: number): string {
  if (!Number.isInteger(shard) || shard < 0 || shard > MAX_SHARD) {
    throw new RangeError(`shard number must be an integer in [0, ${MAX_SHARD}], got ${shard}`);
  }
  return String(shard).padStart(SHARD_DIGITS, '0');
}

export function parseShard(padded: string): number {
  if (!/^\d{8}$/.test(padded)) throw new RangeError(`not a shard number: ${JSON.stringify(padded)}`);
  return Number(padded);
}

/**
 * BullMQ job id of a shard. BullMQ ids must not contain `:` and must not be plain integers;
 * run ids never contain `.`, so `shard.<run>.<shard>` is unambiguous.
 */
export function shardJobId(runId: string, shard: number): string {
  return `shard.${assertRunId(runId)}.${padShard(shard)}`;
}

/** The fixed id of a run's finalise job: added any number of times, it exists once. */
export function finalizeJobId(runId: string): string {
  return `finalize.${assertRunId(runId)}`;
}

/** The fixed id of the merge job of one index partition for a run (one per run and partition). */
export function indexPartitionJobId(runId: string, partition: number): string {
  return `index.${assertRunId(runId)}.${String(partition).padStart(4, '0')}`;
}

/** Inverse of {@link shardJobId}; undefined for ids of other kinds. */
export function parseShardJobId(jobId: string): { runId: string; shard: number } | undefined {
  const match = /^shard\.([a-z0-9][a-z0-9_-]{0,63})\.(\d{8})$/.exec(jobId);
  if (!match) return undefined;
  return { runId: match[1]!, shard: Number(match[2]) };
}
