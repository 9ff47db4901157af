import { getJson, mapBounded, putJson, range } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import { firstShardOfUnit, planUnitKey, planUnitSchema, type ListingState, type PlanUnit } from '@siglip-batch/jobs';

/** A block of consecutive shard ids of a run, all planned. */
export interface PlannedShardRange {
  first: number;
  count: number;
}

/** Unit objects read at once while walking the units of a run. */
const UNIT_READS = 16;

export function readPlanUnit(folder: RunFolder, unit: number): Promise<PlanUnit | undefined> {
  return getJson(folder.store, folder.keyOf(planUnitKey(unit)), planUnitSchema);
}

export function writePlanUnit(folder: RunFolder, state: PlanUnit): Promise<void> {
  return putJson(folder.store, folder.keyOf(planUnitKey(state.unit)), state, planUnitSchema);
}

/**
 * The unit objects of a run split into units, in unit order, read {@link UNIT_READS} at a time:
 * memory is bounded by that window, not by the number of units. A unit whose object is missing
 * (a split interrupted before the listing state named the units cannot be walked) throws.
 */
export async function* planUnitsOf(folder: RunFolder, units: number): AsyncGenerator<PlanUnit> {
  for (let base = 0; base < units; base += UNIT_READS) {
    const window = await mapBounded([...range(Math.min(UNIT_READS, units - base))], UNIT_READS, (i) => readPlanUnit(folder, base + i));
    for (const [i, unit] of window.entries()) {
      if (!unit) throw new Error(`${folder.uriOf(planUnitKey(base + i))} is missing: the run's split into ${units} planning units is incomplete`);
      yield unit;
    }
  }
}

/**
 * The shard ids a run has planned, as ranges in ascending order, streamed: whoever walks every
 * shard of a run (the finaliser, cancel, status) goes through here, so that how shard ids are
 * laid out is known in one place. A run planned by one listing has the one range
 * `[0, shardsPlanned)`; a run split into units has one range per unit that planned anything,
 * `[u × unitShards, u × unitShards + shardsPlanned_u)` (planning-unit.ts in libs/jobs). While
 * units are still planning, each range is what its unit has recorded so far.
 */
export async function* plannedShardRanges(folder: RunFolder, listing: ListingState): AsyncGenerator<PlannedShardRange> {
  if (listing.units === undefined || listing.unitShards === undefined) {
    if (listing.shardsPlanned > 0) yield { first: 0, count: listing.shardsPlanned };
    return;
  }
  for await (const unit of planUnitsOf(folder, listing.units)) {
    if (unit.shardsPlanned > 0) yield { first: firstShardOfUnit(unit.unit, listing.unitShards), count: unit.shardsPlanned };
  }
}

/** Shards and objects planned so far (summed over the units), and whether every unit is complete. */
export async function plannedTotals(folder: RunFolder, listing: ListingState): Promise<{ shardsPlanned: number; objectsPlanned: number; complete: boolean }> {
  if (listing.units === undefined) return { shardsPlanned: listing.shardsPlanned, objectsPlanned: listing.objectsPlanned, complete: listing.complete };
  if (listing.complete) return { shardsPlanned: listing.shardsPlanned, objectsPlanned: listing.objectsPlanned, complete: true };
  const totals = { shardsPlanned: 0, objectsPlanned: 0, complete: true };
  for await (const unit of planUnitsOf(folder, listing.units)) {
    totals.shardsPlanned += unit.shardsPlanned;
    totals.objectsPlanned += unit.objectsPlanned;
    totals.complete &&= unit.complete;
  }
  return totals;
}
