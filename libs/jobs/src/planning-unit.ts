/**
 * Planning units: a run's source split into independent pieces that planners (any number of
 * producer processes, `--planners` each) list at the same time.
 *
 * Shard ids stay derived: unit `u` owns the block `[u × B, u × B + n_u)` where `B`
 * (`unitShards`) is a power of two frozen in the run's listing state and `n_u` the shards the
 * unit planned. A replanned unit therefore writes the same plans under the same keys, and unit
 * 0 starts at shard 0, so a run of one unit has exactly the ids 0 … n−1 of a serial listing.
 * `B` is the largest power of two with `units × B ≤ MAX_SHARD + 1` (capped at 2^26): every id
 * fits the 8-digit shard keys and the 27 shard bits of row ids (row-id.ts), unchanged.
 */
import { z } from 'zod';
import { lazySchema } from './lazy-schema';
import { RUN_ID_PATTERN, assertRunId } from './run-id';
import { MAX_SHARD, padShard } from './shard-key';

/** Largest block of shards a unit may own (2^26 = 67 million shards). */
export const MAX_UNIT_SHARDS = 2 ** 26;
/** Smallest block: a split into more units than `(MAX_SHARD + 1) / MIN_UNIT_SHARDS` is refused. */
export const MIN_UNIT_SHARDS = 2 ** 10;
export const MAX_PLANNING_UNITS = Math.floor((MAX_SHARD + 1) / MIN_UNIT_SHARDS);

/** `B` for a run of `units` units: the largest power of two with `units × B ≤ MAX_SHARD + 1`. */
export function unitShardsFor(units: number): number {
  if (!Number.isInteger(units) || units < 1 || units > MAX_PLANNING_UNITS) {
    throw new RangeError(`planning units must be an integer in [1, ${MAX_PLANNING_UNITS}], got ${units}`);
  }
  let block = MAX_UNIT_SHARDS;
  while (units * block > MAX_SHARD + 1) block /= 2;
  return block;
}

/** The first shard id of unit `unit` (of a run whose units own `unitShards` shards each). */
export function firstShardOfUnit(unit: number, unitShards: number): number {
  return unit * unitShards;
}

export const planUnitKindSchema = lazySchema(() => z.enum(['key-range', 'manifest-file', 'inventory-file']));
export type PlanUnitKind = z.infer<typeof planUnitKindSchema>;

/**
 * `_plan/units/<unit>.json`: one unit's definition (frozen by the split) and how far it got.
 * One small object per unit, so nothing in the run folder grows with the number of units.
 */
export const planUnitSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    runId: z.string().regex(RUN_ID_PATTERN),
    unit: z.number().int().nonnegative(),
    kind: planUnitKindSchema,
    /**
     * `key-range`: the unit plans the source keys `k` with `after < k ≤ upTo` (byte order; null:
     * unbounded). Consecutive units share their bound, so the units partition the key space.
     */
    after: z.string().nullable().optional(),
    upTo: z.string().nullable().optional(),
    /** `manifest-file`, `inventory-file`: the URI of the file this unit plans. */
    file: z.string().optional(),
    /** Where the unit's listing resumes (a source key or `#<position>`); null: from its start. */
    cursor: z.string().nullable(),
    shardsPlanned: z.number().int().nonnegative(),
    objectsPlanned: z.number().int().nonnegative(),
    complete: z.boolean(),
    updatedAt: z.string(),
  }),
);
export type PlanUnit = z.infer<typeof planUnitSchema>;

export const PLAN_UNITS_DIR = '_plan/units/';

/** Key (relative to the run folder) of a unit's state object. */
export function planUnitKey(unit: number): string {
  return `${PLAN_UNITS_DIR}${padShard(unit)}.json`;
}

/**
 * The run's planning queue: one BullMQ queue per run whose jobs are its units, so that every
 * producer process working on the run (`enqueue` started several times, or with `--planners`)
 * shares them and knows when the run is planned (the queue is empty). BullMQ queue names must
 * not contain `:`; run ids never do.
 */
export function planningQueueName(runId: string): string {
  return `plan-${assertRunId(runId)}`;
}

/** Deterministic job id of a unit: added by any number of producers, it exists once. */
export function planUnitJobId(runId: string, unit: number): string {
  return `unit.${assertRunId(runId)}.${padShard(unit)}`;
}

export const planUnitJobDataSchema = lazySchema(() => z.object({ runId: z.string().regex(RUN_ID_PATTERN), unit: z.number().int().nonnegative() }));
export type PlanUnitJobData = z.infer<typeof planUnitJobDataSchema>;
