import type { LabelSpec, ModelRef } from '@siglip-batch/jobs';
import type { ImageEmbedder, ShardScorer } from './embedder';

/** A label set turned into what scoring and `labels.parquet` need. */
export interface EncodedLabels {
  scorer: ShardScorer;
  /** Prompts per label, in label order. */
  prompts: string[][];
  /** One L2-normalised text embedding per label (templates averaged), labels × D. */
  embeddings: Float32Array;
}

/** A model loaded once per process, as the pipeline uses it. */
export interface LoadedModel {
  readonly ref: ModelRef;
  /** Version tag of the preprocessing (recorded in every Parquet file). */
  readonly preprocessing: string;
  readonly embedder: ImageEmbedder;
  encodeLabels(labels: LabelSpec[], templates: string[]): Promise<EncodedLabels>;
  close(): Promise<void>;
}
