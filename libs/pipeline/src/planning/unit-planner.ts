/**
 * Planning one unit of a run: its slice of the source listed into frozen shard plans in the
 * unit's own block of shard ids, resuming from the unit's own cursor.
 */
import type { RunFolder } from '@siglip-batch/run-format';
import { MAX_SHARD, encodePlanFile, firstShardOfUnit, planKey, type ListingState, type PlanFile, type PlanUnit, type PlannedObject, type RunSpec } from '@siglip-batch/jobs';
import { readPlanUnit, writePlanUnit } from '../planned-shards';
import { openInventorySource } from '../inventory-source';
import { excludedFolders, listSource, type ListSourceOptions, type SourceEntry, type SourceListing } from '../source-lister';
import type { ListingFilter, PlanProgress } from '../run-planner';
import { sourceKindOf } from '../source-kind';

export interface PlanUnitOptions {
  folder: RunFolder;
  spec: RunSpec;
  /** The run's listing state as the split froze it (`units`, `unitShards`; absent: one listing). */
  listing: ListingState;
  unit: number;
  s3?: ListSourceOptions['s3'];
  signal?: AbortSignal;
  /**
   * Called for every shard of the unit, in order: shards planned by an earlier (interrupted)
   * listing first, then each new shard right after its plan is in the store. Awaited, so the
   * caller applies backpressure by not returning until it is ready for more.
   */
  onShard(shard: number, plan: { objects: number; resumed: boolean }): Promise<void>;
  /** The unit's own progress (its shards and objects so far). */
  onProgress?(progress: PlanProgress): void;
  /** A filter of this unit's listing (incremental runs); one per unit, never shared. */
  listingFilter?: ListingFilter;
}

/**
 * Plans between two writes of a unit's state. Every plan: a producer joining a running run sets
 * the run's planned counts from the unit states (plannedTotals), so a state that lagged its plans
 * would set them back (a PUT per shard is the price; the listing page dominates anyway).
 */
const STATE_EVERY = 1;

/** How far a unit got, whichever object holds it. */
interface UnitCursor {
  shardsPlanned: number;
  objectsPlanned: number;
  cursor: string | null;
  complete: boolean;
}

/** Where a unit's state lives, which shard ids it owns and what it lists. */
interface UnitAccess {
  first: number;
  /** Shards the unit may plan (one id of its block is kept for the deletions after its last shard). */
  limit: number;
  /** The unit's key range (incremental filter: index entries outside it are another unit's). */
  after: string | null;
  upTo: string | null;
  read(): Promise<UnitCursor>;
  write(state: UnitCursor): Promise<void>;
  open(cursor: string | null): Promise<SourceListing & { batches?: AsyncIterable<SourceEntry[]> }>;
}

/**
 * Lists the unit into frozen shard plans (`_plan/<shard>.json`), resuming where an earlier
 * listing of it stopped.
 *
 * Order of writes per shard: plan → progress → `onShard` (the producer enqueues there, one-process
 * mode processes the shard), and the unit state
 * after every {@link STATE_EVERY}th plan. The plans are the truth: a unit resumed after a crash
 * adopts, as they are, the plans written after its last state (they may have been enqueued; their
 * content is final), in order, and goes on from the last one's cursor. Two planners that both run a unit (a lock that expired under a live planner)
 * write the same plans, the listing being the same.
 */
export async function planUnit(options: PlanUnitOptions): Promise<PlanProgress> {
  const { folder, spec } = options;
  const access = await unitAccess(options);
  let state = await access.read();

  // Adopt plans written after the last state update (at most STATE_EVERY, or a crash in between).
  let adopted = false;
  for (;;) {
    const orphan = await folder.readPlan(access.first + state.shardsPlanned);
    if (!orphan) break;
    state = advance(state, orphan);
    adopted = true;
  }
  if (adopted) await access.write(state);
  for (let i = 0; i < state.shardsPlanned; i++) {
    await options.onShard(access.first + i, { objects: -1, resumed: true });
  }
  options.onProgress?.(progressOf(state));
  if (state.complete) return progressOf(state);

  const listing = await access.open(state.cursor);
  let batch: PlannedObject[] = [];
  /** The last object listed (its cursor is asked for once per plan). */
  let last: SourceEntry | undefined;
  const flush = async () => {
    if (state.shardsPlanned >= access.limit) {
      throw new Error(
        `planning unit ${options.unit} of run ${spec.runId} is full (${access.limit} shards): split the source into more planning units, or use a larger --shard-size`,
      );
    }
    const plan: PlanFile = {
      schemaVersion: 1,
      runId: spec.runId,
      shard: access.first + state.shardsPlanned,
      extraColumns: listing.extraColumns,
      objects: batch,
      cursor: last!.cursor,
    };
    await options.listingFilter?.beforePlan(plan.shard);
    // Encoded without validating each object against the schema (they come from the listing).
    await folder.store.put(folder.keyOf(planKey(plan.shard)), encodePlanFile(plan), { contentType: 'application/json' });
    state = advance(state, plan);
    if (state.shardsPlanned % STATE_EVERY === 0) await access.write(state);
    batch = [];
    // Progress first: one-process mode processes the whole shard in onShard, and its progress
    // line must know the shard's objects while it does.
    options.onProgress?.(progressOf(state));
    await options.onShard(plan.shard, { objects: plan.objects.length, resumed: false });
  };
  const entries = options.listingFilter ? options.listingFilter.filter(listing.entries, state.cursor ?? access.after, access.upTo) : listing.entries;
  // A listing that gives arrays of entries (an inventory file) is read an array per await.
  const batches = options.listingFilter ? undefined : listing.batches;
  if (batches) {
    for await (const chunk of batches) {
      for (const entry of chunk) {
        batch.push(entry.object);
        last = entry;
        if (batch.length >= spec.shardSize) await flush();
      }
    }
  } else {
    for await (const entry of entries) {
      batch.push(entry.object);
      last = entry;
      if (batch.length >= spec.shardSize) await flush();
    }
  }
  if (batch.length > 0) await flush();
  await options.listingFilter?.beforePlan(access.first + state.shardsPlanned);
  state = { ...state, complete: true };
  await access.write(state);
  options.onProgress?.(progressOf(state));
  return progressOf(state);

  function advance(from: UnitCursor, plan: PlanFile): UnitCursor {
    return { ...from, shardsPlanned: plan.shard - access.first + 1, objectsPlanned: from.objectsPlanned + plan.objects.length, cursor: plan.cursor };
  }
}

