import { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import type { RunFolder, S3Options } from '@siglip-batch/io';
import {
  FINALIZE_JOB_OPTIONS,
  JOB_NAMES,
  SHARD_JOB_OPTIONS,
  finalizeJobId,
  queueNameForModel,
  runRecordKey,
  shardJobId,
  type RunSpec,
} from '@siglip-batch/jobs';
import { IllegalRunTransitionError, RunLock, RunRegistry, createIncrementalFilter, forEachStoredStats, planRun, readCancelMarker, type IncrementalStats, type PlanProgress } from '@siglip-batch/pipeline';

export interface EnqueueOptions {
  spec: RunSpec;
  folder: RunFolder;
  redis: Redis;
  /** BullMQ prefix. */
  prefix: string;
  s3?: S3Options;
  /** At most this many shard jobs waiting in the model's queue; listing pauses above it. */
  maxWaiting: number;
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
  /** Incremental runs: objects listed, planned, unchanged (skipped) and deleted in this listing. */
  incremental?: IncrementalStats;
}

/**
 * Plans a run into the store and enqueues its shards, idempotently: what is done is decided
 * from the store (plans, stats, manifest), so enqueuing a run again — even after Redis lost
 * every job — adds exactly the shards that have no stats, and nothing for a finished run.
 */
export async function enqueueRun(options: EnqueueOptions): Promise<EnqueueSummary> {
  const { spec, folder, redis, prefix } = options;
  const queueName = queueNameForModel(spec.model.hash, spec.model.variant);
  const registry = new RunRegistry(redis, prefix);
  const queue = new Queue(queueName, { connection: redis, prefix, defaultJobOptions: SHARD_JOB_OPTIONS });
  const lock = new RunLock(redis, `${runRecordKey(prefix, spec.runId)}:planning`);
  await lock.acquire(() => options.onNotice?.(`another producer is enqueuing run ${spec.runId}; waiting for it`), options.signal);
  try {
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

    const listingFilter = spec.incremental ? createIncrementalFilter(spec, folder, options.s3) : undefined;
    const progress: EnqueueProgress = { shardsPlanned: 0, objectsPlanned: 0, complete: false, shardsEnqueued: 0, shardsAlreadyDone: 0 };
    const report = () => options.onProgress?.({ ...progress });
    const result = await planRun({
      folder,
      spec,
      ...(options.s3 ? { s3: options.s3 } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(listingFilter ? { listingFilter } : {}),
      onProgress: (planned) => {
        Object.assign(progress, planned);
        void registry.setListing(spec.runId, planned).catch(() => undefined);
        report();
      },
      onShard: async (shard, { resumed }) => {
        if (shard % 50 === 0 && (await registry.get(spec.runId))?.state === 'cancelled') {
          throw new Error(`run ${spec.runId} is cancelled: nothing more is enqueued for it (stopped at shard ${shard}); use a new run id`);
        }
        if (await registry.isShardDone(spec.runId, shard)) {
          progress.shardsAlreadyDone++;
          return;
        }
        await waitForRoom(queue, options.maxWaiting, options.signal);
        const outcome = await ensureShardJob(queue, registry, spec, shard, resumed);
        if (outcome === 'added') progress.shardsEnqueued++;
        else if (outcome === 'done') progress.shardsAlreadyDone++;
        report();
      },
    });
    Object.assign(progress, result);
    await registry.setListing(spec.runId, result);
    const record = await registry.get(spec.runId);
    if (record && (record.state === 'listing' || record.state === 'failed' || record.state === 'cancelled')) {
      // listing → running, failed → running (its failed shards are queued again); a cancelled
      // run is refused here, atomically, even when the cancel came after the last check above.
      await registry.transition(spec.runId, 'running');
    }
    await ensureFinalizeJob(queue, spec);
    return { queue: queueName, alreadyComplete: false, ...progress, ...(listingFilter ? { incremental: { ...listingFilter.stats } } : {}) };
  } finally {
    await lock.release().catch(() => undefined);
    await queue.close();
  }
}

/**
 * Adds the shard's job, or revives it when it failed earlier: `added` when work was added,
 * `exists` when its job is waiting or running, `done` when it completed since it was last
 * looked at (a worker sets the done bit before its job completes).
 */
async function ensureShardJob(queue: Queue, registry: RunRegistry, spec: RunSpec, shard: number, resumed: boolean): Promise<'added' | 'exists' | 'done'> {
  const jobId = shardJobId(spec.runId, shard);
  if (resumed) {
    const existing = await queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state === 'failed') {
        // Tried again: no longer failed, so the finaliser waits for it instead of failing the run.
        await registry.clearShardFailed(spec.runId, shard);
        await existing.retry('failed');
        return 'added';
      }
      if (state !== 'completed') return 'exists';
      if (await registry.isShardDone(spec.runId, shard)) return 'done';
      // Completed without being marked done: the store or Redis was changed by hand; start it again.
      await existing.remove();
    }
    // Queued again (its failed job no longer kept by the queue, or removed above): not failed any more.
    await registry.clearShardFailed(spec.runId, shard);
  }
  const job = await queue.add(JOB_NAMES.shard, { runId: spec.runId, shard }, { jobId, ...(spec.priority > 0 ? { priority: spec.priority } : {}) });
  return job.id === jobId ? 'added' : 'exists';
}

/** The finalise job has a fixed id; one left finished by an earlier attempt is replaced. */
async function ensureFinalizeJob(queue: Queue, spec: RunSpec): Promise<void> {
  const jobId = finalizeJobId(spec.runId);
  const existing = await queue.getJob(jobId);
  if (existing) {
    const state = await existing.getState();
    if (state !== 'completed' && state !== 'failed') return;
    await existing.remove();
  }
  await queue.add(JOB_NAMES.finalize, { runId: spec.runId }, { jobId, ...FINALIZE_JOB_OPTIONS, ...(spec.priority > 0 ? { priority: spec.priority } : {}) });
}

/** Backpressure: wait while the queue holds `maxWaiting` or more jobs not yet started. */
async function waitForRoom(queue: Queue, maxWaiting: number, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'prioritized');
    const waiting = (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0);
    if (waiting < maxWaiting) return;
    if (signal?.aborted) throw signal.reason;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}
