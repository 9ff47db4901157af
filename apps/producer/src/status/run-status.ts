import type { Redis } from 'ioredis';
import type { RunFolder } from '@siglip-batch/run-format';
import { ShardQueue } from '@siglip-batch/jobs';
import { RunRegistry, forEachStoredStats, plannedTotals, readCancelMarker, type RunState } from '@siglip-batch/pipeline';

export interface RunStatus {
  run: string;
  state: RunState;
  shards: { planned: number; done: number; failed: number; active: number; waiting: number; listingComplete: boolean };
  objects: { planned: number; done: number; ok: number; error: number; byErrorCode: Record<string, number>; inferred: number };
  /** Objects finished per second since the first shard finished, or null before that. */
  rate: number | null;
  /** Seconds until every planned object is done at that rate, or null when unknown. */
  eta: number | null;
  queue: string | null;
  /** Workers connected to the run's model queue right now. */
  workers: number | null;
  reason: string | null;
  /** Runs with `--write-s3-tags`: objects tagged, left alone (10 foreign tags) and not tagged; else null. */
  s3Tags?: { tagged: number; full: number; failed: number } | null;
  /**
   * Shards that failed permanently (from Redis): how many, how many by failure code, and the
   * last few reasons, newest first — older reasons are not kept, only counted.
   */
  failures?: { count: number; byCode: Record<string, number>; recent: Array<{ shard: number; code: string; reason: string; at: string }> };
  source: 'redis' | 'store';
}

/** Status of a run from Redis (fast, live) — the counters there are idempotent per shard. */
export async function statusFromRedis(redis: Redis, prefix: string, runId: string): Promise<RunStatus | undefined> {
  const registry = new RunRegistry(redis, prefix);
  const record = await registry.get(runId);
  if (!record) return undefined;
  const queue = ShardQueue.named(redis, prefix, record.queue);
  try {
    const [activeShards, workers] = await Promise.all([queue.activeShards(runId), queue.workerCount()]);
    const failed = record.shardsFailed;
    const doneObjects = record.objectsOk + record.objectsError;
    let state = record.state;
    if (state === 'running' && record.listingComplete && record.shardsDone + failed >= record.shardsPlanned) state = 'finalizing';
    const ended = state === 'completed' || state === 'failed' || state === 'cancelled';
    const end = ended && record.lastShardAt ? Date.parse(record.lastShardAt) : Date.now();
    const elapsed = record.firstShardAt ? (end - Date.parse(record.createdAt || record.firstShardAt)) / 1000 : 0;
    const rate = record.firstShardAt && elapsed > 0 ? doneObjects / elapsed : null;
    const remaining = Math.max(0, record.objectsPlanned - doneObjects);
    return {
      run: runId,
      state,
      shards: {
        planned: record.shardsPlanned,
        done: record.shardsDone,
        failed,
        active: activeShards,
        waiting: Math.max(0, record.shardsPlanned - record.shardsDone - failed - activeShards),
        listingComplete: record.listingComplete,
      },
      objects: {
        planned: record.objectsPlanned,
        done: doneObjects,
        ok: record.objectsOk,
        error: record.objectsError,
        byErrorCode: record.errorCodes,
        inferred: record.inferred,
      },
      rate,
      eta: remaining === 0 ? 0 : rate && rate > 0 ? remaining / rate : null,
      queue: record.queue,
      workers,
      reason: record.reason,
      s3Tags: record.s3Tags,
      failures: { count: failed, byCode: record.failedCodes, recent: record.recentFailures },
      source: 'redis',
    };
  } finally {
    await queue.close();
  }
}

