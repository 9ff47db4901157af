/**
 * The two Parquet files of a shard (architecture §3): `part-<shard>.parquet` (one row per embedded
 * object) and `errors-<shard>.parquet` (one row per object that failed permanently).
 */
import { METADATA_KEYS } from '@siglip-batch/io';
import type { DecodeSpec, LabelSpec, ModelRef } from '@siglip-batch/jobs';

/** The built-in columns of each file; extra (pass-through) columns may not reuse their names. */
export const PART_COLUMNS = ['row_id', 'uri', 'etag', 'size_bytes', 'sha256', 'width', 'height', 'embedding', 'scores', 'tags'] as const;
export const ERRORS_COLUMNS = ['row_id', 'uri', 'etag', 'size_bytes', 'error_code', 'error'] as const;

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

