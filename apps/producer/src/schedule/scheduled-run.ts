/**
 * Nightly runs through a BullMQ job scheduler: `siglip-batch schedule` upserts a scheduler on the
 * `siglip-scheduler` queue whose job template is a run template (everything of an incremental
 * run but its id); `siglip-batch scheduler` consumes that queue and enqueues one incremental run
 * per firing, its id derived from the schedule name and the firing time.
 */
import { getNextMillis } from 'bullmq';
import { z } from 'zod';
import { decodeSpecSchema, labelSpecSchema, modelRefSchema } from '@siglip-batch/jobs';

/** The queue the job schedulers fire into (one per BullMQ prefix). */
export const SCHEDULER_QUEUE = 'siglip-scheduler';
export const SCHEDULED_RUN_JOB = 'incremental-run';

export const scheduleNameSchema = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,40}$/, 'a schedule name is 1–41 characters of a-z, 0-9, "_" and "-"');

export const scheduledRunSchema = z.object({
  schedule: scheduleNameSchema,
  source: z.string().min(1),
  /**
   * `inventory`: `source` is an S3 Inventory configuration's folder, and each firing takes its
   * newest report (resolved when the run is made: the run's spec names that report).
   */
  sourceKind: z.enum(['auto', 'inventory']).optional(),
  output: z.string().min(1),
  model: modelRefSchema,
  labels: z.array(labelSpecSchema).min(1).nullable(),
  templates: z.array(z.string()),
  shardSize: z.number().int().positive().optional(),
  priority: z.number().int().nonnegative().optional(),
  suffixes: z.array(z.string()),
  maxBytes: z.number().int().positive().optional(),
  maxPixels: z.number().int().positive().optional(),
  /** Write each object's top tags back as S3 object tags (see libs/pipeline s3-tag-writer). */
  writeS3Tags: z.boolean().optional(),
  /** Storage type of the runs' embeddings (absent: float32). */
  embeddingDtype: z.enum(['float32', 'float16']).optional(),
  /** How the runs decode images (`--decode fast`); absent: exact. */
  decode: decodeSpecSchema.optional(),
  /** Plan again unchanged objects whose last result is an error older than this (`--retry-errors-after`). */
  retryErrorsAfterSeconds: z.number().int().positive().optional(),
  /** Firings less than a day apart get the time of day in their run id. */
  subDaily: z.boolean(),
});
export type ScheduledRun = z.infer<typeof scheduledRunSchema>;

/** How a schedule repeats: a cron pattern (in a time zone) or a fixed interval. */
export type ScheduleRepeat = { pattern: string; tz: string } | { every: number };

/**
 * `<schedule>-<yyyymmdd>` (UTC) for a daily or slower schedule, `<schedule>-<yyyymmdd>-<hhmmss>`
 * for faster ones: a firing delivered twice enqueues the same (idempotent) run.
 */
export function scheduledRunId(schedule: string, firedAt: Date, subDaily: boolean): string {
  const iso = firedAt.toISOString();
  const day = iso.slice(0, 10).replace(/-/g, '');
  return subDaily ? `${schedule}-${day}-${iso.slice(11, 19).replace(/:/g, '')}` : `${schedule}-${day}`;
}

/**
 * The firing time of a scheduler's job: BullMQ names each iteration `repeat:<scheduler>:<millis>`
 * after the time it was due, which is the same for every delivery and retry of that firing
 * (unlike the time it was processed, which may be hours later if no scheduler was running).
 */
export function firingTime(job: { id?: string | undefined; timestamp: number; opts: { delay?: number | undefined } }): Date {
  const due = /^repeat:.+:(\d+)$/.exec(job.id ?? '')?.[1];
  return new Date(due !== undefined ? Number(due) : job.timestamp + (job.opts.delay ?? 0));
}

/**
 * Checks a repeat before it is registered and tells whether two of its firings can fall on the
 * same UTC day (then run ids need the time of day). A bad cron pattern or time zone throws with
 * a message that names it.
 */
export function inspectRepeat(repeat: ScheduleRepeat, from = Date.now()): { next: Date; subDaily: boolean } {
  if ('every' in repeat) return { next: new Date(getNextMillis(from, repeat)!), subDaily: repeat.every < 24 * 3600 * 1000 };
  const fields = repeat.pattern.trim().split(/\s+/).length;
  if (fields !== 5 && fields !== 6) {
    throw new Error(`bad cron pattern "${repeat.pattern}": it has ${fields} fields, not 5 (minute hour day-of-month month day-of-week) or 6 (seconds first)`);
  }
  let next: number | undefined;
  try {
    next = getNextMillis(from, repeat);
  } catch (error) {
    throw new Error(`bad cron pattern "${repeat.pattern}"${repeat.tz !== 'UTC' ? ` (time zone ${repeat.tz})` : ''}: ${(error as Error).message}`);
  }
  if (next === undefined || Number.isNaN(next)) throw new Error(`cron pattern "${repeat.pattern}" never fires`);
  // Enough consecutive firings to see every day-of-week / day-of-month combination of a year.
  let previousDay = new Date(next).toISOString().slice(0, 10);
  let at = next;
  for (let i = 0; i < 400; i++) {
    const following = getNextMillis(at, repeat);
    if (following === undefined || following <= at) break;
    const day = new Date(following).toISOString().slice(0, 10);
    if (day === previousDay) return { next: new Date(next), subDaily: true };
    previousDay = day;
    at = following;
  }
  return { next: new Date(next), subDaily: false };
}

/** The run the schedule's latest firing started (a firing is skipped while it has not ended). */
export function scheduleLastRunKey(prefix: string, schedule: string): string {
  return `${prefix}:siglip:schedule:${schedule}:last-run`;
}