async function unitAccess(options: PlanUnitOptions): Promise<UnitAccess> {
  const { folder, spec, listing, unit } = options;
  const listOptions = (after: string | null): ListSourceOptions => ({
    kind: spec.sourceKind,
    after,
    suffixes: spec.filters.suffixes,
    // An output root inside the source: its run folders are not images.
    exclude: [spec.output, folder.uriOf('')],
    codes: spec.retryErrors?.codes ?? null,
    ...(options.s3 ? { s3: options.s3 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  if (listing.units === undefined || listing.unitShards === undefined) {
    // One listing: its cursor is the run's listing state itself, as before units existed.
    if (unit !== 0) throw new Error(`run ${spec.runId} is planned by one listing: it has no planning unit ${unit}`);
    return {
      first: 0,
      limit: MAX_SHARD + 1,
      after: null,
      upTo: null,
      read: async () => {
        const state = (await folder.readListing()) ?? listing;
        return { shardsPlanned: state.shardsPlanned, objectsPlanned: state.objectsPlanned, cursor: state.lastKey, complete: state.complete };
      },
      write: (state) =>
        folder.writeListing({
          ...listing,
          shardsPlanned: state.shardsPlanned,
          objectsPlanned: state.objectsPlanned,
          lastKey: state.cursor,
          complete: state.complete,
          updatedAt: new Date().toISOString(),
        }),
      open: (cursor) => listSource(spec.source, listOptions(cursor)),
    };
  }
  if (unit >= listing.units) throw new Error(`run ${spec.runId} has ${listing.units} planning units: there is no unit ${unit}`);
  const definition = await readPlanUnit(folder, unit);
  if (!definition) throw new Error(`planning unit ${unit} of run ${spec.runId} has no state object in ${folder.uriOf('')}`);
  const write = (state: UnitCursor): Promise<void> => writePlanUnit(folder, { ...definition, ...state, updatedAt: new Date().toISOString() } satisfies PlanUnit);
  const base = {
    first: firstShardOfUnit(unit, listing.unitShards),
    limit: listing.unitShards - 1,
    read: async () => {
      const state = (await readPlanUnit(folder, unit)) ?? definition;
      return { shardsPlanned: state.shardsPlanned, objectsPlanned: state.objectsPlanned, cursor: state.cursor, complete: state.complete };
    },
    write,
  };
  switch (definition.kind) {
    case 'key-range': {
      const after = definition.after ?? null;
      const upTo = definition.upTo ?? null;
      return { ...base, after, upTo, open: (cursor) => listSource(spec.source, { ...listOptions(cursor ?? after), upTo }) };
    }
    case 'manifest-file':
      // Each file read by its own name: a prefix of manifests may mix text and Parquet files.
      return { ...base, after: null, upTo: null, open: (cursor) => listSource(definition.file!, { ...listOptions(cursor), kind: sourceKindOf(definition.file!) }) };
    case 'inventory-file':
      return { ...base, after: null, upTo: null, open: (cursor) => listInventoryFile(options, definition.file!, cursor) };
  }
}

/** One data file of the run's S3 Inventory report (its manifest.json is the run's source). */
async function listInventoryFile(options: PlanUnitOptions, uri: string, cursor: string | null): Promise<SourceListing & { batches: AsyncIterable<SourceEntry[]> }> {
  const { folder, spec } = options;
  const inventory = await openInventorySource(spec.source, options.s3);
  const file = inventory.units().find((candidate) => candidate.uri === uri);
  if (!file) {
    inventory.close();
    throw new Error(`${spec.source} no longer lists the data file ${uri} of this run's planning unit ${options.unit}`);
  }
  // One of the two is read (entries: by an incremental filter); either closes the report.
  const batches = (async function* () {
    try {
      yield* inventory.listFileBatches(file, {
        after: cursor,
        suffixes: spec.filters.suffixes,
        excluded: excludedFolders('s3://', [spec.output, folder.uriOf('')]),
        ...(options.signal ? { signal: options.signal } : {}),
      });
    } finally {
      inventory.close();
    }
  })();
  return {
    extraColumns: [],
    batches,
    entries: (async function* () {
      for await (const entries of batches) yield* entries;
    })(),
  };
}

function progressOf(state: UnitCursor): PlanProgress {
  return { shardsPlanned: state.shardsPlanned, objectsPlanned: state.objectsPlanned, complete: state.complete };
}
