import type { Redis } from 'ioredis';
import {
  RUN_RECORD_TTL_SECONDS,
  runDoneBitmapKey,
  runFailedKey,
  runRecentFailuresKey,
  runRecordKey,
  runsIndexKey,
  runSpecSchema,
  type RunSpec,
  type S3TagCountsSummary,
  type ShardStats,
} from '@siglip-batch/jobs';
import { CLEAR_FAILED_LUA, FAILURE_REASON_CHARS, MARK_FAILED_LUA, RECENT_FAILURES_KEPT, SHARD_FAILURE_CODES, type ShardFailure, type ShardFailureCode } from './failed-shards';
import { IllegalRunTransitionError } from './illegal-run-transition-error';
import { doneBitOf, failedCodeOf, shardChunk } from './shard-bits';
import { ENDED_RUN_STATES, isRunState, refuseTransition, statesLeadingTo, type RunState } from './run-state';
import { BEGIN_COMMIT_SCRIPT, TRANSITION_SCRIPT } from './run-state-scripts';

/** What {@link RunRegistry.transition} does with the run's reason. */
export interface TransitionOptions {
  /** Shown by `status` (why it failed, who cancelled it). Entering `running` clears the old one. */
  reason?: string;
}

/** States the finaliser may still set once it has started writing the manifest. */
const WHILE_COMMITTING: readonly RunState[] = ['finalizing', 'completed'];

export interface RunRecord {
  spec: RunSpec;
  queue: string;
  state: RunState;
  /** True once the finaliser has started writing the manifest: the run can no longer be cancelled. */
  committing: boolean;
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
  /** Shards that failed permanently and have not succeeded since (an exact count). */
  shardsFailed: number;
  /** Those shards by failure code. */
  failedCodes: Partial<Record<ShardFailureCode, number>>;
  /** The last few failures still failed, newest first (at most {@link RECENT_FAILURES_KEPT}). */
  recentFailures: ShardFailure[];
  /** The same last few as shard → reason (older failures are only counted). */
  failedShards: Record<number, string>;
  createdAt: string;
  firstShardAt: string | null;
  lastShardAt: string | null;
  finishedAt: string | null;
  reason: string | null;
}

