import { forEachBounded } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import type { ShardStats } from '@siglip-batch/jobs';

/** Stats objects read at once when a run is rebuilt from its folder. */
export const STORED_STATS_CONCURRENCY = 32;
/** Shards taken from the listing per step: the only thing held besides the reads in flight. */
export const STORED_STATS_BATCH = 1_000;

export interface StoredStatsOptions {
  /** @defaultValue {@link STORED_STATS_CONCURRENCY} */
  concurrency?: number;
  /** @defaultValue {@link STORED_STATS_BATCH} */
  batch?: number;
  signal?: AbortSignal;
  /**
   * Of a batch of listed shards, which ones to read (the others are only counted as done).
   * Without it every listed shard is read.
   */
  select?: (shards: readonly number[]) => Promise<readonly boolean[]>;
}

export interface StoredStatsScan {
  /** Shards whose stats the listing holds: the done shards. */
  listed: number;
  /** Stats objects read (and visited). */
  read: number;
}

/**
 * Walks a run's done shards with one listing of `_stats/` (the key names say which shards are
 * done) and reads the stats objects that `select` asks for, a bounded number at once. `visit`
 * sees them in no particular order; nothing is kept after it returns, so callers keep running
 * sums, never a list of shards.
 */
export async function forEachStoredStats(
  folder: RunFolder,
  options: StoredStatsOptions,
  visit: (stats: ShardStats) => void | Promise<void>,
): Promise<StoredStatsScan> {
  const concurrency = Math.max(1, options.concurrency ?? STORED_STATS_CONCURRENCY);
  const batchSize = Math.max(1, options.batch ?? STORED_STATS_BATCH);
  const scan: StoredStatsScan = { listed: 0, read: 0 };
  let batch: number[] = [];
  const flush = async (): Promise<void> => {
    const wanted = options.select ? await options.select(batch) : undefined;
    const todo = wanted ? batch.filter((_, i) => wanted[i]) : batch;
    batch = [];
    await forEachBounded(todo, concurrency, async (shard) => {
      options.signal?.throwIfAborted();
      const stats = await folder.readStats(shard);
      if (!stats) return; // removed since the listing (a run folder deleted meanwhile)
      scan.read++;
      await visit(stats);
    });
  };
  for await (const shard of folder.listStats(options.signal ? { signal: options.signal } : {})) {
    scan.listed++;
    batch.push(shard);
    if (batch.length >= batchSize) await flush();
  }
  if (batch.length > 0) await flush();
  return scan;
}
