import type { Redis } from 'ioredis';
import {
  RUN_RECORD_TTL_SECONDS,
  runDoneBitmapKey,
  runFailedKey,
  runRecordKey,
  runsIndexKey,
  runSpecSchema,
  type RunSpec,
  type S3TagCountsSummary,
  type ShardStats,
} from '@siglip-batch/jobs';

export const RUN_STATES = ['listing', 'running', 'finalizing', 'completed', 'failed', 'cancelled'] as const;
export type RunState = (typeof RUN_STATES)[number];

export interface RunRecord {
  spec: RunSpec;
  queue: string;
  state: RunState;
  shardsPlanned: number;
  objectsPlanned: number;
  listingComplete: boolean;
  shardsDone: number;
  objectsOk: number;
  objectsError: number;
  errorCodes: Record<string, number>;
  /** Objects sent to inference, retries included (work amplification = inferred / planned). */
  inferred: number;
  /** Runs with `writeS3Tags`: tag write-back counts of the finished shards (see ShardStats). */
  s3Tags: S3TagCountsSummary | null;
  failedShards: Record<number, string>;
  createdAt: string;
  firstShardAt: string | null;
  lastShardAt: string | null;
  finishedAt: string | null;
  reason: string | null;
}

// Marks a shard done exactly once: the bitmap decides, counters move only on the first time,
// so a retried or duplicated shard never counts twice.
const MARK_DONE = `
local was = redis.call('SETBIT', KEYS[2], ARGV[1], 1)
redis.call('HDEL', KEYS[3], ARGV[1])
redis.call('HSET', KEYS[1], 'lastShardAt', ARGV[5])
if redis.call('HEXISTS', KEYS[1], 'firstShardAt') == 0 then redis.call('HSET', KEYS[1], 'firstShardAt', ARGV[5]) end
if was == 1 then return 0 end
redis.call('HINCRBY', KEYS[1], 'shardsDone', 1)
redis.call('HINCRBY', KEYS[1], 'objectsOk', ARGV[2])
redis.call('HINCRBY', KEYS[1], 'objectsError', ARGV[3])
local codes = cjson.decode(ARGV[4])
for code, n in pairs(codes) do redis.call('HINCRBY', KEYS[1], 'code:' .. code, n) end
local tags = cjson.decode(ARGV[6])
for field, n in pairs(tags) do redis.call('HINCRBY', KEYS[1], 's3tags:' .. field, n) end
return 1
`;

/**
 * The run records in Redis: spec, state, listing progress, a bitmap of finished shards and
 * counters. They are a fast view for `status` and the dashboard; the truth is in the store
 * (plans, stats, manifest), so everything here can be rebuilt and expires after the run ends.
 */
export class RunRegistry {
  constructor(
    private readonly redis: Redis,
    private readonly prefix: string,
  ) {}

  async register(spec: RunSpec, queue: string): Promise<void> {
    const key = runRecordKey(this.prefix, spec.runId);
    await this.redis
      .multi()
      .hsetnx(key, 'createdAt', spec.createdAt)
      .hset(key, { spec: JSON.stringify(spec), queue })
      .hsetnx(key, 'state', 'listing')
      .persist(key)
      .persist(runDoneBitmapKey(this.prefix, spec.runId))
      .persist(runFailedKey(this.prefix, spec.runId))
      .zadd(runsIndexKey(this.prefix), Date.parse(spec.createdAt) || Date.now(), spec.runId)
      // The index outlives no record: entries older than the records' lifetime are dropped.
      .zremrangebyscore(runsIndexKey(this.prefix), '-inf', Date.now() - 4 * RUN_RECORD_TTL_SECONDS * 1000)
      .exec();
  }

  async exists(runId: string): Promise<boolean> {
    return (await this.redis.hexists(runRecordKey(this.prefix, runId), 'spec')) === 1;
  }

  async setListing(runId: string, progress: { shardsPlanned: number; objectsPlanned: number; complete: boolean }): Promise<void> {
    await this.redis.hset(runRecordKey(this.prefix, runId), {
      shardsPlanned: progress.shardsPlanned,
      objectsPlanned: progress.objectsPlanned,
      listingComplete: progress.complete ? 1 : 0,
    });
  }

