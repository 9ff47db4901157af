import type { Job } from 'bullmq';
import type { Redis } from 'ioredis';
import type { S3Options } from '@siglip-batch/io';
import { runSpecSchema } from '@siglip-batch/jobs';
import { buildRunSpec, openRunFolder } from '@siglip-batch/pipeline';
import { enqueueRun, type EnqueueSummary } from '../enqueue/run-enqueuer';
import { scheduledRunId, scheduledRunSchema } from './scheduled-run';

export interface StartedRun extends EnqueueSummary {
  runId: string;
}

/**
 * One firing of a schedule: an incremental run, id from the schedule name and firing time,
 * planned and enqueued exactly as `enqueue --incremental` does (so a firing delivered twice,
 * or retried, adds nothing the first did not).
 */
export async function startScheduledRun(job: Job, redis: Redis, prefix: string, s3: S3Options): Promise<StartedRun> {
  const data = scheduledRunSchema.parse(job.data);
  const firedAt = new Date(job.timestamp + (job.opts.delay ?? 0));
  const runId = scheduledRunId(data.schedule, firedAt, data.subDaily);
  let spec = buildRunSpec({
    runId,
    source: data.source,
    output: data.output,
    model: data.model,
    labels: data.labels,
    templates: data.templates,
    ...(data.shardSize ? { shardSize: data.shardSize } : {}),
    ...(data.priority ? { priority: data.priority } : {}),
    suffixes: data.suffixes,
    ...(data.maxBytes ? { maxBytes: data.maxBytes } : {}),
    ...(data.maxPixels ? { maxPixels: data.maxPixels } : {}),
    incremental: true,
  });
  const folder = openRunFolder(spec, s3);
  try {
    const stored = await folder.readRunSpec();
    if (stored) spec = runSpecSchema.parse(stored);
    else await folder.writeRunSpec(spec);
    const summary = await enqueueRun({ spec, folder, redis, prefix, s3, maxWaiting: 200 });
    return { runId, ...summary };
  } finally {
    folder.store.close();
  }
}