/** Status of a run from its folder alone (after Redis forgot it): manifest, else plans + stats. */
export async function statusFromStore(folder: RunFolder, runId: string): Promise<RunStatus | undefined> {
  const manifest = await folder.readManifest();
  if (manifest) {
    return {
      run: runId,
      state: 'completed',
      shards: { planned: manifest.shards, done: manifest.shards, failed: 0, active: 0, waiting: 0, listingComplete: true },
      objects: {
        planned: manifest.counts.planned,
        done: manifest.counts.ok + manifest.counts.error,
        ok: manifest.counts.ok,
        error: manifest.counts.error,
        byErrorCode: manifest.counts.byErrorCode,
        inferred: manifest.counts.ok,
      },
      rate: null,
      eta: 0,
      queue: null,
      workers: null,
      reason: null,
      s3Tags: manifest.counts.s3Tags ?? null,
      source: 'store',
    };
  }
  const listing = await folder.readListing();
  if (!listing) return undefined;
  // No manifest: a cancelled run says so in its folder (`cancel` wins only before the manifest).
  const cancelled = await readCancelMarker(folder);
  let ok = 0;
  let error = 0;
  const byErrorCode: Record<string, number> = {};
  let s3Tags: { tagged: number; full: number; failed: number } | null = null;
  // One listing of the stats keys says which shards are done; the counts are summed as a
  // bounded number of stats objects are read at once (running sums: nothing kept per shard).
  const scan = await forEachStoredStats(folder, {}, (stats) => {
    ok += stats.ok;
    error += stats.error;
    for (const [code, n] of Object.entries(stats.errorCodes)) byErrorCode[code] = (byErrorCode[code] ?? 0) + n;
    if (stats.s3Tags) {
      s3Tags ??= { tagged: 0, full: 0, failed: 0 };
      for (const field of ['tagged', 'full', 'failed'] as const) s3Tags[field] += stats.s3Tags[field];
    }
  });
  const done = scan.listed;
  // A run split into planning units counts its shards in the units' objects until all are complete.
  const planned = await plannedTotals(folder, listing);
  return {
    run: runId,
    state: cancelled ? 'cancelled' : planned.complete ? (done === planned.shardsPlanned ? 'finalizing' : 'running') : 'listing',
    shards: { planned: planned.shardsPlanned, done, failed: 0, active: 0, waiting: planned.shardsPlanned - done, listingComplete: planned.complete },
    objects: { planned: planned.objectsPlanned, done: ok + error, ok, error, byErrorCode, inferred: ok },
    rate: null,
    eta: null,
    queue: null,
    workers: null,
    reason: cancelled ? `${cancelled.reason} at ${cancelled.cancelledAt}` : null,
    s3Tags,
    source: 'store',
  };
}

/** Human-readable status lines. */
export function formatStatus(status: RunStatus): string {
  const pct = status.objects.planned > 0 ? (100 * status.objects.done) / status.objects.planned : status.state === 'completed' ? 100 : 0;
  const width = 30;
  const filled = Math.round((pct / 100) * width);
  const bar = `${'█'.repeat(filled)}${'░'.repeat(width - filled)}`;
  const codes = Object.entries(status.objects.byErrorCode)
    .sort((a, b) => b[1] - a[1])
    .map(([code, n]) => `${code} ${n}`)
    .join(', ');
  const lines = [
    `run ${status.run}: ${status.state}${status.reason ? ` (${status.reason})` : ''}`,
    `${bar} ${pct.toFixed(1)}%  ${status.objects.done}/${status.objects.planned} objects${status.shards.listingComplete ? '' : ' (listing…)'}`,
    `shards: ${status.shards.planned} planned, ${status.shards.done} done, ${status.shards.failed} failed, ${status.shards.active} active, ${status.shards.waiting} waiting`,
    `objects: ${status.objects.ok} ok, ${status.objects.error} error${codes ? ` (${codes})` : ''}`,
  ];
  if (status.s3Tags) {
    lines.push(`S3 tags: ${status.s3Tags.tagged} objects tagged, ${status.s3Tags.full} left alone (10 foreign tags), ${status.s3Tags.failed} failed`);
  }
  if (status.failures && status.failures.count > 0) {
    const byCode = Object.entries(status.failures.byCode)
      .map(([code, n]) => `${code} ${n}`)
      .join(', ');
    // The newest few reasons (`--json` has the last 20 kept).
    const shown = status.failures.recent.slice(0, 5);
    lines.push(`failed shards: ${status.failures.count}${byCode ? ` (${byCode})` : ''}${shown.length > 0 ? `; the last ${shown.length}:` : ''}`);
    for (const failure of shown) lines.push(`  shard ${failure.shard} [${failure.code}] ${failure.at}: ${failure.reason}`);
  }
  if (status.rate !== null) lines.push(`rate: ${status.rate.toFixed(1)} objects/s${status.eta !== null ? `, ETA ${formatSeconds(status.eta)}` : ''}`);
  if (status.queue) {
    lines.push(
      `queue ${status.queue}: ${status.workers === null ? 'workers unknown' : status.workers === 0 ? 'NO WORKER serves this model — start one with its --model' : `${status.workers} worker(s)`}`,
    );
  }
  return lines.join('\n');
}

function formatSeconds(seconds: number): string {
  if (seconds < 60) return `${Math.round(seconds)}s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)}m${Math.round(seconds % 60)}s`;
  return `${Math.floor(seconds / 3600)}h${Math.round((seconds % 3600) / 60)}m`;
}