  async setState(runId: string, state: RunState, reason?: string): Promise<void> {
    const fields: Record<string, string> = { state };
    if (reason !== undefined) fields['reason'] = reason;
    if (state === 'completed' || state === 'failed' || state === 'cancelled') fields['finishedAt'] = new Date().toISOString();
    await this.redis.hset(runRecordKey(this.prefix, runId), fields);
  }

  /** Records a finished shard; true the first time, false for a duplicate. */
  async markShardDone(stats: ShardStats): Promise<boolean> {
    const runId = stats.runId;
    const first = await this.redis.eval(
      MARK_DONE,
      3,
      runRecordKey(this.prefix, runId),
      runDoneBitmapKey(this.prefix, runId),
      runFailedKey(this.prefix, runId),
      stats.shard,
      stats.ok,
      stats.error,
      JSON.stringify(stats.errorCodes),
      new Date().toISOString(),
      JSON.stringify(stats.s3Tags ?? {}),
    );
    return first === 1;
  }

  async isShardDone(runId: string, shard: number): Promise<boolean> {
    return (await this.redis.getbit(runDoneBitmapKey(this.prefix, runId), shard)) === 1;
  }

  async markShardFailed(runId: string, shard: number, reason: string): Promise<void> {
    await this.redis.hset(runFailedKey(this.prefix, runId), String(shard), reason.slice(0, 2000));
  }

  async clearShardFailed(runId: string, shard: number): Promise<void> {
    await this.redis.hdel(runFailedKey(this.prefix, runId), String(shard));
  }

  async addInferred(runId: string, images: number): Promise<void> {
    await this.redis.hincrby(runRecordKey(this.prefix, runId), 'inferred', images);
  }

  /** Run records expire this long after the run ended (completed, failed or cancelled). */
  async expireAfterEnd(runId: string, ttlSeconds = RUN_RECORD_TTL_SECONDS): Promise<void> {
    await this.redis
      .multi()
      .expire(runRecordKey(this.prefix, runId), ttlSeconds)
      .expire(runDoneBitmapKey(this.prefix, runId), ttlSeconds)
      .expire(runFailedKey(this.prefix, runId), ttlSeconds)
      .exec();
  }

  async get(runId: string): Promise<RunRecord | undefined> {
    const [hash, failed] = await Promise.all([
      this.redis.hgetall(runRecordKey(this.prefix, runId)),
      this.redis.hgetall(runFailedKey(this.prefix, runId)),
    ]);
    if (!hash['spec']) return undefined;
    const errorCodes: Record<string, number> = {};
    for (const [field, value] of Object.entries(hash)) {
      if (field.startsWith('code:')) errorCodes[field.slice(5)] = Number(value);
    }
    const failedShards: Record<number, string> = {};
    for (const [shard, reason] of Object.entries(failed)) failedShards[Number(shard)] = reason;
    const num = (field: string) => Number(hash[field] ?? 0);
    const spec = runSpecSchema.parse(JSON.parse(hash['spec']));
    return {
      spec,
      queue: hash['queue'] ?? '',
      state: (hash['state'] as RunState | undefined) ?? 'listing',
      shardsPlanned: num('shardsPlanned'),
      objectsPlanned: num('objectsPlanned'),
      listingComplete: hash['listingComplete'] === '1',
      shardsDone: num('shardsDone'),
      objectsOk: num('objectsOk'),
      objectsError: num('objectsError'),
      errorCodes,
      inferred: num('inferred'),
      s3Tags: spec.writeS3Tags ? { tagged: num('s3tags:tagged'), full: num('s3tags:full'), failed: num('s3tags:failed') } : null,
      failedShards,
      createdAt: hash['createdAt'] ?? '',
      firstShardAt: hash['firstShardAt'] ?? null,
      lastShardAt: hash['lastShardAt'] ?? null,
      finishedAt: hash['finishedAt'] ?? null,
      reason: hash['reason'] ?? null,
    };
  }

  /** Run ids, newest first. */
  async list(limit = 100): Promise<string[]> {
    return this.redis.zrevrange(runsIndexKey(this.prefix), 0, limit - 1);
  }
}
