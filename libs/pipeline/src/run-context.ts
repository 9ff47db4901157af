import { RunFolder, encodeLabelsFile, openLocation, shardFileMetadata, type S3Options } from '@siglip-batch/io';
import { RUN_LAYOUT, type RunSpec } from '@siglip-batch/jobs';
import type { LoadedModel } from './loaded-model';
import { PermanentShardError } from './shard-errors';
import type { ShardContext } from './shard-processor';
import { StoreResolver } from './store-resolver';

/** Key-value metadata of every Parquet file of a run (SPEC §3). */
export function runFileMetadata(spec: RunSpec, preprocessing: string): Record<string, string> {
  return shardFileMetadata({
    runId: spec.runId,
    model: spec.model,
    preprocessingVersion: preprocessing,
    labels: spec.labels,
    templates: spec.templates,
  });
}

export function openRunFolder(spec: Pick<RunSpec, 'output' | 'runId'>, s3: S3Options = {}): RunFolder {
  const { store, prefix } = openLocation(spec.output, s3);
  return new RunFolder({ store, prefix }, spec.runId);
}

/**
 * Everything needed to process the shards of one run with a loaded model: the run folder, a
 * resolver for source objects, the label scorer (text embeddings computed once, written to
 * `labels.parquet`), and the file metadata.
 */
export async function createRunContext(spec: RunSpec, model: LoadedModel, s3: S3Options = {}): Promise<ShardContext & { close(): void }> {
  if (spec.model.hash !== model.ref.hash || spec.model.variant !== model.ref.variant) {
    throw new PermanentShardError(
      `run ${spec.runId} needs model ${spec.model.checkpoint} (${spec.model.hash.slice(0, 16)}, ${spec.model.variant}); ` +
        `this process serves ${model.ref.checkpoint} (${model.ref.hash.slice(0, 16)}, ${model.ref.variant})`,
    );
  }
  const folder = openRunFolder(spec, s3);
  const fileMetadata = runFileMetadata(spec, model.preprocessing);
  let scorer: ShardContext['scorer'] = null;
  if (spec.labels) {
    const encoded = await model.encodeLabels(spec.labels, spec.templates);
    scorer = encoded.scorer;
    if (!(await folder.store.exists(folder.keyOf(RUN_LAYOUT.labels)))) {
      await folder.writeLabels(
        encodeLabelsFile({
          labels: spec.labels.map((label) => label.label),
          prompts: encoded.prompts,
          thresholds: spec.labels.map((label) => label.threshold),
          embeddings: encoded.embeddings,
          dim: model.ref.embedDim,
          metadata: fileMetadata,
        }),
      );
    }
  }
  const resolver = new StoreResolver(s3);
  return {
    spec,
    folder,
    resolver,
    embedder: model.embedder,
    scorer,
    fileMetadata,
    close: () => {
      resolver.close();
      folder.store.close();
    },
  };
}
