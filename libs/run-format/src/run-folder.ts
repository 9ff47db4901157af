/**
 * The run folder `<output>/<run>/` (architecture §3) over a store: every key is derived from the run
 * id and shard number by `@siglip-batch/jobs`, never stored twice. {@link openRunFolder} is the one
 * way to open one, whether from a run spec, an open output store or the folder's own URI.
 */
import { basename, dirname } from 'node:path';
import { getJson, openLocation, parseLocation, putJson, type ObjectStore, type S3Options } from '@siglip-batch/io';
import {
  assertRunId,
  errorsKey,
  listingStateSchema,
  partKey,
  planFileSchema,
  planKey,
  RUN_LAYOUT,
  runFolder,
  runManifestSchema,
  runSpecSchema,
  shardOfKey,
  shardStatsSchema,
  statsKey,
  type ListingState,
  type PlanFile,
  type RunManifest,
  type RunSpec,
  type ShardStats,
} from '@siglip-batch/jobs';
import type { z } from 'zod';

const PARQUET = 'application/vnd.apache.parquet';

/** An output root: `openLocation(outputUri)`'s store and prefix (`prefix` '' or ending in '/'). */
export interface RunOutput {
  store: ObjectStore;
  prefix: string;
}

/**
 * Where a run folder is: its own URI (`s3://bucket/out/run-a/`, `/data/out/run-a`), or an output
 * root — a URI (a run spec's `output`) or an output already open — and a run id.
 */
export type RunFolderAddress = string | { output: string | RunOutput; runId: string };

/**
 * Opens the run folder at `address`. From a URI, the output root is opened here with `s3` and the
 * folder owns its store: close `folder.store` when done. From an open output, the store is
 * shared and stays the caller's to close.
 */
export function openRunFolder(address: RunFolderAddress, s3: S3Options = {}): RunFolder {
  if (typeof address !== 'string') {
    const output = typeof address.output === 'string' ? openLocation(address.output, s3) : address.output;
    return new RunFolder({ store: output.store, prefix: output.prefix }, address.runId);
  }
  // A run folder's own URI: the output root is its parent, the run id its last segment.
  const location = parseLocation(address);
  if (location.kind === 's3') {
    const path = location.prefix.replace(/\/+$/, '');
    const slash = path.lastIndexOf('/');
    const runId = assertRunId(path.slice(slash + 1));
    const parent = slash === -1 ? '' : path.slice(0, slash + 1);
    return openRunFolder({ output: `s3://${location.bucket}/${parent}`, runId }, s3);
  }
  return openRunFolder({ output: dirname(location.root), runId: assertRunId(basename(location.root)) }, s3);
}

export class RunFolder {
  readonly store: ObjectStore;
  readonly runId: string;
  /** Prefix of the run folder in the store ('…/<run>/'). */
  readonly prefix: string;

  /** Use {@link openRunFolder}. */
  constructor(output: RunOutput, runId: string) {
    this.store = output.store;
    this.runId = runId;
    this.prefix = runFolder(output.prefix, runId);
  }

  /** Store key of a key relative to the run folder. */
  keyOf(relativeKey: string): string {
    return this.prefix + relativeKey;
  }

  /** URI of a key relative to the run folder (`s3://…/<run>/parts/part-00000001.parquet`). */
  uriOf(relativeKey: string): string {
    return this.store.uriOf(this.keyOf(relativeKey));
  }

  writePlan(plan: z.input<typeof planFileSchema>): Promise<void> {
    return putJson(this.store, this.keyOf(planKey(plan.shard)), plan, planFileSchema);
  }

  readPlan(shard: number): Promise<PlanFile | undefined> {
    return getJson(this.store, this.keyOf(planKey(shard)), planFileSchema);
  }

  writeStats(stats: z.input<typeof shardStatsSchema>): Promise<void> {
    return putJson(this.store, this.keyOf(statsKey(stats.shard)), stats, shardStatsSchema);
  }

  readStats(shard: number): Promise<ShardStats | undefined> {
    return getJson(this.store, this.keyOf(statsKey(shard)), shardStatsSchema);
  }

  /** Shard numbers that have stats (= are done), ascending; streamed from the listing. */
  async *listStats(options: { signal?: AbortSignal } = {}): AsyncGenerator<number> {
    for await (const info of this.store.list(this.keyOf(RUN_LAYOUT.statsDir), options)) {
      const shard = shardOfKey(info.key);
      if (shard !== undefined) yield shard;
    }
  }

  /** Shard numbers that have a plan, ascending. */
  async *listPlans(options: { signal?: AbortSignal } = {}): AsyncGenerator<number> {
    for await (const info of this.store.list(this.keyOf(RUN_LAYOUT.planDir), options)) {
      const shard = shardOfKey(info.key);
      if (shard !== undefined) yield shard;
    }
  }

  writeManifest(manifest: z.input<typeof runManifestSchema>): Promise<void> {
    return putJson(this.store, this.keyOf(RUN_LAYOUT.manifest), manifest, runManifestSchema);
  }

  readManifest(): Promise<RunManifest | undefined> {
    return getJson(this.store, this.keyOf(RUN_LAYOUT.manifest), runManifestSchema);
  }

  writeRunSpec(spec: z.input<typeof runSpecSchema>): Promise<void> {
    return putJson(this.store, this.keyOf(RUN_LAYOUT.runSpec), spec, runSpecSchema);
  }

  readRunSpec(): Promise<RunSpec | undefined> {
    return getJson(this.store, this.keyOf(RUN_LAYOUT.runSpec), runSpecSchema);
  }

  writeListing(state: z.input<typeof listingStateSchema>): Promise<void> {
    return putJson(this.store, this.keyOf(RUN_LAYOUT.listing), state, listingStateSchema);
  }

  readListing(): Promise<ListingState | undefined> {
    return getJson(this.store, this.keyOf(RUN_LAYOUT.listing), listingStateSchema);
  }

  writePart(shard: number, bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.store.put(this.keyOf(partKey(shard)), bytes, { contentType: PARQUET, ...options });
  }

  writeErrors(shard: number, bytes: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.store.put(this.keyOf(errorsKey(shard)), bytes, { contentType: PARQUET, ...options });
  }

  /** A retry that embedded nothing removes the part file of an earlier attempt (architecture §3). */
  deletePart(shard: number): Promise<void> {
    return this.store.delete(this.keyOf(partKey(shard)));
  }

  /** A retry that has no errors removes the errors file of an earlier attempt (architecture §3). */
  deleteErrors(shard: number): Promise<void> {
    return this.store.delete(this.keyOf(errorsKey(shard)));
  }

  writeLabels(bytes: Uint8Array): Promise<void> {
    return this.store.put(this.keyOf(RUN_LAYOUT.labels), bytes, { contentType: PARQUET });
  }
}
