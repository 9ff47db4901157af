/**
 * The two Parquet files of a shard (architecture §3): `part-<shard>.parquet` (one row per embedded
 * object) and `errors-<shard>.parquet` (one row per object that failed permanently).
 */
import type { DecodeSpec, LabelSpec, ModelRef } from '@siglip-batch/jobs';

/** Version of the column layout below, written as `siglip_batch.schema_version`. */
export const PARQUET_SCHEMA_VERSION = 1;

export const PART_COLUMNS = ['row_id', 'uri', 'etag', 'size_bytes', 'sha256', 'width', 'height', 'embedding', 'scores', 'tags'] as const;
export const ERRORS_COLUMNS = ['row_id', 'uri', 'etag', 'size_bytes', 'error_code', 'error'] as const;

/** Key-value metadata keys. Values are strings; lists and objects are JSON. */
export const METADATA_KEYS = {
  /** Set by the writer. */
  schemaVersion: 'siglip_batch.schema_version',
  /** `part` or `errors`, set by the writer. */
  fileKind: 'siglip_batch.file_kind',
  /** Length of the embedding vectors, set by the part writer from its input. */
  embeddingDim: 'siglip_batch.embedding_dim',
  /** Storage type of the embedding items, `float32` or `float16`, set by the part writer. */
  embeddingDtype: 'siglip_batch.embedding_dtype',
  /** How `row_id` is derived (see libs/jobs row-id.ts), set by the writers when the column is there. */
  rowIdLayout: 'siglip_batch.row_id_layout',
  runId: 'siglip_batch.run_id',
  modelCheckpoint: 'siglip_batch.model.checkpoint',
  modelHash: 'siglip_batch.model.hash',
  modelVariant: 'siglip_batch.model.variant',
  preprocessingVersion: 'siglip_batch.preprocessing_version',
  /** How images were decoded, JSON: `{"mode":"exact"}` or `{"mode":"fast","reducingGap":2}`. */
  decode: 'siglip_batch.decode',
  /** JSON array of `{label, prompts, threshold}` in the order of the `scores` vector. */
  labels: 'siglip_batch.labels',
  /** JSON array of prompt templates. */
  templates: 'siglip_batch.templates',
  /** JSON array of the extra (pass-through) columns and their types. */
  extraColumns: 'siglip_batch.extra_columns',
} as const;

export interface ShardMetadataInput {
  runId: string;
  model: Pick<ModelRef, 'checkpoint' | 'hash' | 'variant'>;
  preprocessingVersion: string;
  /** The run's decode mode (absent: exact). */
  decode?: DecodeSpec | undefined;
  labels: readonly LabelSpec[] | null;
  templates: readonly string[];
}

/** The run-level key-value metadata of architecture §3, under the keys of {@link METADATA_KEYS}. */
export function shardFileMetadata(input: ShardMetadataInput): Record<string, string> {
  return {
    [METADATA_KEYS.runId]: input.runId,
    [METADATA_KEYS.modelCheckpoint]: input.model.checkpoint,
    [METADATA_KEYS.modelHash]: input.model.hash,
    [METADATA_KEYS.modelVariant]: input.model.variant,
    [METADATA_KEYS.preprocessingVersion]: input.preprocessingVersion,
    [METADATA_KEYS.decode]: JSON.stringify(input.decode ?? { mode: 'exact' }),
    [METADATA_KEYS.labels]: JSON.stringify(input.labels ?? []),
    [METADATA_KEYS.templates]: JSON.stringify(input.templates),
  };
}

