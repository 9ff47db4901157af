import { readParquetMetadata } from '@siglip-batch/io';
import { writeRunFilesTable, type RunFileRow, type RunFolder } from '@siglip-batch/run-format';
import { RUN_FILES_DIR, RUN_LAYOUT, type ListingState, type RunManifest, type RunSpec, type ShardStats } from '@siglip-batch/jobs';
import type { FailedShardsView } from './failed-shards';
import { indexFinalizedRun } from './processed-index/processed-index';
import { DELETIONS_PREFIX, LEGACY_DELETIONS_PREFIX } from './processed-index/incremental-filter';
import { plannedShardRanges } from './planned-shards';

export type FinalizeOutcome =
  | { state: 'completed'; manifest: RunManifest }
  | { state: 'listing' }
  /** `missing` names at most {@link MISSING_SHARDS_NAMED} shards (the lowest); `missingCount` counts them all. */
  | { state: 'waiting'; missing: number[]; missingCount: number }
  /** `failed` names at most {@link FAILED_SHARDS_NAMED} shards (the lowest); `failedCount` counts them all. */
  | { state: 'failed'; failed: Array<{ shard: number; reason: string }>; failedCount: number };

/** Failed shards a `failed` outcome names; the rest are only counted. */
export const FAILED_SHARDS_NAMED = 10;

/** Missing shards a `waiting` outcome names; the rest are only counted. */
export const MISSING_SHARDS_NAMED = 20;

/** The file table the finaliser writes (`compact` writes others, under new keys). */
export const RUN_FILES_TABLE_KEY = `${RUN_FILES_DIR}files.parquet`;

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

/** Raised inside the table's rows to abandon the table's put when shards are missing. */
class ShardsMissing extends Error {}

/**
 * Writes `_manifest.json` once the listing is complete and every planned shard has its stats.
 * Counts are summed from the stats objects in the store, never from Redis. Until then it
 * reports what is missing; a shard that failed permanently ends the run `failed`, named.
 *
 * Streaming, memory flat in shards: the planned shards are walked in order (through
 * `plannedShardRanges`), their stats read `concurrency` at a time and in order, summed as they
 * come and turned into rows of the run's file table, which is written as they come
 * (`_manifest/files.parquet`, row group by row group). The manifest, written after the table,
 * names it with its size and row count: it holds no per-shard list, so its size does not grow
 * with the run. A shard without stats abandons the table (its put fails; nothing is left).
 */
export async function finalizeRun(options: FinalizeOptions): Promise<FinalizeOutcome> {
  const { folder, spec } = options;
  // A compacted run's stats name files that are gone: its manifest is final, never rewritten
  // from them (a duplicate finalise job after `compact` must not undo it).
  const existing = await folder.readManifest();
  if (existing?.compaction) return { state: 'completed', manifest: existing };
  const listing = await folder.readListing();
  if (!listing?.complete) return { state: 'listing' };

  const sums = newSums();
  const missing = { named: [] as number[], count: 0 };
  const failed = { named: [] as Array<{ shard: number; reason: string }>, found: 0, stoppedAsking: false };
  const view = options.failedShards;
  const concurrency = Math.max(1, options.concurrency ?? 32);

  async function* rows(): AsyncGenerator<RunFileRow> {
    for await (const { shard, stats } of inOrder(plannedShards(folder, listing!), concurrency, async (shard) => ({ shard, stats: await folder.readStats(shard) }))) {
      if (!stats) {
        missing.count++;
        if (missing.named.length < MISSING_SHARDS_NAMED) missing.named.push(shard);
        // With a known total, asking stops once enough are named; without one, every missing shard is asked.
        if (view && (view.count === undefined || failed.named.length < FAILED_SHARDS_NAMED)) {
          if (await view.isFailed(shard)) {
            failed.found++;
            if (failed.named.length < FAILED_SHARDS_NAMED) {
              failed.named.push({ shard, reason: view.reasonOf?.(shard) ?? 'failed permanently (its reason is no longer among the last kept)' });
            }
          }
        } else if (view) failed.stoppedAsking = true;
        continue;
      }
      if (missing.count > 0) continue;
      addStats(sums, stats);
      if (stats.part) yield fileRow('part', stats.shard, stats.part);
      if (stats.errors) yield fileRow('errors', stats.shard, stats.errors);
    }
    if (missing.count > 0) throw new ShardsMissing();
    // Incremental runs: the deletions files the planner wrote (at the top of the folder when the
    // run was planned before the per-kind folders).
    for (const prefix of [DELETIONS_PREFIX, LEGACY_DELETIONS_PREFIX]) {
      const keys = (async function* () {
        for await (const info of folder.store.list(folder.keyOf(prefix))) yield info.key;
      })();
      for await (const row of inOrder(keys, concurrency, async (key) => {
        const rows = (await readParquetMetadata(await folder.store.openBlob(key))).numRows;
        return fileRow('deletions', deletionsShard(key), { key: key.slice(folder.prefix.length), rows });
      })) {
        yield row;
      }
    }
    if (sums.ok + sums.error !== listing!.objectsPlanned) {
      throw new Error(
        `run ${spec.runId}: stats count ${sums.ok + sums.error} rows but ${listing!.objectsPlanned} objects were planned; refusing to write a manifest`,
      );
    }
  }

  let table: Awaited<ReturnType<typeof writeRunFilesTable>>;
  try {
    table = await writeRunFilesTable(folder.store, folder.keyOf(RUN_FILES_TABLE_KEY), rows(), { metadata: { 'siglip_batch.run_id': spec.runId } });
  } catch (error) {
    if (!(error instanceof ShardsMissing)) throw error;
    if (failed.named.length > 0) {
      return { state: 'failed', failed: failed.named, failedCount: failed.stoppedAsking ? Math.max(view?.count ?? 0, failed.found) : failed.found };
    }
    return { state: 'waiting', missing: missing.named, missingCount: missing.count };
  }

  const manifest: RunManifest = {
    schemaVersion: 2,
    runId: spec.runId,
    source: spec.source,
    model: spec.model,
    labels: spec.labels,
    templates: spec.templates,
    embeddingDim: spec.model.embedDim,
    ...(spec.embeddingDtype ? { embeddingDtype: spec.embeddingDtype } : {}),
    ...(spec.decode ? { decode: spec.decode } : {}),
    shards: listing.shardsPlanned,
    files: {
      key: RUN_FILES_TABLE_KEY,
      rows: table.rows,
      bytes: table.bytes,
      parts: table.byKind.part,
      errors: table.byKind.errors,
      deletions: table.byKind.deletions,
      replaced: 0,
    },
    labelsFile: spec.labels && (await folder.store.exists(folder.keyOf(RUN_LAYOUT.labels))) ? RUN_LAYOUT.labels : null,
    counts: { planned: listing.objectsPlanned, ok: sums.ok, error: sums.error, byErrorCode: sums.byErrorCode, ...(spec.writeS3Tags ? { s3Tags: sums.s3Tags } : {}) },
    timings: { createdAt: spec.createdAt, listedAt: listing.updatedAt, finalizedAt: new Date().toISOString(), shardMs: sums.shardMs },
  };
  await options.beforeManifest?.();
  await folder.writeManifest(manifest);
  if (options.updateIndex ?? true) {
    const outputPrefix = folder.prefix.slice(0, folder.prefix.length - folder.runId.length - 1);
    await indexFinalizedRun(folder, manifest, { store: folder.store, prefix: outputPrefix });
  }
  return { state: 'completed', manifest };
}

