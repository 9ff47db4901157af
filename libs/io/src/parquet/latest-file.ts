/**
 * `<out>/_latest/…parquet`: the newest embedded row of every object across an output's runs
 * (`siglip-batch latest`). Scores are left out — runs may score different labels — tags kept.
 * `row_id` is the row's id in its run (null for rows of runs written before row ids); with `run`
 * it maps back to the run's files. Embeddings are float32 whatever the runs stored.
 */
import type { Readable } from 'node:stream';
import { float32VectorColumn, int32Column, int64Column, tableOf, utf8Column, utf8ListColumn, type Column } from './arrow-columns';
import { encodeTable, type EncodeTableOptions } from './parquet-encoder';
import { encodeTableStream } from './parquet-stream-writer';
import { METADATA_KEYS, PARQUET_SCHEMA_VERSION } from './file-metadata';

export interface LatestFileInput {
  rowId: ArrayLike<bigint | null>;
  uri: readonly string[];
  etag: readonly (string | null)[];
  sizeBytes: ArrayLike<number>;
  sha256: readonly string[];
  width: ArrayLike<number>;
  height: ArrayLike<number>;
  embedding: Float32Array;
  dim: number;
  tags: readonly (readonly string[])[];
  run: readonly string[];
  finalizedAt: readonly string[];
  metadata: Readonly<Record<string, string>>;
}

export function encodeLatestFile(input: LatestFileInput): Uint8Array {
  const kv = latestMetadata(input.metadata, input.dim);
  return encodeTable(tableOf(latestColumns(input), kv), latestEncoding(kv));
}

/** The rows of a {@link LatestFileInput}; the file's metadata and width are given once. */
export type LatestRowsInput = Omit<LatestFileInput, 'metadata' | 'dim'>;

/**
 * A `latest` file written as its rows come (parquet-stream-writer.ts), in row groups of 8192:
 * memory holds one input and the row group being written, whatever the file's size.
 */
export function encodeLatestFileStream(inputs: AsyncIterable<LatestRowsInput>, metadata: Readonly<Record<string, string>>, dim: number): Readable {
  const kv = latestMetadata(metadata, dim);
  const tables = (async function* () {
    for await (const input of inputs) yield tableOf(latestColumns({ ...input, metadata, dim }), kv);
  })();
  return encodeTableStream(tables, latestEncoding(kv));
}

function latestMetadata(metadata: Readonly<Record<string, string>>, dim: number): Map<string, string> {
  const kv = new Map(Object.entries(metadata));
  kv.set(METADATA_KEYS.schemaVersion, String(PARQUET_SCHEMA_VERSION));
  kv.set(METADATA_KEYS.fileKind, 'latest');
  kv.set(METADATA_KEYS.embeddingDim, String(dim));
  return kv;
}

function latestColumns(input: LatestFileInput): Column[] {
  const rows = input.uri.length;
  return [
    int64Column('row_id', input.rowId, true),
    utf8Column('uri', input.uri, false),
    utf8Column('etag', input.etag, true),
    int64Column('size_bytes', input.sizeBytes, true),
    utf8Column('sha256', input.sha256, true),
    int32Column('width', input.width, true),
    int32Column('height', input.height, true),
    float32VectorColumn('embedding', input.embedding, input.dim, rows),
    utf8ListColumn('tags', input.tags),
    utf8Column('run', input.run, false),
    utf8Column('finalized_at', input.finalizedAt, false),
  ];
}

function latestEncoding(kv: Map<string, string>): EncodeTableOptions {
  return { metadata: kv, dictionaryColumns: ['run', 'finalized_at'], statisticsColumns: ['uri'] };
}
