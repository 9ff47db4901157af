/**
 * Planning a run: its source split into planning units (planning-unit.ts in libs/jobs), each
 * listed into frozen shard plans in its own block of shard ids by whichever planner takes it.
 *
 * 1. {@link prepareRunPlan} splits the source once (under the run's planning lock when several
 *    producers may start together) and freezes the split: one `_plan/units/<u>.json` per unit,
 *    then `_plan/_listing.json` naming the number of units and their block size.
 * 2. {@link planUnit} plans one unit, resuming from its own cursor; units are independent.
 * 3. {@link completeRunPlan} marks the listing complete once every unit is, with the totals.
 *
 * A plain source planned as one unit (every run before units existed, small runs, one
 * manifest file, a retry of errors) keeps its cursor in `_plan/_listing.json` and shard ids
 * 0 … n−1, exactly as a serial listing did. {@link planRun} does all three in one process.
 */
import { forEachBounded, openLocation, range } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import { unitShardsFor, type ListingState, type PlanUnit, type RunSpec } from '@siglip-batch/jobs';
import { openInventorySource } from './inventory-source';
import { plannedTotals, writePlanUnit } from './planned-shards';
import { isManifestGlob, manifestFilesOf, noManifestMessage, splitKeyRange } from './planning/source-splitter';
import { planUnit } from './planning/unit-planner';
import type { ListSourceOptions, SourceEntry } from './source-lister';

export { planUnit, type PlanUnitOptions } from './planning/unit-planner';

/**
 * A filter over a unit's listing (incremental runs: only new or changed objects), told of every
 * shard boundary so that what it found so far (deletions) is stored before the plan it precedes.
 */
export interface ListingFilter {
  /**
   * `resumeAfterKey`: the listing resumes after this source key (null: from the start).
   * `upToKey`: the listing ends after this key (a planning unit's upper bound; null or absent:
   * at the end of the source) — entries of the index beyond it belong to the next unit.
   */
  filter(entries: AsyncIterable<SourceEntry>, resumeAfterKey: string | null, upToKey?: string | null): AsyncIterable<SourceEntry>;
  /** Called before the plan of `shard` is written, and with the next shard number before the unit is marked complete. */
  beforePlan(shard: number): Promise<void>;
}

export interface PlanProgress {
  shardsPlanned: number;
  objectsPlanned: number;
  complete: boolean;
}

export interface PrepareRunPlanOptions {
  folder: RunFolder;
  spec: RunSpec;
  s3?: ListSourceOptions['s3'];
  signal?: AbortSignal;
  /**
   * S3 prefix and directory sources: split into (at most) this many key ranges. Only the first
   * split of a run counts; a resumed run keeps its units.
   * @defaultValue 1
   */
  units?: number;
}

/** Unit objects written at once while freezing a split. */
const UNIT_WRITES = 16;

/**
 * The run's listing state, splitting the source first when the run has none yet. Not safe
 * against itself: two producers starting the same run take the run's planning lock around it.
 */
export async function prepareRunPlan(options: PrepareRunPlanOptions): Promise<ListingState> {
  const { folder, spec } = options;
  const existing = await folder.readListing();
  if (existing) return existing;
  const initial: ListingState = {
    schemaVersion: 1,
    runId: spec.runId,
    shardsPlanned: 0,
    objectsPlanned: 0,
    lastKey: null,
    complete: false,
    updatedAt: new Date().toISOString(),
  };
  const units = unitDefinitions(options);
  if (!units) {
    await folder.writeListing(initial);
    return initial;
  }
  // Unit objects first, the listing state naming them last: a split interrupted in between
  // is done again from the start (nothing was planned from it).
  let count = 0;
  let pending: Promise<void>[] = [];
  for await (const unit of units) {
    // Refused at the first unit too many, not after writing a million unit objects for nothing.
    try {
      unitShardsFor(count + 1);
    } catch (error) {
      throw new Error(`${spec.source} names more files than a run may have planning units (${(error as Error).message}): merge manifests, or split the run`);
    }
    pending.push(writePlanUnit(folder, { ...unit, unit: count++ }));
    if (pending.length >= UNIT_WRITES) await Promise.all(pending.splice(0));
  }
  await Promise.all(pending);
  pending = [];
  if (count === 0) throw new Error(isManifestGlob(spec.source, spec.sourceKind) ? noManifestMessage(spec.source) : `${spec.source} names no file: nothing to plan`);
  const listing: ListingState = { ...initial, units: count, unitShards: unitShardsFor(count) };
  await folder.writeListing(listing);
  return listing;
}

type UnitDefinition = Omit<PlanUnit, 'unit'>;

