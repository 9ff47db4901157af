import type { S3Options } from '@siglip-batch/io';
import type { RunManifest, RunSpec, ShardStats } from '@siglip-batch/jobs';
import type { LoadedModel } from './loaded-model';
import { createRunContext } from './run-context';
import { finalizeRun } from './run-finalizer';
import { createIncrementalFilter } from './processed-index/incremental-filter';
import { planRun } from './run-planner';
import { processShard, type ShardProcessorOptions } from './shard-processor';
import { sourceScopeOf } from './source-access';

export interface LocalRunOptions {
  spec: RunSpec;
  model: LoadedModel;
  s3?: S3Options;
  processor?: Omit<ShardProcessorOptions, 'workerId' | 'attempt'>;
  /**
   * Locations read besides the source's own folder (a manifest naming objects elsewhere).
   * @defaultValue none: only objects under the source (for a manifest: the folder it is in)
   */
  allow?: string[];
  onProgress?(progress: { objectsPlanned: number; objectsDone: number; listingComplete: boolean }): void;
  /**
   * Called once every shard is processed, before the run is finalised (which needs no model): a
   * caller done with its model can close it now, its threads ending while the run's files table,
   * manifest and index are written.
   */
  onShardsDone?(): void;
}

/**
 * One-process mode: the same planner, shard processor and finaliser as the distributed
 * pipeline, without Redis. Shards are processed as they are planned; a shard that already
 * has stats (an earlier, interrupted invocation) is not processed again. The label embeddings
 * are computed meanwhile (`labelsInBackground`): the first commit waits for them.
 */
export async function runLocally(options: LocalRunOptions): Promise<RunManifest> {
  const { spec, model } = options;
  // The label embeddings are computed while the run is planned and its first images decoded.
  const context = await createRunContext(
    spec,
    model,
    options.s3,
    { roots: [sourceScopeOf(spec).uri, ...(options.allow ?? [])], widenHint: 'pass --allow <location> to read objects outside the source folder' },
    { labelsInBackground: true },
  );
  let objectsDone = 0;
  let objectsPlanned = 0;
  let listingComplete = false;
  const report = () => options.onProgress?.({ objectsPlanned, objectsDone, listingComplete });
  try {
    await context.folder.writeRunSpec(spec);
    await planRun({
      folder: context.folder,
      spec,
      ...(options.s3 ? { s3: options.s3 } : {}),
      ...(spec.incremental ? { listingFilter: createIncrementalFilter(spec, context.folder, options.s3) } : {}),
      onProgress: (progress) => {
        objectsPlanned = progress.objectsPlanned;
        listingComplete = progress.complete;
        report();
      },
      onShard: async (shard) => {
        let stats: ShardStats | undefined = await context.folder.readStats(shard);
        if (!stats) {
          // Progress within the shard: its objects inferred so far (error rows count once it commits).
          const before = objectsDone;
          let inferred = 0;
          stats = await processShard(context, shard, {
            ...options.processor,
            workerId: `local:${process.pid}`,
            attempt: 1,
            onBatch: (batch) => {
              options.processor?.onBatch?.(batch);
              inferred += batch.images;
              objectsDone = before + inferred;
              report();
            },
          });
          objectsDone = before;
        }
        objectsDone += stats.planned;
        report();
      },
    });
    // labels.parquet is written (and a failure to compute the labels raised) even when no shard
    // committed anything.
    await context.scorer;
    options.onShardsDone?.();
    const outcome = await finalizeRun({ folder: context.folder, spec });
    if (outcome.state !== 'completed') throw new Error(`run ${spec.runId} could not be finalised: ${JSON.stringify(outcome)}`);
    return outcome.manifest;
  } finally {
    // Nothing of the labels' work outlives the context (its write uses the folder's store).
    await Promise.resolve(context.scorer).catch(() => undefined);
    context.close();
  }
}
