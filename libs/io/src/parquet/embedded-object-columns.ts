/**
 * What the files of embedded objects share: the key-value metadata every file starts from, and
 * the columns of an embedded object (uri … embedding), in the order of the run's part files and
 * of `latest` (libs/run-format parquet-shard-writer.ts, latest-file.ts).
 */
import { float16VectorColumn, float32VectorColumn, int32Column, int64Column, utf8Column, type Column } from './arrow-columns';
import { METADATA_KEYS, PARQUET_SCHEMA_VERSION } from './file-metadata';
import type { EmbeddingDtype } from './float16';

/** The given metadata with the schema version and the file's kind (`part`, `index`, …) set. */
export function fileKindMetadata(given: Readonly<Record<string, string>>, kind: string): Map<string, string> {
  const metadata = new Map(Object.entries(given));
  metadata.set(METADATA_KEYS.schemaVersion, String(PARQUET_SCHEMA_VERSION));
  metadata.set(METADATA_KEYS.fileKind, kind);
  return metadata;
}

export interface EmbeddedObjectInput {
  uri: readonly string[];
  etag: readonly (string | null)[];
  sizeBytes: ArrayLike<number>;
  /** Hex SHA-256 of the object's bytes. */
  sha256: readonly string[];
  /** After EXIF orientation. */
  width: ArrayLike<number>;
  height: ArrayLike<number>;
  /** rows × dim, row-major, L2-normalised. */
  embedding: Float32Array;
  dim: number;
}

/** uri, etag, size_bytes, sha256, width, height, embedding (stored as `dtype`). */
export function embeddedObjectColumns(input: EmbeddedObjectInput, dtype: EmbeddingDtype = 'float32'): Column[] {
  const vectorColumn = dtype === 'float16' ? float16VectorColumn : float32VectorColumn;
  return [
    utf8Column('uri', input.uri, false),
    utf8Column('etag', input.etag, true),
    int64Column('size_bytes', input.sizeBytes, true),
    utf8Column('sha256', input.sha256, true),
    int32Column('width', input.width, true),
    int32Column('height', input.height, true),
    vectorColumn('embedding', input.embedding, input.dim, input.uri.length),
  ];
}
