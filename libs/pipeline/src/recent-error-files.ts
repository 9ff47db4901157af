import type { Redis } from 'ioredis';
import { RUN_RECORD_TTL_SECONDS, runRecentErrorFilesKey, type ShardStats } from '@siglip-batch/jobs';

/** Errors files a run's record of recent errors keeps (its newest shards with error rows). */
export const RECENT_ERROR_FILES = 20;

/**
 * Notes a finished shard's errors file at the head of the run's capped list (LPUSH + LTRIM), so
 * that "recent errors" are the newest shards' whatever the size of the run. The list expires
 * with the run's other records; shards without error rows leave it alone.
 */
export async function recordRecentErrorFile(redis: Redis, prefix: string, stats: ShardStats, keep = RECENT_ERROR_FILES): Promise<void> {
  if (!stats.errors || stats.errors.rows === 0) return;
  const key = runRecentErrorFilesKey(prefix, stats.runId);
  await redis.multi().lrem(key, 0, stats.errors.key).lpush(key, stats.errors.key).ltrim(key, 0, keep - 1).expire(key, RUN_RECORD_TTL_SECONDS).exec();
}

/** The run's newest errors files (relative keys), newest first; empty when Redis has none. */
export async function readRecentErrorFiles(redis: Redis, prefix: string, runId: string, count = RECENT_ERROR_FILES): Promise<string[]> {
  return redis.lrange(runRecentErrorFilesKey(prefix, runId), 0, count - 1);
}
