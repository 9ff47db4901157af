/**
 * The run folder `<output>/<run>/` (architecture §3) over a store: every key is derived from the run
 * id and shard number by `@siglip-batch/jobs`, never stored twice.
 */
import {
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
import { getJson, putJson } from './json-document';
import type { ObjectStore } from './object-store';

const PARQUET = 'application/vnd.apache.parquet';

export class RunFolder {
  readonly store: ObjectStore;
  readonly runId: string;
  /** Prefix of the run folder in the store ('…/<run>/'). */
  readonly prefix: string;

  /** `output` is what `openLocation(outputUri)` returned (`prefix` '' or ending in '/'). */
  constructor(output: { store: ObjectStore; prefix: string }, runId: string) {
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

  /** A retry that has no errors removes the errors file of an earlier attempt (architecture §3). */
  deleteErrors(shard: number): Promise<void> {
    return this.store.delete(this.keyOf(errorsKey(shard)));
  }

  writeLabels(bytes: Uint8Array): Promise<void> {
    return this.store.put(this.keyOf(RUN_LAYOUT.labels), bytes, { contentType: PARQUET });
  }
}
