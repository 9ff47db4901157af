import type { RunFolder } from '@siglip-batch/io';
import type { ListingState, PlanFile, PlannedObject, RunSpec } from '@siglip-batch/jobs';
import { listSource, type ListSourceOptions, type SourceEntry } from './source-lister';

/**
 * A filter over the listing (incremental runs: only new or changed objects), told of every
 * shard boundary so that what it found so far (deletions) is stored before the plan it precedes.
 */
export interface ListingFilter {
  /** `resumeAfterKey`: the listing resumes after this source key (null: from the start). */
  filter(entries: AsyncIterable<SourceEntry>, resumeAfterKey: string | null): AsyncIterable<SourceEntry>;
  /** Called before the plan of `shard` is written, and with the next shard number before the listing is marked complete. */
  beforePlan(shard: number): Promise<void>;
}

export interface PlanProgress {
  shardsPlanned: number;
  objectsPlanned: number;
  complete: boolean;
}

export interface PlanRunOptions {
  folder: RunFolder;
  spec: RunSpec;
  s3?: ListSourceOptions['s3'];
  signal?: AbortSignal;
  /**
   * Called for every shard of the plan, in order: shards planned by an earlier (interrupted)
   * listing first, then each new shard right after its plan is in the store. Awaited, so the
   * caller applies backpressure by not returning until it is ready for more.
   */
  onShard(shard: number, plan: { objects: number; resumed: boolean }): Promise<void>;
  onProgress?(progress: PlanProgress): void;
  listingFilter?: ListingFilter;
}

/**
 * Lists the run's source into frozen shard plans (`_plan/<shard>.json`), resuming where an
 * earlier listing stopped.
 *
 * Order of writes per shard: plan → listing state → `onShard` (the producer enqueues there).
 * A crash between the first two leaves a plan the listing state does not count yet: it is
 * adopted as it is, never rewritten, because nothing may have been enqueued for it but its
 * content is already final.
 */
export async function planRun(options: PlanRunOptions): Promise<PlanProgress> {
  const { folder, spec } = options;
  let state: ListingState = (await folder.readListing()) ?? {
    schemaVersion: 1,
    runId: spec.runId,
    shardsPlanned: 0,
    objectsPlanned: 0,
    lastKey: null,
    complete: false,
    updatedAt: new Date().toISOString(),
  };

  // Adopt plans written after the last listing-state update (crash in between).
  for (;;) {
    const orphan = await folder.readPlan(state.shardsPlanned);
    if (!orphan) break;
    state = advance(state, orphan);
    await folder.writeListing(state);
  }
  for (let shard = 0; shard < state.shardsPlanned; shard++) {
    await options.onShard(shard, { objects: -1, resumed: true });
  }
  options.onProgress?.(progressOf(state));
  if (state.complete) return progressOf(state);

  const listing = await listSource(spec.source, {
    kind: spec.sourceKind,
    after: state.lastKey,
    suffixes: spec.filters.suffixes,
    // An output root inside the source: its run folders are not images.
    exclude: [spec.output, folder.uriOf('')],
    codes: spec.retryErrors?.codes ?? null,
    ...(options.s3 ? { s3: options.s3 } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  });
  let batch: PlannedObject[] = [];
  let cursor = state.lastKey;
  const flush = async () => {
    const plan: PlanFile = {
      schemaVersion: 1,
      runId: spec.runId,
      shard: state.shardsPlanned,
      extraColumns: listing.extraColumns,
      objects: batch,
      cursor: cursor!,
    };
    await options.listingFilter?.beforePlan(plan.shard);
    await folder.writePlan(plan);
    state = advance(state, plan);
    await folder.writeListing(state);
    batch = [];
    await options.onShard(plan.shard, { objects: plan.objects.length, resumed: false });
    options.onProgress?.(progressOf(state));
  };
  const entries = options.listingFilter ? options.listingFilter.filter(listing.entries, state.lastKey) : listing.entries;
  for await (const entry of entries) {
    batch.push(entry.object);
    cursor = entry.cursor;
    if (batch.length >= spec.shardSize) await flush();
  }
  if (batch.length > 0) await flush();
  await options.listingFilter?.beforePlan(state.shardsPlanned);
  state = { ...state, complete: true, updatedAt: new Date().toISOString() };
  await folder.writeListing(state);
  options.onProgress?.(progressOf(state));
  return progressOf(state);
}

function advance(state: ListingState, plan: PlanFile): ListingState {
  return {
    ...state,
    shardsPlanned: plan.shard + 1,
    objectsPlanned: state.objectsPlanned + plan.objects.length,
    lastKey: plan.cursor,
    updatedAt: new Date().toISOString(),
  };
}

function progressOf(state: ListingState): PlanProgress {
  return { shardsPlanned: state.shardsPlanned, objectsPlanned: state.objectsPlanned, complete: state.complete };
}
