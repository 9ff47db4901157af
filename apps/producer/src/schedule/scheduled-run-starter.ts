import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { S3Options } from '@siglip-batch/io';
import { runSpecSchema } from '@siglip-batch/jobs';
import { RunRegistry, buildRunSpec, resolveRunSource } from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';
import { enqueueRun, type EnqueueSummary } from '../enqueue/run-enqueuer';
import { firingTime, scheduleLastRunKey, scheduledRunId, scheduledRunSchema } from './scheduled-run';

export type FiringResult =
  | ({ started: true; runId: string } & EnqueueSummary)
  | { started: false; runId: string; previousRun: string; reason: string };

export interface FiringOptions {
  redis: Redis;
  /** BullMQ prefix (of the scheduler queue and of the run queues alike). */
  prefix: string;
  s3: S3Options;
  /** Aborted when the scheduler stops: enqueuing stops, and the firing is retried later. */
  signal?: AbortSignal;
  /** Planning units of the run this process plans at once (see EnqueueOptions). */
  planners?: number;
  /** Key ranges a firing's prefix listing is split into (see EnqueueOptions). */
  planningUnits?: number;
}

/**
 * One firing of a schedule: an incremental run, id from the schedule name and firing time,
 * planned and enqueued exactly as `enqueue --incremental` does (so a firing delivered twice,
 * or retried, adds nothing the first did not).
 *
 * A firing while the schedule's previous run has not ended starts nothing: the processed index
 * is updated only when a run is finalised, so a run planned before that would plan the previous
 * run's objects a second time. The next firing after it ends picks up everything new.
 */
export async function startScheduledRun(job: Job, options: FiringOptions): Promise<FiringResult> {
  const { redis, prefix, s3 } = options;
  const data = scheduledRunSchema.parse(job.data);
  const runId = scheduledRunId(data.schedule, firingTime(job), data.subDaily);
  const lastKey = scheduleLastRunKey(prefix, data.schedule);
  const previousRun = await redis.get(lastKey);
  if (previousRun && previousRun !== runId) {
    const previous = await new RunRegistry(redis, prefix).get(previousRun);
    // No record: Redis forgot the run (records expire days after a run ends), so it is over.
    if (previous && (previous.state === 'listing' || previous.state === 'running' || previous.state === 'finalizing')) {
      return { started: false, runId, previousRun, reason: `the previous run ${previousRun} of schedule ${data.schedule} is still ${previous.state}` };
    }
  }
  await redis.set(lastKey, runId);
  // An inventory configuration's folder → tonight's newest report (a retried firing keeps the spec it froze, below).
  const { source } = await resolveRunSource(data.source, data.sourceKind ?? 'auto', s3);
  let spec = buildRunSpec({
    runId,
    source,
    output: data.output,
    model: data.model,
    labels: data.labels,
    templates: data.templates,
    ...(data.shardSize ? { shardSize: data.shardSize } : {}),
    ...(data.priority ? { priority: data.priority } : {}),
    suffixes: data.suffixes,
    ...(data.maxBytes ? { maxBytes: data.maxBytes } : {}),
    ...(data.maxPixels ? { maxPixels: data.maxPixels } : {}),
    ...(data.writeS3Tags ? { writeS3Tags: true } : {}),
    ...(data.embeddingDtype ? { embeddingDtype: data.embeddingDtype } : {}),
    ...(data.decode ? { decode: data.decode } : {}),
    ...(data.retryErrorsAfterSeconds ? { retryErrorsAfterSeconds: data.retryErrorsAfterSeconds } : {}),
    incremental: true,
  });
  const folder = openRunFolder(spec, s3);
  try {
    // A retried firing continues the run its first attempt froze.
    const stored = await folder.readRunSpec();
    if (stored) spec = runSpecSchema.parse(stored);
    else await folder.writeRunSpec(spec);
    const summary = await enqueueRun({ spec, folder, redis, prefix, s3, maxWaiting: 200, planners: options.planners ?? 1, planningUnits: options.planningUnits ?? 1, ...(options.signal ? { signal: options.signal } : {}) });
    return { started: true, runId, ...summary };
  } catch (error) {
    // A run left 'listing' would hold back every later firing: it is failed until a retry of
    // this firing (same run id) resumes it, or the next firing starts a new one.
    const registry = new RunRegistry(redis, prefix);
    if ((await registry.get(runId).catch(() => undefined))?.state === 'listing') {
      await registry.transition(runId, 'failed', { reason: `the scheduled run could not be enqueued: ${(error as Error).message}` }).catch(() => undefined);
    }
    throw error;
  } finally {
    folder.store.close();
  }
}
