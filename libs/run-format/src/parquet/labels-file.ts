/**
 * `labels.parquet` of a run (architecture §3): label, prompts, threshold and the label's text
 * embedding, so that stored image embeddings can be re-scored against new labels without
 * touching an image again.
 */
import { METADATA_KEYS, encodeTable, fileKindMetadata, float32VectorColumn, float64Column, tableOf, utf8Column, utf8ListColumn } from '@siglip-batch/io';

export interface LabelsFileInput {
  labels: readonly string[];
  /** Prompts per label (templates applied), in label order. */
  prompts: readonly (readonly string[])[];
  thresholds: ArrayLike<number>;
  /** labels × dim, L2-normalised (the mean of the prompts' embeddings, renormalised). */
  embeddings: Float32Array;
  dim: number;
  metadata: Readonly<Record<string, string>>;
}

export function encodeLabelsFile(input: LabelsFileInput): Uint8Array {
  const rows = input.labels.length;
  if (rows === 0) throw new RangeError('a labels file needs at least one label');
  if (input.prompts.length !== rows || input.thresholds.length !== rows) throw new RangeError('labels, prompts and thresholds differ in length');
  const metadata = fileKindMetadata(input.metadata, 'labels');
  metadata.set(METADATA_KEYS.embeddingDim, String(input.dim));
  const columns = [
    utf8Column('label', input.labels, false),
    utf8ListColumn('prompts', input.prompts),
    float64Column('threshold', input.thresholds, false),
    float32VectorColumn('embedding', input.embeddings, input.dim, rows),
  ];
  return encodeTable(tableOf(columns, metadata), { metadata });
}
