/**
 * Our own Redis keys, beside BullMQ's, under the same prefix so that one prefix isolates
 * a deployment (and a test). Run records expire some days after the run ends.
 */
export function runRecordKey(prefix: string, runId: string): string {
  return `${prefix}:siglip:run:${runId}`;
}

/** Bitmap of finished shards (bit n = shard n has stats). Idempotent: a retry never counts twice. */
export function runDoneBitmapKey(prefix: string, runId: string): string {
  return `${prefix}:siglip:run:${runId}:done`;
}

/** Hash shard number → reason, for shards that failed permanently. */
export function runFailedKey(prefix: string, runId: string): string {
  return `${prefix}:siglip:run:${runId}:failed`;
}

/** Sorted set of run ids by creation time (for listings such as the dashboard). */
export function runsIndexKey(prefix: string): string {
  return `${prefix}:siglip:runs`;
}

/** Hash worker id → JSON heartbeat, per queue: which workers serve a model right now. */
export function workersKey(prefix: string, queueName: string): string {
  return `${prefix}:siglip:workers:${queueName}`;
}
