/**
 * Nightly runs through a BullMQ job scheduler: `siglip-batch schedule` upserts a scheduler on the
 * `siglip-scheduler` queue whose job template is a run template (everything of an incremental
 * run but its id); `siglip-batch scheduler` consumes that queue and enqueues one incremental run
 * per firing, its id derived from the schedule name and the firing time.
 */
import { z } from 'zod';
import { labelSpecSchema, modelRefSchema } from '@siglip-batch/jobs';

/** The queue the job schedulers fire into (one per BullMQ prefix). */
export const SCHEDULER_QUEUE = 'siglip-scheduler';
export const SCHEDULED_RUN_JOB = 'incremental-run';

export const scheduleNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'a schedule name is 1–41 characters of a-z, 0-9, "_" and "-"');

export const scheduledRunSchema = z.object({
  schedule: scheduleNameSchema,
  source: z.string().min(1),
  output: z.string().min(1),
  model: modelRefSchema,
  labels: z.array(labelSpecSchema).min(1).nullable(),
  templates: z.array(z.string()),
  shardSize: z.number().int().positive().optional(),
  priority: z.number().int().nonnegative().optional(),
  suffixes: z.array(z.string()),
  maxBytes: z.number().int().positive().optional(),
  maxPixels: z.number().int().positive().optional(),
  /** Firings less than a day apart get the time of day in their run id. */
  subDaily: z.boolean(),
});
export type ScheduledRun = z.infer<typeof scheduledRunSchema>;

/**
 * `<schedule>-<yyyymmdd>` (UTC) for a daily or slower schedule, `<schedule>-<yyyymmdd>-<hhmmss>`
 * for faster ones: a firing delivered twice enqueues the same (idempotent) run.
 */
export function scheduledRunId(schedule: string, firedAt: Date, subDaily: boolean): string {
  const iso = firedAt.toISOString();
  const day = iso.slice(0, 10).replace(/-/g, '');
  return subDaily ? `${schedule}-${day}-${iso.slice(11, 19).replace(/:/g, '')}` : `${schedule}-${day}`;
}
