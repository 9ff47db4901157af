import { S3ConfigError, assertS3RegionConfigured, parseLocation, type S3Options } from '@siglip-batch/io';
import { encodeLabelsFile, openRunFolder, shardFileMetadata } from '@siglip-batch/run-format';
import { RUN_LAYOUT, type RunSpec } from '@siglip-batch/jobs';
import type { ShardScorer } from './embedder';
import type { LoadedModel } from './loaded-model';
import { PermanentShardError } from './shard-errors';
import type { ShardContext } from './shard-processor';
import { SourceAccess, sourceScopeOf, type SourceAccessOptions } from './source-access';
import { StoreResolver } from './store-resolver';

/** Key-value metadata of every Parquet file of a run (architecture §3). */
export function runFileMetadata(spec: RunSpec, preprocessing: string): Record<string, string> {
  return shardFileMetadata({
    runId: spec.runId,
    model: spec.model,
    preprocessingVersion: preprocessing,
    decode: spec.decode,
    labels: spec.labels,
    templates: spec.templates,
  });
}

/**
 * Everything needed to process the shards of one run with a loaded model: the run folder, a
 * resolver for source objects, what may be read of them, the label scorer (text embeddings
 * computed once, written to `labels.parquet`), and the file metadata.
 *
 * `access` defaults to the run's own source folder (see {@link sourceScopeOf}): right for a
 * process whose operator named that source (one-process mode), not for a worker, whose run spec
 * comes from Redis; workers pass their own (apps/worker `allow-list.ts`).
 *
 * With `labelsInBackground`, the context is returned while the label embeddings are computed and
 * `labels.parquet` written: its `scorer` is then that work's promise, which the first shard
 * commit awaits (one-process mode plans and decodes meanwhile, on cores that would otherwise
 * wait for the text tower). A failure of it fails that commit; the caller awaits it too before
 * finalising, for a run whose shards commit nothing.
 */
export async function createRunContext(
  spec: RunSpec,
  model: LoadedModel,
  s3: S3Options = {},
  access: SourceAccessOptions = { roots: [sourceScopeOf(spec).uri], widenHint: 'objects outside the source folder need --allow' },
  options: { labelsInBackground?: boolean } = {},
): Promise<ShardContext & { close(): void }> {
  if (spec.model.hash !== model.ref.hash || spec.model.variant !== model.ref.variant) {
    throw new PermanentShardError(
      `run ${spec.runId} needs model ${spec.model.checkpoint} (${spec.model.hash.slice(0, 16)}, ${spec.model.variant}); ` +
        `this process serves ${model.ref.checkpoint} (${model.ref.hash.slice(0, 16)}, ${model.ref.variant})`,
    );
  }
  // A process without an AWS region cannot serve an S3 run: that is its configuration, which
  // retrying does not fix, so the run fails at once saying what to set.
  if ([spec.source, spec.output, ...(spec.retryErrors ? [spec.retryErrors.objectSource] : [])].some((uri) => parseLocation(uri).kind === 's3')) {
    await assertS3RegionConfigured(s3).catch((error: unknown) => {
      throw error instanceof S3ConfigError ? new PermanentShardError(error.message) : error;
    });
  }
  const sourceAccess = new SourceAccess(spec, access);
  const folder = openRunFolder(spec, s3);
  const fileMetadata = runFileMetadata(spec, model.preprocessing);
  const labels = spec.labels;
  const labelWork = async (): Promise<ShardScorer | null> => {
    if (!labels) return null;
    const encoded = await model.encodeLabels(labels, spec.templates);
    if (!(await folder.store.exists(folder.keyOf(RUN_LAYOUT.labels)))) {
      await folder.writeLabels(
        encodeLabelsFile({
          labels: labels.map((label) => label.label),
          prompts: encoded.prompts,
          thresholds: labels.map((label) => label.threshold),
          embeddings: encoded.embeddings,
          dim: model.ref.embedDim,
          metadata: fileMetadata,
        }),
      );
    }
    return encoded.scorer;
  };
  let scorer: ShardContext['scorer'];
  if (options.labelsInBackground) {
    scorer = labelWork();
    // Awaited by the shard commits and the caller; this keeps a failure meanwhile from being unhandled.
    scorer.catch(() => undefined);
  } else {
    scorer = await labelWork();
  }
  const resolver = new StoreResolver(s3);
  return {
    spec,
    folder,
    resolver,
    access: sourceAccess,
    embedder: model.embedder,
    scorer,
    fileMetadata,
    close: () => {
      resolver.close();
      folder.store.close();
    },
  };
}