interface Sums {
  ok: number;
  error: number;
  byErrorCode: Record<string, number>;
  shardMs: Record<string, number>;
  s3Tags: { tagged: number; full: number; failed: number };
}

function newSums(): Sums {
  return { ok: 0, error: 0, byErrorCode: {}, shardMs: {}, s3Tags: { tagged: 0, full: 0, failed: 0 } };
}

/** Running sums: one record per error code and timing name, whatever the number of shards. */
function addStats(sums: Sums, stats: ShardStats): void {
  sums.ok += stats.ok;
  sums.error += stats.error;
  for (const [code, n] of Object.entries(stats.errorCodes)) sums.byErrorCode[code] = (sums.byErrorCode[code] ?? 0) + n;
  for (const [name, ms] of Object.entries(stats.timingsMs)) sums.shardMs[name] = (sums.shardMs[name] ?? 0) + ms;
  if (stats.s3Tags) for (const field of ['tagged', 'full', 'failed'] as const) sums.s3Tags[field] += stats.s3Tags[field];
}

function fileRow(kind: 'part' | 'errors' | 'deletions', shard: number | null, file: { key: string; rows: number }): RunFileRow {
  return { kind, shard, key: file.key, rows: file.rows, bytes: null, into: null, retiredAt: null };
}

function deletionsShard(key: string): number | null {
  const match = /deletions-(\d+)\.parquet$/.exec(key);
  return match ? Number(match[1]) : null;
}

/** Every planned shard id, ascending, one at a time. */
async function* plannedShards(folder: RunFolder, listing: ListingState): AsyncGenerator<number> {
  for await (const range of plannedShardRanges(folder, listing)) {
    for (let shard = range.first; shard < range.first + range.count; shard++) yield shard;
  }
}

/**
 * `work` over `items`, at most `concurrency` at once, results in the items' order: memory holds
 * the window, never the sequence.
 */
export async function* inOrder<T, R>(items: AsyncIterable<T>, concurrency: number, work: (item: T) => Promise<R>): AsyncGenerator<R> {
  const window: Array<Promise<R>> = [];
  try {
    for await (const item of items) {
      const pending = work(item);
      // Handled here so that a failure waiting its turn is not reported as unhandled; it is
      // still thrown when its turn comes.
      pending.catch(() => undefined);
      window.push(pending);
      if (window.length >= concurrency) yield await window.shift()!;
    }
    while (window.length > 0) yield await window.shift()!;
  } finally {
    // Left early (a failure): what is still in flight settles on its own.
    window.length = 0;
  }
}
