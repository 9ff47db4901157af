/**
 * Encoders of the two files of a shard (architecture §3), from columnar inputs.
 *
 * part:   row_id, uri, etag, size_bytes, sha256, width, height, embedding, [scores, tags], extra…
 * errors: row_id, uri, etag, size_bytes, error_code, error, extra…
 *
 * `row_id` (int64) is the stable id of libs/jobs row-id.ts; files written before it existed have
 * no such column, so it is optional here (tools that rewrite old parts keep them without one).
 */
import {
  METADATA_KEYS,
  boolColumn,
  embeddedObjectColumns,
  encodeTable,
  fileKindMetadata,
  float32VectorColumn,
  float64Column,
  int64Column,
  tableOf,
  utf8Column,
  utf8ListColumn,
  type Column,
  type EmbeddedObjectInput,
  type EmbeddingDtype,
  type ParquetWriteOptions,
} from '@siglip-batch/io';
import { ROW_ID_LAYOUT, type ExtraColumn, type ExtraValue } from '@siglip-batch/jobs';
import { ERRORS_COLUMNS, PART_COLUMNS } from './shard-schema';

export interface ExtraColumnsInput {
  columns: readonly ExtraColumn[];
  /** Per row, in the order of `columns`; int64 as a JSON decimal string (or a safe integer). */
  values: readonly (readonly ExtraValue[])[];
}

export interface PartFileInput extends EmbeddedObjectInput {
  /** Stable row ids (libs/jobs `rowIdsOf`); absent only for rows of files written before them. */
  rowId?: ArrayLike<bigint>;
  /** Storage type of `embedding`: float16 halves the bytes per row. @defaultValue 'float32' */
  embeddingDtype?: EmbeddingDtype;
  /** rows × labels.length sigmoid probabilities; required with labels. */
  scores?: Float32Array;
  /** Label names, in the order of the scores (the full label specs go in the metadata). */
  labels?: readonly string[];
  /** Per row, the labels over their threshold, best first; required with labels. */
  tags?: readonly (readonly string[])[];
  extra?: ExtraColumnsInput;
  /** Run-level key-value metadata, e.g. from `shardFileMetadata()`. */
  metadata: Readonly<Record<string, string>>;
}

export interface ErrorsFileInput {
  /** Stable row ids, from the same id space as the part file's (see {@link PartFileInput.rowId}). */
  rowId?: ArrayLike<bigint>;
  uri: readonly string[];
  etag: readonly (string | null)[];
  sizeBytes: ArrayLike<number | null>;
  errorCode: readonly string[];
  error: readonly (string | null)[];
  extra?: ExtraColumnsInput;
  metadata: Readonly<Record<string, string>>;
}

/** Per-column encoding of the two files (see parquet-encoder.ts): shared with the compaction merge. */
export const PART_FILE_ENCODING = { statisticsColumns: ['uri', 'size_bytes', 'width', 'height'] } as const;
export const ERRORS_FILE_ENCODING = { dictionaryColumns: ['error_code'], statisticsColumns: ['uri', 'size_bytes', 'error_code'] } as const;

export function encodePartFile(input: PartFileInput, options: ParquetWriteOptions = {}): Uint8Array {
  const rows = input.uri.length;
  const dtype = input.embeddingDtype ?? 'float32';
  const columns: Column[] = [...rowIdColumn(input.rowId), ...embeddedObjectColumns(input, dtype)];
  const labels = input.labels;
  if (labels !== undefined) {
    if (labels.length === 0) throw new RangeError('labels, when given, must not be empty (architecture §3)');
    if (!input.scores || !input.tags) throw new TypeError('scores and tags are required with labels');
    columns.push(float32VectorColumn('scores', input.scores, labels.length, rows), utf8ListColumn('tags', input.tags));
  } else if (input.scores || input.tags) {
    throw new TypeError('scores and tags need the labels they refer to');
  }
  columns.push(...extraColumns(input.extra, rows, PART_COLUMNS));
  const metadata = fileMetadata(input.metadata, 'part', input.extra, input.rowId !== undefined);
  metadata.set(METADATA_KEYS.embeddingDim, String(input.dim));
  metadata.set(METADATA_KEYS.embeddingDtype, dtype);
  return encodeTable(tableOf(columns, metadata), {
    ...options,
    metadata,
    ...PART_FILE_ENCODING,
  });
}

