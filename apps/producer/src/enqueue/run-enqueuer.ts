import type { Redis } from 'ioredis';
import type { S3Options } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import { ShardQueue, queueNameForModel, runRecordKey, type RunSpec } from '@siglip-batch/jobs';
import {
  IllegalRunTransitionError,
  RunLock,
  RunRegistry,
  completeRunPlan,
  createIncrementalFilter,
  forEachStoredStats,
  planUnit,
  plannedTotals,
  prepareRunPlan,
  readCancelMarker,
  type IncrementalStats,
  type PlanProgress,
} from '@siglip-batch/pipeline';
import { addUnitJobs, planningQueue, startPlanners, waitForUnits } from './planning-queue';

export interface EnqueueOptions {
  spec: RunSpec;
  folder: RunFolder;
  redis: Redis;
  /** BullMQ prefix. */
  prefix: string;
  s3?: S3Options;
  /** At most this many shard jobs waiting in the model's queue; each planner pauses above it. */
  maxWaiting: number;
  /**
   * Planning units this process plans at once (its share of the run's planning queue).
   * @defaultValue 1
   */
  planners?: number;
  /**
   * S3 prefix and directory sources: split a run planned for the first time into this many
   * key ranges (a resumed run keeps its split). Manifest globs and S3 Inventory reports are
   * split by file whatever this says.
   * @defaultValue 1
   */
  planningUnits?: number;
  /** Lock duration of a planner's hold on a unit (tests shorten it). @defaultValue 30 s */
  planLockMs?: number;
  signal?: AbortSignal;
  onProgress?(progress: EnqueueProgress): void;
  onNotice?(message: string): void;
}

export interface EnqueueProgress extends PlanProgress {
  shardsEnqueued: number;
  shardsAlreadyDone: number;
}

export interface EnqueueSummary extends EnqueueProgress {
  queue: string;
  /** True when the run already had its manifest: nothing was added. */
  alreadyComplete: boolean;
  /** Planning units of the run. */
  planningUnits: number;
  /** Incremental runs: objects listed, planned, unchanged (skipped) and deleted by this process's planners. */
  incremental?: IncrementalStats;
}

/**
 * Plans a run into the store and enqueues its shards, idempotently: what is done is decided
 * from the store (plans, stats, manifest), so enqueuing a run again — even after Redis lost
 * every job — adds exactly the shards that have no stats, and nothing for a finished run.
 *
 * Any number of producers may enqueue the same run at once: the first splits the source into
 * planning units (under the run's planning lock), every one then queues the units' jobs (ids
 * are deterministic, so each exists once) and plans units with its `planners` until none is
 * left; the run is marked planned and its finalise job added by whichever sees that first.
 */
