import { z } from 'zod';
import { lazySchema } from './lazy-schema';
import { RUN_ID_PATTERN } from './run-id';

/** Types an extra (pass-through) manifest column may have in the plan and the output. */
export const extraColumnTypeSchema = lazySchema(() => z.enum(['string', 'int64', 'float64', 'boolean']));
export type ExtraColumnType = z.infer<typeof extraColumnTypeSchema>;

export const extraColumnSchema = lazySchema(() => z.object({ name: z.string().min(1), type: extraColumnTypeSchema }));
export type ExtraColumn = z.infer<typeof extraColumnSchema>;

/** JSON value of an extra column cell: int64 is carried as a decimal string to stay exact. */
export const extraValueSchema = lazySchema(() => z.union([z.string(), z.number(), z.boolean(), z.null()]));
export type ExtraValue = z.infer<typeof extraValueSchema>;

export const plannedObjectSchema = lazySchema(() =>
  z.object({
    /** `s3://bucket/key` or `file:///abs/path`. */
    uri: z.string().min(1),
    /** ETag at listing time (local files: a hash of size + mtime); null when the source does not say. */
    etag: z.string().nullable(),
    /** Size at listing time, or null when the source does not say (text manifests). */
    size: z.number().int().nonnegative().nullable(),
    /** Values of the extra columns, in the order of the plan's `extraColumns`. */
    extra: z.array(extraValueSchema).optional(),
  }),
);
export type PlannedObject = z.infer<typeof plannedObjectSchema>;

/**
 * `_plan/<shard>.json`: the frozen object list of one shard, written before its job is queued.
 * Relisting, resume and retries never change what a shard holds.
 */
export const planFileSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    runId: z.string().regex(RUN_ID_PATTERN),
    shard: z.number().int().nonnegative(),
    extraColumns: z.array(extraColumnSchema),
    objects: z.array(plannedObjectSchema).min(1),
    /** Where the listing resumes after this shard's last object (a source key or `#<position>`). */
    cursor: z.string(),
  }),
);
export type PlanFile = z.infer<typeof planFileSchema>;

/**
 * `_plan/_listing.json`: where the listing got to. `lastKey` is the last source key (or manifest
 * position) planned into a shard; `complete` is set once the listing ended.
 */
export const listingStateSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    runId: z.string().regex(RUN_ID_PATTERN),
    shardsPlanned: z.number().int().nonnegative(),
    objectsPlanned: z.number().int().nonnegative(),
    lastKey: z.string().nullable(),
    complete: z.boolean(),
    updatedAt: z.string(),
    /**
     * Runs split into planning units (see planning-unit.ts): how many, frozen when the split was
     * written. Absent: the run is one listing whose cursor is `lastKey` here (every run planned
     * before units existed, and every plain source planned as one unit). With units, the counts
     * above are the sums over the units, written once every unit is complete.
     */
    units: z.number().int().positive().optional(),
    /** Shard ids unit `u` owns: `[u × unitShards, (u + 1) × unitShards)`. A power of two. */
    unitShards: z.number().int().positive().optional(),
  }),
);
export type ListingState = z.infer<typeof listingStateSchema>;

/**
 * The bytes of a plan file the planner built itself (its objects straight from a listing): the
 * same JSON `putJson` writes, checked for what the listing cannot guarantee (at least one object,
 * a shard id) instead of validating each of the 1,000 objects against the schema, which cost
 * more than listing them. Readers still parse plans with {@link planFileSchema}.
 */
export function encodePlanFile(plan: PlanFile): Buffer {
  if (!Number.isInteger(plan.shard) || plan.shard < 0) throw new RangeError(`plan of run ${plan.runId}: shard must be a non-negative integer, got ${plan.shard}`);
  if (plan.objects.length === 0) throw new RangeError(`plan of shard ${plan.shard} of run ${plan.runId} has no objects`);
  return Buffer.from(`${JSON.stringify(plan)}\n`);
}