// Marks a shard done exactly once: the bitmap decides, counters move only on the first time,
// so a retried or duplicated shard never counts twice.
const MARK_DONE = `${CLEAR_FAILED_LUA}
local was = setDoneBit(KEYS[2], tonumber(ARGV[1]))
clearFailed(KEYS[1], KEYS[3], KEYS[4], ARGV[1])
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
      .persist(runRecentFailuresKey(this.prefix, spec.runId))
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

  /**
   * Moves the run to `to` if the transition table allows it from its current state, compared
   * and set in one step in Redis; refused otherwise, with an {@link IllegalRunTransitionError}
   * that names the current state (also when Redis has no record of the run). Returns the state
   * it left.
   */
  async transition(runId: string, to: RunState, options: TransitionOptions = {}): Promise<RunState> {
    const ended = ENDED_RUN_STATES.has(to);
    const reasonMode = options.reason !== undefined ? 'set' : to === 'running' ? 'clear' : 'keep';
    const [changed, current, committing] = (await this.redis.eval(
      TRANSITION_SCRIPT,
      1,
      runRecordKey(this.prefix, runId),
      to,
      `,${statesLeadingTo(to).join(',')},`,
      `,${WHILE_COMMITTING.join(',')},`,
      reasonMode,
      ended ? 1 : 0,
      new Date().toISOString(),
      options.reason?.slice(0, 2000) ?? '',
    )) as [number, string, number];
    const state = isRunState(current) ? current : undefined;
    if (changed === 1) return state ?? 'listing';
    if (state === undefined) {
      throw new IllegalRunTransitionError(`run ${runId} is not known to Redis: it cannot be ${to === 'cancelled' ? 'cancelled' : `set ${to}`}`, runId, undefined, to);
    }
    const refused = refuseTransition(runId, state, to);
    const message =
      refused === undefined && committing === 1
        ? `run ${runId} is ${state} and its manifest is being written: it can no longer be ${to === 'cancelled' ? 'cancelled' : `set ${to}`}`
        : (refused ?? `run ${runId} is ${state}: it cannot be set ${to}`);
    throw new IllegalRunTransitionError(message, runId, state, to);
  }

  /**
   * The finaliser's commit point, right before it puts the manifest: from here on the run can
   * only complete (a `cancel` that came first wins, and this refuses). Idempotent for a retried
   * finalise job.
   */
  async beginCommit(runId: string): Promise<void> {
    const [ok, current] = (await this.redis.eval(BEGIN_COMMIT_SCRIPT, 1, runRecordKey(this.prefix, runId), new Date().toISOString())) as [number, string];
    if (ok === 1) return;
    const state = isRunState(current) ? current : undefined;
    throw new IllegalRunTransitionError(
      state ? `run ${runId} is ${state}: its manifest is not written` : `run ${runId} is not known to Redis: its manifest is not written`,
      runId,
      state,
      'completed',
    );
  }

  /** Records a finished shard; true the first time, false for a duplicate. */
  async markShardDone(stats: ShardStats): Promise<boolean> {
    const runId = stats.runId;
    const first = await this.redis.eval(
      MARK_DONE,
      4,
      runRecordKey(this.prefix, runId),
      runDoneBitmapKey(this.prefix, runId),
      runFailedKey(this.prefix, runId),
      runRecentFailuresKey(this.prefix, runId),
      stats.shard,
      stats.ok,
      stats.error,
      JSON.stringify(stats.errorCodes),
      new Date().toISOString(),
      JSON.stringify(stats.s3Tags ?? {}),
    );
    return first === 1;
  }

  /**
   * True once planning is complete and every planned shard is done: the run's finalise job may
   * run now. Three counters of the record, without reading (and parsing) the whole of it.
   */
  async allShardsDone(runId: string): Promise<boolean> {
    const [complete, done, planned] = await this.redis.hmget(runRecordKey(this.prefix, runId), 'listingComplete', 'shardsDone', 'shardsPlanned');
    return complete === '1' && Number(done ?? 0) >= Number(planned ?? 0);
  }

  async isShardDone(runId: string, shard: number): Promise<boolean> {
    return doneBitOf(await this.redis.hgetBuffer(runDoneBitmapKey(this.prefix, runId), shardChunk(shard)), shard);
  }

  /** {@link isShardDone} for a batch of shards, in one pipelined round trip. */
  async shardsDone(runId: string, shards: readonly number[]): Promise<boolean[]> {
    if (shards.length === 0) return [];
    const key = runDoneBitmapKey(this.prefix, runId);
    // One read per chunk the batch touches (a batch of consecutive shards: one or two).
    const chunks = [...new Set(shards.map(shardChunk))];
    const pipeline = this.redis.pipeline();
    for (const chunk of chunks) pipeline.hgetBuffer(key, chunk);
    const results = (await pipeline.exec()) ?? [];
    const bits = new Map<string, Buffer | null>();
    chunks.forEach((chunk, i) => {
      const [error, value] = results[i] ?? [new Error('no reply')];
      if (error) throw error;
      bits.set(chunk, (value as Buffer | null) ?? null);
    });
    return shards.map((shard) => doneBitOf(bits.get(shardChunk(shard)) ?? null, shard));
  }

  /**
   * Records that a shard failed permanently: its code, the run's counters (exact under
   * concurrent failures) and its reason among the last few. A shard already done stays done.
   * True when the shard was not failed before.
   */
  async markShardFailed(runId: string, shard: number, reason: string, code: ShardFailureCode = 'permanent'): Promise<boolean> {
    const failure: ShardFailure = { shard, code, reason: reason.slice(0, FAILURE_REASON_CHARS), at: new Date().toISOString() };
    const added = await this.redis.eval(
      MARK_FAILED_LUA,
      4,
      runRecordKey(this.prefix, runId),
      runFailedKey(this.prefix, runId),
      runRecentFailuresKey(this.prefix, runId),
      runDoneBitmapKey(this.prefix, runId),
      shard,
      SHARD_FAILURE_CODES.indexOf(code) + 1,
      JSON.stringify(failure),
      RECENT_FAILURES_KEPT,
    );
    return added === 1;
  }

  /** The shard is being tried again (its failed job revived): it no longer counts as failed. */
  async clearShardFailed(runId: string, shard: number): Promise<void> {
    await this.redis.eval(
      `${CLEAR_FAILED_LUA}\nreturn clearFailed(KEYS[1], KEYS[2], KEYS[3], ARGV[1])`,
      3,
      runRecordKey(this.prefix, runId),
      runFailedKey(this.prefix, runId),
      runRecentFailuresKey(this.prefix, runId),
      shard,
    );
  }

  /** One shard's failure, without reading the others. */
  async isShardFailed(runId: string, shard: number): Promise<boolean> {
    return failedCodeOf(await this.redis.hgetBuffer(runFailedKey(this.prefix, runId), shardChunk(shard)), shard) !== 0;
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
      .expire(runRecentFailuresKey(this.prefix, runId), ttlSeconds)
      .exec();
  }

  /**
   * The run's record; `{ reasons: false }` leaves out the last failure reasons (up to 20 × 2 KB)
   * for callers that need only the counters.
   */
  async get(runId: string, options: { reasons?: boolean } = {}): Promise<RunRecord | undefined> {
    const [hash, recent] = await Promise.all([
      this.redis.hgetall(runRecordKey(this.prefix, runId)),
      options.reasons === false ? Promise.resolve([]) : this.redis.lrange(runRecentFailuresKey(this.prefix, runId), 0, RECENT_FAILURES_KEPT - 1),
    ]);
    if (!hash['spec']) return undefined;
    const errorCodes: Record<string, number> = {};
    const failedCodes: Partial<Record<ShardFailureCode, number>> = {};
    for (const [field, value] of Object.entries(hash)) {
      if (field.startsWith('code:')) errorCodes[field.slice(5)] = Number(value);
      else if (field.startsWith('failcode:') && Number(value) > 0) failedCodes[field.slice(9) as ShardFailureCode] = Number(value);
    }
    const recentFailures = recent.map((entry) => JSON.parse(entry) as ShardFailure);
    const failedShards: Record<number, string> = {};
    for (const failure of [...recentFailures].reverse()) failedShards[failure.shard] = failure.reason;
    const num = (field: string) => Number(hash[field] ?? 0);
    const spec = runSpecSchema.parse(JSON.parse(hash['spec']));
    return {
      spec,
      queue: hash['queue'] ?? '',
      state: hash['state'] && isRunState(hash['state']) ? hash['state'] : 'listing',
      committing: hash['committingAt'] !== undefined,
      shardsPlanned: num('shardsPlanned'),
      objectsPlanned: num('objectsPlanned'),
      listingComplete: hash['listingComplete'] === '1',
      shardsDone: num('shardsDone'),
      objectsOk: num('objectsOk'),
      objectsError: num('objectsError'),
      errorCodes,
      inferred: num('inferred'),
      s3Tags: spec.writeS3Tags ? { tagged: num('s3tags:tagged'), full: num('s3tags:full'), failed: num('s3tags:failed') } : null,
      shardsFailed: num('shardsFailed'),
      failedCodes,
      recentFailures,
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