export function encodeErrorsFile(input: ErrorsFileInput, options: ParquetWriteOptions = {}): Uint8Array {
  const rows = input.uri.length;
  const columns: Column[] = [
    ...rowIdColumn(input.rowId),
    utf8Column('uri', input.uri, false),
    utf8Column('etag', input.etag, true),
    int64Column('size_bytes', input.sizeBytes, true),
    utf8Column('error_code', input.errorCode, false),
    utf8Column('error', input.error, true),
    ...extraColumns(input.extra, rows, ERRORS_COLUMNS),
  ];
  const metadata = fileMetadata(input.metadata, 'errors', input.extra, input.rowId !== undefined);
  return encodeTable(tableOf(columns, metadata), {
    ...options,
    metadata,
    ...ERRORS_FILE_ENCODING,
  });
}

function fileMetadata(given: Readonly<Record<string, string>>, kind: 'part' | 'errors', extra: ExtraColumnsInput | undefined, rowIds: boolean): Map<string, string> {
  const metadata = fileKindMetadata(given, kind);
  metadata.set(METADATA_KEYS.extraColumns, JSON.stringify(extra?.columns ?? []));
  if (rowIds) metadata.set(METADATA_KEYS.rowIdLayout, ROW_ID_LAYOUT);
  else metadata.delete(METADATA_KEYS.rowIdLayout);
  return metadata;
}

/** The `row_id` column (non-null int64), first in both files; none for rows that never had ids. */
function rowIdColumn(rowId: ArrayLike<bigint> | undefined): Column[] {
  return rowId === undefined ? [] : [int64Column('row_id', rowId, false)];
}

function extraColumns(extra: ExtraColumnsInput | undefined, rows: number, reserved: readonly string[]): Column[] {
  if (!extra || extra.columns.length === 0) return [];
  if (extra.values.length !== rows) throw new RangeError(`extra columns have ${extra.values.length} rows, expected ${rows}`);
  return extra.columns.map((column, index) => {
    if (reserved.includes(column.name)) throw new TypeError(`extra column "${column.name}" collides with a built-in column`);
    const cells = extra.values.map((row, rowIndex) => {
      if (row.length !== extra.columns.length) {
        throw new RangeError(`extra values of row ${rowIndex} have ${row.length} cells, expected ${extra.columns.length}`);
      }
      return row[index] ?? null;
    });
    return extraColumn(column, cells);
  });
}

function extraColumn(column: ExtraColumn, cells: ExtraValue[]): Column {
  const wrong = (row: number, expected: string): never => {
    throw new TypeError(`extra column "${column.name}" (${column.type}) row ${row}: ${JSON.stringify(cells[row])} is not ${expected}`);
  };
  switch (column.type) {
    case 'string':
      return utf8Column(column.name, cells.map((value) => (value === null ? null : String(value))), true);
    case 'int64':
      return int64Column(
        column.name,
        cells.map((value, row) => (value === null || typeof value === 'number' || typeof value === 'string' ? value : wrong(row, 'an integer'))),
        true,
      );
    case 'float64':
      return float64Column(
        column.name,
        cells.map((value, row) => (value === null || typeof value === 'number' ? value : wrong(row, 'a number'))),
        true,
      );
    case 'boolean':
      return boolColumn(
        column.name,
        cells.map((value, row) => (value === null || typeof value === 'boolean' ? value : wrong(row, 'a boolean'))),
        true,
      );
  }
}
