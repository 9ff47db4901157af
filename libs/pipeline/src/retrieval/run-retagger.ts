/**
 * `retag`: new label scores and tags for a finished run from its stored embeddings — no image
 * is fetched again. Writes a new run-like folder: one part per source part (same keys, the part
 * schema of SPEC §3 with the new scores and tags), the source's errors files copied as they are
 * (so the folder still has one row per planned object), `labels.parquet`, and a manifest
 * written last, so that readers see the new folder only once it is whole.
 */
import {
  METADATA_KEYS,
  RunFolder,
  encodeLabelsFile,
  encodePartFile,
  shardFileMetadata,
} from '@siglip-batch/io';
import { RUN_LAYOUT, type LabelSpec, type RunManifest } from '@siglip-batch/jobs';
import type { LabelScorer } from '@siglip-batch/model';
import { withManifestRetry } from './manifest-retry';
import { readPartRows } from './part-rows';

export interface RetagOptions {
  source: RunFolder;
  manifest: RunManifest;
  target: RunFolder;
  labels: LabelSpec[];
  templates: string[];
  /** Scorer of `labels` (text embeddings of the run's model, its logit scale and bias). */
  scorer: LabelScorer;
  onPart?(done: number, total: number): void;
}

export async function retagRun(options: RetagOptions): Promise<RunManifest> {
  const { source, target } = options;
  if (await target.readManifest()) throw new Error(`${target.uriOf('')} already has a manifest: choose another --out`);
  // A compaction of the source meanwhile: start over on its new manifest, without the files
  // written under the old one's keys (see manifest-retry.ts).
  const written = new Set<string>();
  return withManifestRetry(source, options.manifest, (manifest) => retagOnce({ ...options, manifest }, written), {
    onRetry: async (_error, current) => {
      const kept = new Set([...current.parts, ...current.errors].map((file) => file.key));
      for (const key of written) if (!kept.has(key)) await target.store.delete(target.keyOf(key));
      written.clear();
    },
  });
}

async function retagOnce(options: RetagOptions, written: Set<string>): Promise<RunManifest> {
  const { source, manifest, target, scorer } = options;
  const labelNames = options.labels.map((label) => label.label);
  if (scorer.dim !== manifest.embeddingDim) throw new Error(`the model embeds in ${scorer.dim} dimensions, the run has ${manifest.embeddingDim}`);
  const started = new Date().toISOString();
  let preprocessing = 'unknown';
  const parts: RunManifest['parts'] = [];
  for (const [index, part] of manifest.parts.entries()) {
    const rows = await readPartRows(() => source.store.openBlob(source.keyOf(part.key)));
    preprocessing = rows.metadata[METADATA_KEYS.preprocessingVersion] ?? preprocessing;
    const count = rows.uri.length;
    const scores = scorer.score(rows.embedding);
    const tags = Array.from({ length: count }, (_, row) => scorer.row(scores, row).tags);
    const metadata = shardFileMetadata({
      runId: target.runId,
      model: manifest.model,
      preprocessingVersion: preprocessing,
      decode: manifest.decode,
      labels: options.labels,
      templates: options.templates,
    });
    const { metadata: _old, ...columns } = rows;
    const bytes = encodePartFile({ ...columns, scores, tags, labels: labelNames, metadata });
    written.add(part.key);
    await target.store.put(target.keyOf(part.key), bytes, { contentType: 'application/vnd.apache.parquet' });
    parts.push({ ...part, rows: count });
    options.onPart?.(index + 1, manifest.parts.length);
  }
  for (const file of manifest.errors) {
    written.add(file.key);
    await target.store.put(target.keyOf(file.key), await source.store.get(source.keyOf(file.key)), { contentType: 'application/vnd.apache.parquet' });
  }
  await target.writeLabels(
    encodeLabelsFile({
      labels: labelNames,
      prompts: scorer.set.prompts.map((prompts) => [...prompts]),
      thresholds: scorer.set.thresholds,
      embeddings: scorer.embeddings,
      dim: scorer.dim,
      metadata: shardFileMetadata({
        runId: target.runId,
        model: manifest.model,
        preprocessingVersion: preprocessing,
        decode: manifest.decode,
        labels: options.labels,
        templates: options.templates,
      }),
    }),
  );
  const retagged: RunManifest = {
    ...manifest,
    runId: target.runId,
    source: source.uriOf(''),
    labels: options.labels,
    templates: options.templates,
    parts,
    labelsFile: RUN_LAYOUT.labels,
    timings: { createdAt: started, listedAt: null, finalizedAt: new Date().toISOString(), shardMs: {} },
  };
  await target.writeManifest(retagged);
  return retagged;
}
