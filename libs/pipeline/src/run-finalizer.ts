import { readParquetMetadata, type RunFolder } from '@siglip-batch/io';
import { RUN_LAYOUT, type RunManifest, type RunSpec, type ShardStats } from '@siglip-batch/jobs';
import type { FailedShardsView } from './failed-shards';
import { indexFinalizedRun } from './index/processed-index';
import { DELETIONS_PREFIX, LEGACY_DELETIONS_PREFIX } from './index/incremental-filter';

export type FinalizeOutcome =
  | { state: 'completed'; manifest: RunManifest }
  | { state: 'listing' }
  | { state: 'waiting'; missing: number[] }
  /** `failed` names at most {@link FAILED_SHARDS_NAMED} shards (the lowest); `failedCount` counts them all. */
  | { state: 'failed'; failed: Array<{ shard: number; reason: string }>; failedCount: number };

/** Failed shards a `failed` outcome names; the rest are only counted. */
export const FAILED_SHARDS_NAMED = 10;

export interface FinalizeOptions {
  folder: RunFolder;
  spec: RunSpec;
  /** Shards that failed permanently (from the queue): asked shard by shard, never read whole. */
  failedShards?: FailedShardsView;
  /** Stats read at once. @defaultValue 32 */
  concurrency?: number;
  /**
   * Add the run to its output's processed index (`<out>/_index/`, for incremental runs) right
   * after the manifest is written. A failure there fails the call, and finalising again
   * (the finalise job's retry) redoes both idempotently.
   * @defaultValue true
   */
  updateIndex?: boolean;
  /**
   * Called once every check has passed, right before the manifest is put — the run's commit
   * point. Throwing there (the run was cancelled meanwhile) leaves the run without a manifest.
   */
  beforeManifest?(): Promise<void>;
}

/**
 * Writes `_manifest.json` once the listing is complete and every planned shard has its stats.
 * Counts are summed from the stats objects in the store, never from Redis. Until then it
 * reports what is missing; a shard that failed permanently ends the run `failed`, named.
 */
export async function finalizeRun(options: FinalizeOptions): Promise<FinalizeOutcome> {
  const { folder, spec } = options;
  // A compacted run's stats name files that are gone: its manifest is final, never rewritten
  // from them (a duplicate finalise job after `compact` must not undo it).
  const existing = await folder.readManifest();
  if (existing?.compaction) return { state: 'completed', manifest: existing };
  const listing = await folder.readListing();
  if (!listing?.complete) return { state: 'listing' };

  const stats: Array<ShardStats | undefined> = new Array(listing.shardsPlanned);
  let next = 0;
  const lanes = Array.from({ length: Math.min(options.concurrency ?? 32, listing.shardsPlanned) }, async () => {
    while (next < listing.shardsPlanned) {
      const shard = next++;
      stats[shard] = await folder.readStats(shard);
    }
  });
  await Promise.all(lanes);

  const missing: number[] = [];
  for (let shard = 0; shard < listing.shardsPlanned; shard++) if (!stats[shard]) missing.push(shard);
  if (missing.length > 0) {
    const failed: Array<{ shard: number; reason: string }> = [];
    let found = 0;
    let scanned = 0;
    const view = options.failedShards;
    // With a known total, asking stops once enough are named; without one, every missing shard is asked.
    for (; view && scanned < missing.length && (view.count === undefined || failed.length < FAILED_SHARDS_NAMED); scanned++) {
      const shard = missing[scanned]!;
      if (!(await view.isFailed(shard))) continue;
      found++;
      if (failed.length < FAILED_SHARDS_NAMED) failed.push({ shard, reason: view.reasonOf?.(shard) ?? 'failed permanently (its reason is no longer among the last kept)' });
    }
    if (failed.length > 0) return { state: 'failed', failed, failedCount: scanned < missing.length ? Math.max(view?.count ?? 0, found) : found };
    return { state: 'waiting', missing };
  }

  const byErrorCode: Record<string, number> = {};
  const shardMs: Record<string, number> = {};
  let ok = 0;
  let error = 0;
  const s3Tags = { tagged: 0, full: 0, failed: 0 };
  const parts: RunManifest['parts'] = [];
  const errors: RunManifest['errors'] = [];
  for (const shardStats of stats as ShardStats[]) {
    ok += shardStats.ok;
    error += shardStats.error;
    for (const [code, n] of Object.entries(shardStats.errorCodes)) byErrorCode[code] = (byErrorCode[code] ?? 0) + n;
    for (const [name, ms] of Object.entries(shardStats.timingsMs)) shardMs[name] = (shardMs[name] ?? 0) + ms;
    if (shardStats.s3Tags) for (const field of ['tagged', 'full', 'failed'] as const) s3Tags[field] += shardStats.s3Tags[field];
    if (shardStats.part) parts.push({ shard: shardStats.shard, ...shardStats.part });
    if (shardStats.errors) errors.push({ shard: shardStats.shard, ...shardStats.errors });
  }
  // Incremental runs: the deletions files the planner wrote (at the top of the folder when the
  // run was planned before the per-kind folders).
  const deletions: NonNullable<RunManifest['deletions']> = [];
  for (const prefix of [DELETIONS_PREFIX, LEGACY_DELETIONS_PREFIX]) {
    for await (const info of folder.store.list(folder.keyOf(prefix))) {
      const rows = (await readParquetMetadata(await folder.store.openBlob(info.key))).numRows;
      deletions.push({ key: info.key.slice(folder.prefix.length), rows });
    }
  }
  const manifest: RunManifest = {
    schemaVersion: 1,
    runId: spec.runId,
    source: spec.source,
    model: spec.model,
    labels: spec.labels,
    templates: spec.templates,
    embeddingDim: spec.model.embedDim,
    ...(spec.embeddingDtype ? { embeddingDtype: spec.embeddingDtype } : {}),
    ...(spec.decode ? { decode: spec.decode } : {}),
    shards: listing.shardsPlanned,
    parts,
    errors,
    labelsFile: spec.labels && (await folder.store.exists(folder.keyOf(RUN_LAYOUT.labels))) ? RUN_LAYOUT.labels : null,
    ...(deletions.length > 0 ? { deletions } : {}),
    counts: { planned: listing.objectsPlanned, ok, error, byErrorCode, ...(spec.writeS3Tags ? { s3Tags } : {}) },
    timings: { createdAt: spec.createdAt, listedAt: listing.updatedAt, finalizedAt: new Date().toISOString(), shardMs },
  };
  if (ok + error !== listing.objectsPlanned) {
    throw new Error(
      `run ${spec.runId}: stats count ${ok + error} rows but ${listing.objectsPlanned} objects were planned; refusing to write a manifest`,
    );
  }
  await options.beforeManifest?.();
  await folder.writeManifest(manifest);
  if (options.updateIndex ?? true) {
    const outputPrefix = folder.prefix.slice(0, folder.prefix.length - folder.runId.length - 1);
    await indexFinalizedRun(folder, manifest, { store: folder.store, prefix: outputPrefix });
  }
  return { state: 'completed', manifest };
}