export async function enqueueRun(options: EnqueueOptions): Promise<EnqueueSummary> {
  const { spec, folder, redis, prefix } = options;
  const queueName = queueNameForModel(spec.model.hash, spec.model.variant);
  const registry = new RunRegistry(redis, prefix);
  const manifest = await folder.readManifest();
  if (manifest) {
    await registry.register(spec, queueName);
    // Already completed (a repeated enqueue) is fine: the manifest is the truth.
    await registry.transition(spec.runId, 'completed').catch((error: unknown) => {
      if (!(error instanceof IllegalRunTransitionError)) throw error;
    });
    return {
      queue: queueName,
      alreadyComplete: true,
      planningUnits: (await folder.readListing())?.units ?? 1,
      shardsPlanned: manifest.shards,
      objectsPlanned: manifest.counts.planned,
      complete: true,
      shardsEnqueued: 0,
      shardsAlreadyDone: manifest.shards,
    };
  }
  // Redis may have forgotten a cancelled run; its folder has not.
  const cancelled = await readCancelMarker(folder);
  if (cancelled) throw new Error(`run ${spec.runId} is cancelled (${cancelled.cancelledAt}): nothing more is enqueued for it; use a new run id`);
  await registry.register(spec, queueName);
  // Done is decided by the store: shards with stats are never enqueued again, and Redis's
  // view of them (the done bitmap) is rebuilt first (it may have lost everything). From then
  // on the bitmap is asked, not a copy taken here: workers keep setting it while this runs,
  // and a shard they finish meanwhile must not be queued again (nor a list of shards grow).
  // One listing of the stats keys, their bits asked a batch at a time, and only the shards
  // Redis does not know read (their counts go into the run record), a bounded number at once.
  await forEachStoredStats(
    folder,
    { select: async (shards) => (await registry.shardsDone(spec.runId, shards)).map((done) => !done) },
    async (stats) => {
      await registry.markShardDone(stats);
    },
  );

  // The split, once per run: producers starting together wait for the first one's.
  const lock = new RunLock(redis, `${runRecordKey(prefix, spec.runId)}:planning`);
  await lock.acquire(() => options.onNotice?.(`another producer is splitting run ${spec.runId} into planning units; waiting for it`), options.signal);
  let listing;
  try {
    listing = await prepareRunPlan({
      folder,
      spec,
      units: options.planningUnits ?? 1,
      ...(options.s3 ? { s3: options.s3 } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  } finally {
    await lock.release().catch(() => undefined);
  }
  const units = listing.units ?? 1;
  const multiUnit = listing.units !== undefined;
  if (multiUnit) {
    // What the units planned so far (Redis may have lost it); counts move by increments below.
    await registry.setListing(spec.runId, await plannedTotals(folder, listing));
  }

  const queue = ShardQueue.forModel(redis, prefix, spec.model);
  const units$ = planningQueue(redis, prefix, spec.runId);
  const progress: EnqueueProgress = { shardsPlanned: 0, objectsPlanned: 0, complete: false, shardsEnqueued: 0, shardsAlreadyDone: 0 };
  const report = () => options.onProgress?.({ ...progress });
  const incremental: IncrementalStats[] = [];
  const stop = new AbortController();
  const planners = startPlanners({
    redis,
    prefix,
    runId: spec.runId,
    planners: Math.max(1, options.planners ?? 1),
    ...(options.planLockMs !== undefined ? { lockMs: options.planLockMs } : {}),
    plan: async (unit, jobSignal) => {
      const signal = AbortSignal.any([jobSignal, stop.signal, ...(options.signal ? [options.signal] : [])]);
      const listingFilter = spec.incremental ? createIncrementalFilter(spec, folder, options.s3) : undefined;
      // The unit's first report is what it had planned before (counted by plannedTotals above).
      const seen = { shardsPlanned: 0, objectsPlanned: 0, reported: false };
      try {
        await planUnit({
          folder,
          spec,
          listing,
          unit,
          signal,
          ...(options.s3 ? { s3: options.s3 } : {}),
          ...(listingFilter ? { listingFilter } : {}),
          onProgress: (planned) => {
            progress.shardsPlanned += planned.shardsPlanned - seen.shardsPlanned;
            progress.objectsPlanned += planned.objectsPlanned - seen.objectsPlanned;
            if (multiUnit) {
              // Increments, so that units planned by other processes add up (exact once every unit is complete).
              const shards = planned.shardsPlanned - seen.shardsPlanned;
              const objects = planned.objectsPlanned - seen.objectsPlanned;
              if (shards > 0 && seen.reported) void addPlanned(redis, prefix, spec.runId, shards, objects);
            } else {
              void registry.setListing(spec.runId, planned).catch(() => undefined);
            }
            seen.shardsPlanned = planned.shardsPlanned;
            seen.objectsPlanned = planned.objectsPlanned;
            seen.reported = true;
            report();
          },
          onShard: async (shard, { resumed }) => {
            if (shard % 50 === 0 && (await registry.get(spec.runId, { reasons: false }))?.state === 'cancelled') {
              throw new Error(`run ${spec.runId} is cancelled: nothing more is enqueued for it (stopped at shard ${shard}); use a new run id`);
            }
            if (await registry.isShardDone(spec.runId, shard)) {
              progress.shardsAlreadyDone++;
              return;
            }
            await queue.waitForRoom(options.maxWaiting, signal);
            const outcome = await queue.ensureShardJob(spec.runId, shard, { resumed, priority: spec.priority }, registry);
            if (outcome === 'added') progress.shardsEnqueued++;
            else if (outcome === 'done') progress.shardsAlreadyDone++;
            report();
          },
        });
      } finally {
        if (listingFilter) incremental.push({ ...listingFilter.stats });
      }
    },
  });
  try {
    await addUnitJobs(units$, spec.runId, units);
    await waitForUnits(units$, options.signal);
    const result = await completeRunPlan(folder);
    if (!result.complete) throw new Error(`run ${spec.runId}: its planning units are not all complete after their jobs ended; enqueue it again`);
    Object.assign(progress, result);
    await registry.setListing(spec.runId, result);
    const record = await registry.get(spec.runId, { reasons: false });
    if (record && (record.state === 'listing' || record.state === 'failed' || record.state === 'cancelled')) {
      // listing → running, failed → running (its failed shards are queued again); a cancelled
      // run is refused here, atomically, even when the cancel came after the last check above.
      // Producers sharing the run's units all get here: the first moves it, the others find it
      // running already (or past it: a fast run may be finalising), which is what they wanted.
      await registry.transition(spec.runId, 'running').catch((error: unknown) => {
        const movedOn = error instanceof IllegalRunTransitionError && (error.current === 'running' || error.current === 'finalizing' || error.current === 'completed');
        if (!movedOn) throw error;
      });
    }
    await queue.ensureFinalizeJob(spec.runId, spec.priority);
    return {
      queue: queueName,
      alreadyComplete: false,
      planningUnits: units,
      ...progress,
      ...(spec.incremental ? { incremental: sumStats(incremental) } : {}),
    };
  } finally {
    stop.abort(new Error('enqueue ended'));
    // Forced: planners still holding units (this process failing) leave them to the others,
    // whose stalled-job check takes them over once this process's locks lapse.
    await planners.close(true);
    await units$.close();
    await queue.close();
  }
}

/** Shards planned by the units of a run planned in several units (an increment of the run record). */
async function addPlanned(redis: Redis, prefix: string, runId: string, shards: number, objects: number): Promise<void> {
  await redis
    .multi()
    .hincrby(runRecordKey(prefix, runId), 'shardsPlanned', shards)
    .hincrby(runRecordKey(prefix, runId), 'objectsPlanned', objects)
    .exec()
    .catch(() => undefined);
}

function sumStats(all: readonly IncrementalStats[]): IncrementalStats {
  const sum: IncrementalStats = { listed: 0, planned: 0, unchanged: 0, deleted: 0 };
  for (const stats of all) {
    sum.listed += stats.listed;
    sum.planned += stats.planned;
    sum.unchanged += stats.unchanged;
    sum.deleted += stats.deleted;
    if (stats.retried !== undefined) sum.retried = (sum.retried ?? 0) + stats.retried;
  }
  return sum;
}
