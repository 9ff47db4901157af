/**
 * Our own Redis keys, beside BullMQ's, under the same prefix so that one prefix isolates
 * a deployment (and a test). Run records expire some days after the run ends.
 */
export function runRecordKey(prefix: string, runId: string): string {
  return `${prefix}:siglip:run:${runId}`;
}

/**
 * Bitmap of finished shards (bit n = shard n has stats), a hash of chunks of 4,096 shards so that
 * its size follows the shards planned, not the highest shard id (libs/pipeline shard-bits.ts).
 * Idempotent: a retry never counts twice. (`:done` was one bitmap string; the new name keeps an
 * old record's key from being read as a hash.)
 */
export function runDoneBitmapKey(prefix: string, runId: string): string {
  return `${prefix}:siglip:run:${runId}:donebits`;
}

/**
 * 4 bits per shard, in chunks like the done bitmap: the failure code of a shard that failed
 * permanently (0 = not failed). The reasons are not kept per shard.
 */
export function runFailedKey(prefix: string, runId: string): string {
  return `${prefix}:siglip:run:${runId}:failedbits`;
}

/** List of the last few failures of a run, newest first, as JSON `{shard, code, reason, at}` (capped). */
export function runRecentFailuresKey(prefix: string, runId: string): string {
  return `${prefix}:siglip:run:${runId}:failures`;
}

/** Sorted set of run ids by creation time (for listings such as the dashboard). */
export function runsIndexKey(prefix: string): string {
  return `${prefix}:siglip:runs`;
}

/** Hash worker id → JSON heartbeat, per queue: which workers serve a model right now. */
export function workersKey(prefix: string, queueName: string): string {
  return `${prefix}:siglip:workers:${queueName}`;
}

/**
 * Capped list of the errors files (keys relative to the run folder) of the shards that finished
 * last with error rows, newest first: the dashboard's "recent errors" without a listing.
 */
export function runRecentErrorFilesKey(prefix: string, runId: string): string {
  return `${prefix}:siglip:run:${runId}:recent-errors`;
}
