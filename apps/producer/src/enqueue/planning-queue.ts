/**
 * The run's planning queue (`plan-<run>`): one job per planning unit, with a deterministic id,
 * taken by the planners of every producer process working on the run. The job's BullMQ lock is
 * the unit's ownership: a planner that dies loses it after the lock duration, and the unit's
 * job goes back to the queue (BullMQ's stalled-job check), to be resumed by any planner from
 * the unit's cursor in the store.
 */
import { Queue, Worker, type Job } from 'bullmq';
import { hostname } from 'node:os';
import type { Redis } from 'ioredis';
import { forEachBounded, range } from '@siglip-batch/io';
import { planUnitJobDataSchema, planUnitJobId, planningQueueName, type PlanUnitJobData } from '@siglip-batch/jobs';

/** How long a planner's hold on a unit lasts without renewal (renewed every half of it). */
export const DEFAULT_PLAN_LOCK_MS = 30_000;

/** Planning jobs are not retried by BullMQ: a failed unit fails its producers, and `enqueue` again retries it. */
const PLAN_JOB_OPTIONS = {
  attempts: 1,
  removeOnComplete: { age: 7 * 24 * 3600, count: 100_000 },
  removeOnFail: { age: 7 * 24 * 3600, count: 100_000 },
};

/** Job states in which a unit is somebody's (or about to be): its job is left as it is. */
const IN_PROGRESS = new Set(['waiting', 'active', 'delayed', 'prioritized', 'waiting-children']);

/** Units whose jobs are checked (and added) at once. */
const ADD_CONCURRENCY = 16;

export function planningQueue(redis: Redis, prefix: string, runId: string): Queue<PlanUnitJobData> {
  return new Queue<PlanUnitJobData>(planningQueueName(runId), { connection: redis, prefix, defaultJobOptions: PLAN_JOB_OPTIONS });
}

/**
 * Makes sure every unit of the run has a job that will walk it in this `enqueue`: units being
 * planned (or waiting for a planner) are left to whoever has them, units whose job finished or
 * failed are queued again (walking a complete unit only checks its shards' jobs: shards that
 * failed or whose jobs Redis lost are queued again, as a resumed enqueue always did).
 */
export async function addUnitJobs(queue: Queue<PlanUnitJobData>, runId: string, units: number): Promise<void> {
  await forEachBounded(range(units), ADD_CONCURRENCY, async (unit) => {
    const jobId = planUnitJobId(runId, unit);
    const existing = await queue.getJob(jobId);
    if (existing) {
      if (IN_PROGRESS.has(await existing.getState())) return;
      // Removing a job a planner just took fails: then it is in progress, which is what we want.
      const removed = await existing.remove().then(
        () => true,
        () => false,
      );
      if (!removed) return;
    }
    await queue.add('unit', { runId, unit }, { jobId });
  });
}

export interface PlannerPoolOptions {
  redis: Redis;
  prefix: string;
  runId: string;
  /** Units planned at once by this process. */
  planners: number;
  lockMs?: number;
  plan(unit: number, signal: AbortSignal): Promise<void>;
}

export interface Planners {
  /** Stops taking units; `force`: without waiting for the units in hand (their locks lapse). */
  close(force: boolean): Promise<void>;
}

/** This process's planners: a BullMQ worker on the run's planning queue. */
export function startPlanners(options: PlannerPoolOptions): Planners {
  const lockMs = options.lockMs ?? DEFAULT_PLAN_LOCK_MS;
  // Ours to close: BullMQ does not close a connection it was handed.
  const connection = options.redis.duplicate({ maxRetriesPerRequest: null });
  const worker = new Worker<PlanUnitJobData>(
    planningQueueName(options.runId),
    async (job: Job<PlanUnitJobData>, _token?: string, signal?: AbortSignal) => {
      const { unit } = planUnitJobDataSchema.parse(job.data);
      await options.plan(unit, signal ?? new AbortController().signal);
    },
    {
      connection,
      prefix: options.prefix,
      concurrency: options.planners,
      lockDuration: lockMs,
      stalledInterval: Math.max(1_000, Math.floor(lockMs / 2)),
      // A unit whose planners keep dying is failed after this many takeovers, not retried forever.
      maxStalledCount: 10,
      // Who planned a unit (BullMQ's `processedBy`): one name per producer process.
      name: `planner:${hostname()}:${process.pid}`,
    },
  );
  worker.on('error', () => undefined);
  return {
    close: async (force) => {
      await worker.close(force).catch(() => undefined);
      connection.disconnect();
    },
  };
}

/**
 * Waits until no unit of the run is waiting or being planned (by any producer), then throws the
 * reason of a unit that failed, if one did.
 */
export async function waitForUnits(queue: Queue<PlanUnitJobData>, signal?: AbortSignal): Promise<void> {
  for (;;) {
    const counts = await queue.getJobCounts('waiting', 'active', 'delayed', 'prioritized', 'failed');
    const open = (counts['waiting'] ?? 0) + (counts['active'] ?? 0) + (counts['delayed'] ?? 0) + (counts['prioritized'] ?? 0);
    if ((counts['failed'] ?? 0) > 0) {
      const [failed] = await queue.getFailed(0, 0);
      throw new Error(failed?.failedReason ?? 'a planning unit failed');
    }
    if (open === 0) return;
    if (signal?.aborted) throw signal.reason;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}
