/**
 * `retag`: new label scores and tags for a finished run from its stored embeddings — no image
 * is fetched again. Writes a new run-like folder: one part per source part (same keys, the part
 * schema of architecture §3 with the new scores and tags), the source's errors files copied as they are
 * (so the folder still has one row per planned object), `labels.parquet`, and a manifest
 * written last, so that readers see the new folder only once it is whole.
 */
import { METADATA_KEYS } from '@siglip-batch/io';
import {
  RunFolder,
  encodeLabelsFile,
  encodePartFile,
  readPartRows,
  runFileCounts,
  runFiles,
  shardFileMetadata,
  writeRunFilesTable,
  type RunFileRow,
} from '@siglip-batch/run-format';
import { RUN_FILES_DIR, RUN_LAYOUT, type LabelSpec, type RunManifest } from '@siglip-batch/jobs';
import type { LabelScorer } from '@siglip-batch/model';
import { withManifestRetry } from './manifest-retry';

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

/** Keys (relative to the target folder) of the files a retag writes before its manifest. */
const WRITTEN_BY_RETAG = /^(?:parts\/part-|errors\/errors-|part-|errors-|_manifest\/).*\.parquet$/;

export async function retagRun(options: RetagOptions): Promise<RunManifest> {
  const { source, target } = options;
  if (await target.readManifest()) throw new Error(`${target.uriOf('')} already has a manifest: choose another --out`);
  // A compaction of the source meanwhile: start over on its new manifest, without the files
  // written under the old one's keys (see manifest-retry.ts). The old manifest's file table may
  // be gone with its files, so the target folder itself is listed: it has no manifest, and its
  // part and errors files are what this retag wrote.
  return withManifestRetry(source, options.manifest, (manifest) => retagOnce({ ...options, manifest }), {
    onRetry: async () => {
      for await (const info of target.store.list(target.prefix)) {
        if (WRITTEN_BY_RETAG.test(info.key.slice(target.prefix.length))) await target.store.delete(info.key);
      }
    },
  });
}

async function retagOnce(options: RetagOptions): Promise<RunManifest> {
  const { source, manifest, target, scorer } = options;
  const labelNames = options.labels.map((label) => label.label);
  if (scorer.dim !== manifest.embeddingDim) throw new Error(`the model embeds in ${scorer.dim} dimensions, the run has ${manifest.embeddingDim}`);
  const started = new Date().toISOString();
  let preprocessing = 'unknown';
  // The target's files carry the source's preprocessing version (read from its part files) and the new labels.
  const fileMetadata = () =>
    shardFileMetadata({
      runId: target.runId,
      model: manifest.model,
      preprocessingVersion: preprocessing,
      decode: manifest.decode,
      labels: options.labels,
      templates: options.templates,
    });
  const total = runFileCounts(manifest).parts;
  // The target's file table, written as its files are: one part per source part, the errors
  // files copied as they are.
  async function* retaggedFiles(): AsyncGenerator<RunFileRow> {
    let index = 0;
    for await (const part of runFiles(source, manifest, { kind: 'part' })) {
      const rows = await readPartRows(() => source.store.openBlob(source.keyOf(part.key)));
      preprocessing = rows.metadata[METADATA_KEYS.preprocessingVersion] ?? preprocessing;
      const count = rows.uri.length;
      const scores = scorer.score(rows.embedding);
      const tags = Array.from({ length: count }, (_, row) => scorer.row(scores, row).tags);
      const metadata = fileMetadata();
      const { metadata: _old, ...columns } = rows;
      const bytes = encodePartFile({ ...columns, scores, tags, labels: labelNames, metadata });
      await target.store.put(target.keyOf(part.key), bytes, { contentType: 'application/vnd.apache.parquet' });
      yield { ...part, rows: count, bytes: bytes.byteLength };
      options.onPart?.(++index, total);
    }
    for await (const file of runFiles(source, manifest, { kind: 'errors' })) {
      await target.store.put(target.keyOf(file.key), await source.store.get(source.keyOf(file.key)), { contentType: 'application/vnd.apache.parquet' });
      yield file;
    }
  }
  const tableKey = `${RUN_FILES_DIR}files.parquet`;
  const table = await writeRunFilesTable(target.store, target.keyOf(tableKey), retaggedFiles(), { metadata: { 'siglip_batch.run_id': target.runId } });
  await target.writeLabels(
    encodeLabelsFile({
      labels: labelNames,
      prompts: scorer.set.prompts.map((prompts) => [...prompts]),
      thresholds: scorer.set.thresholds,
      embeddings: scorer.embeddings,
      dim: scorer.dim,
      metadata: fileMetadata(),
    }),
  );
  // The source's deletions and compaction are its own: the target has neither.
  const { parts: _parts, errors: _errors, deletions: _deletions, compaction: _compaction, ...kept } = manifest;
  const retagged: RunManifest = {
    ...kept,
    schemaVersion: 2,
    runId: target.runId,
    source: source.uriOf(''),
    labels: options.labels,
    templates: options.templates,
    files: { key: tableKey, rows: table.rows, bytes: table.bytes, parts: table.byKind.part, errors: table.byKind.errors, deletions: 0, replaced: 0 },
    labelsFile: RUN_LAYOUT.labels,
    timings: { createdAt: started, listedAt: null, finalizedAt: new Date().toISOString(), shardMs: {} },
  };
  await target.writeManifest(retagged);
  return retagged;
}