/** The units of the source, or undefined when it is planned as one listing. */
function unitDefinitions(options: PrepareRunPlanOptions): AsyncIterable<UnitDefinition> | undefined {
  const { spec } = options;
  const blank = { schemaVersion: 1 as const, runId: spec.runId, cursor: null, shardsPlanned: 0, objectsPlanned: 0, complete: false, updatedAt: new Date().toISOString() };
  if (spec.sourceKind === 's3-inventory' && !spec.incremental) {
    // An incremental run merges the report against the index in one key-ordered stream
    // (inventory-source.ts): it stays one listing.
    return (async function* () {
      const inventory = await openInventorySource(spec.source, options.s3);
      try {
        for (const file of inventory.units()) yield { ...blank, kind: 'inventory-file' as const, file: file.uri };
      } finally {
        inventory.close();
      }
    })();
  }
  if (isManifestGlob(spec.source, spec.sourceKind)) {
    return (async function* () {
      // An output root inside a prefix of manifests: its Parquet files are outputs, not manifests.
      const exclude = [spec.output, options.folder.uriOf('')];
      for await (const file of manifestFilesOf(spec.source, options.s3, options.signal, exclude)) yield { ...blank, kind: 'manifest-file' as const, file };
    })();
  }
  if ((spec.sourceKind !== 's3' && spec.sourceKind !== 'file') || (options.units ?? 1) <= 1) return undefined;
  return (async function* () {
    const { store, prefix } = openLocation(spec.source, options.s3);
    let ranges;
    try {
      ranges = await splitKeyRange(store, prefix, options.units!, options.signal ? { signal: options.signal } : {});
    } finally {
      store.close();
    }
    // A source too small (or too uniform) to split is one range: still a unit, ids from 0.
    for (const range of ranges) yield { ...blank, kind: 'key-range' as const, after: range.after, upTo: range.upTo };
  })();
}

/**
 * Marks the run's listing complete once every unit is, with the shards and objects summed over
 * them (one pass over the unit objects); returns the totals either way. Idempotent.
 */
export async function completeRunPlan(folder: RunFolder): Promise<PlanProgress> {
  const listing = await folder.readListing();
  if (!listing) throw new Error(`${folder.uriOf('')} has no listing state: the run was never planned`);
  const totals = await plannedTotals(folder, listing);
  if (totals.complete && !listing.complete) {
    await folder.writeListing({ ...listing, shardsPlanned: totals.shardsPlanned, objectsPlanned: totals.objectsPlanned, complete: true, updatedAt: new Date().toISOString() });
  }
  return totals;
}

export interface PlanRunOptions extends PrepareRunPlanOptions {
  /**
   * Called for every shard of the plan: per unit in order (shards planned by an earlier,
   * interrupted listing first, then each new shard right after its plan is in the store);
   * units planned at once interleave. Awaited, so the caller applies backpressure by not
   * returning until it is ready for more.
   */
  onShard(shard: number, plan: { objects: number; resumed: boolean }): Promise<void>;
  /** Shards and objects planned so far over the units this call planned. */
  onProgress?(progress: PlanProgress): void;
  /** A run of one listing: its filter. Several units: a factory, one filter per unit. */
  listingFilter?: ListingFilter | ((unit: number) => ListingFilter);
  /**
   * Units planned at once in this process.
   * @defaultValue every unit
   */
  planners?: number;
}

/**
 * Plans the whole run in this process: split (when the run has none), every unit with
 * `planners` at a time, then the run's completion. The programmatic form of `enqueue`'s
 * planning (benches, local runs, tests); producers share units through the planning queue
 * instead (apps/producer run-enqueuer.ts).
 */
export async function planRun(options: PlanRunOptions): Promise<PlanProgress> {
  const listing = await prepareRunPlan(options);
  const units = listing.units ?? 1;
  const totals = { shardsPlanned: 0, objectsPlanned: 0, complete: false };
  // The first failure stops taking units; it is thrown once the units in flight have settled.
  await forEachBounded(range(units), Math.max(1, Math.min(options.planners ?? units, units)), async (unit) => {
    const seen = { shardsPlanned: 0, objectsPlanned: 0 };
    const filter = typeof options.listingFilter === 'function' ? options.listingFilter(unit) : options.listingFilter;
    await planUnit({
      folder: options.folder,
      spec: options.spec,
      listing,
      unit,
      onShard: options.onShard,
      ...(options.s3 ? { s3: options.s3 } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
      ...(filter ? { listingFilter: filter } : {}),
      onProgress: (progress) => {
        totals.shardsPlanned += progress.shardsPlanned - seen.shardsPlanned;
        totals.objectsPlanned += progress.objectsPlanned - seen.objectsPlanned;
        seen.shardsPlanned = progress.shardsPlanned;
        seen.objectsPlanned = progress.objectsPlanned;
        if (!progress.complete) options.onProgress?.({ ...totals });
      },
    });
  });
  const result = await completeRunPlan(options.folder);
  options.onProgress?.(result);
  return result;
}
