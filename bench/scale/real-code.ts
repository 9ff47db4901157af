/**
 * The one place where the scale bench calls the pipeline's control-plane code, through its public
 * functions: whoever changes their signatures adapts this file only. Optional capabilities
 * (planning units, an index update of its own) are found by looking at what the libraries
 * export, so that the bench measures them as soon as they exist and says so when they do not.
 */
import type { Redis } from 'ioredis';
import type { ObjectStore, S3Options } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import type { RunManifest, RunSpec } from '@siglip-batch/jobs';
import * as pipeline from '@siglip-batch/pipeline';
import * as enqueuer from '../../apps/producer/src/enqueue/run-enqueuer';

export interface Capabilities {
  /** The planner takes a number of planning units. */
  planningUnits: boolean;
  /** The index update can run on its own (not only inside the finaliser). */
  separateIndexUpdate: boolean;
  /** `inventory`: the source kind of an S3 Inventory manifest, when there is one. */
  inventoryKind: string | undefined;
}

const exported = (name: string): unknown => (pipeline as Record<string, unknown>)[name] ?? (enqueuer as Record<string, unknown>)[name];

export function capabilities(): Capabilities {
  let inventoryKind: string | undefined;
  try {
    const kind = pipeline.sourceKindOf('s3://b/inventory/src/config/2024-01-01T00-00Z/manifest.json');
    if (kind !== 's3' && kind !== 'manifest-text' && kind !== 'manifest-parquet') inventoryKind = kind;
  } catch {
    inventoryKind = undefined;
  }
  return {
    planningUnits: typeof exported('DEFAULT_PLANNING_UNITS') === 'number' || typeof exported('planUnit') === 'function' || typeof exported('splitSource') === 'function',
    separateIndexUpdate: typeof exported('indexFinalizedRun') === 'function',
    inventoryKind,
  };
}

export function buildSpec(input: { runId: string; source: string; output: string; incremental: boolean }): RunSpec {
  return pipeline.buildRunSpec({
    runId: input.runId,
    source: input.source,
    output: input.output,
    model: { hash: 'feedface'.repeat(8), variant: 'fp32', checkpoint: 'scale-bench-synthetic', embedDim: 4, textLength: 16, imageSize: { height: 1, width: 1 } },
    labels: null,
    incremental: input.incremental,
  });
}

export interface PlanResult {
  objectsPlanned: number;
  shardsPlanned: number;
  shardsEnqueued: number;
  /** Planning units the run was split into (from its listing state). */
  unitsSplit: number;
}

/**
 * The producer: plans the run and enqueues its shards (`enqueueRun`), with `units` planning
 * units where the planner has them. Backpressure is off (no worker drains the queue here).
 */
export async function planAndEnqueue(options: { spec: RunSpec; folder: RunFolder; redis: Redis; prefix: string; s3: S3Options; units: number; planners?: number }): Promise<PlanResult> {
  await options.folder.writeRunSpec(options.spec);
  const summary = await enqueuer.enqueueRun({
    spec: options.spec,
    folder: options.folder,
    redis: options.redis,
    prefix: options.prefix,
    s3: options.s3,
    maxWaiting: Number.MAX_SAFE_INTEGER,
    // Read by planners with planning units; ignored by one that has none.
    ...({ planningUnits: options.units, units: options.units, planners: options.planners ?? options.units } as object),
  });
  const unitsSplit = (await options.folder.readListing())?.units ?? 1;
  return { objectsPlanned: summary.objectsPlanned, shardsPlanned: summary.shardsPlanned, shardsEnqueued: summary.shardsEnqueued, unitsSplit };
}

/** The finaliser alone (`updateIndex: false` when the index update is a step of its own). */
export async function finalize(folder: RunFolder, spec: RunSpec, separateIndexUpdate: boolean): Promise<RunManifest> {
  const outcome = await pipeline.finalizeRun({ folder, spec, updateIndex: !separateIndexUpdate });
  if (outcome.state !== 'completed') throw new Error(`finalise: run ${spec.runId} is ${outcome.state}: ${JSON.stringify(outcome).slice(0, 300)}`);
  return outcome.manifest;
}

export async function updateIndex(folder: RunFolder, output: { store: ObjectStore; prefix: string }): Promise<void> {
  const manifest = await folder.readManifest();
  if (!manifest) throw new Error(`run ${folder.runId} has no manifest`);
  await pipeline.indexFinalizedRun(folder, manifest, output);
}

export async function latest(output: { store: ObjectStore; prefix: string }): Promise<{ rows: number }> {
  const pointer = await pipeline.writeLatest(output);
  return { rows: pointer.rows };
}
