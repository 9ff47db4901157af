/**
 * Key-value metadata keys shared by every Parquet file siglip-batch writes (the run format's
 * part, errors, labels and run-files tables in libs/run-format; the index and latest files
 * here). Values are strings; lists and objects are JSON.
 */

/** Version of the column layouts, written as `siglip_batch.schema_version`. */
export const PARQUET_SCHEMA_VERSION = 1;

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
