/**
 * `<out>/_latest/…parquet`: the newest embedded row of every object across an output's runs
 * (`siglip-batch latest`). Scores are left out — runs may score different labels — tags kept.
 * `row_id` is the row's id in its run (null for rows of runs written before row ids); with `run`
 * it maps back to the run's files. Embeddings are float32 whatever the runs stored.
 */
import type { Readable } from 'node:stream';
import { int64Column, tableOf, utf8Column, utf8ListColumn, type Column } from './arrow-columns';
import { embeddedObjectColumns, fileKindMetadata, type EmbeddedObjectInput } from './embedded-object-columns';
import { encodeTable, type EncodeTableOptions } from './parquet-encoder';
import { encodeTableStream } from './parquet-stream-writer';
import { METADATA_KEYS } from './file-metadata';

export interface LatestFileInput extends EmbeddedObjectInput {
  rowId: ArrayLike<bigint | null>;
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
  const kv = fileKindMetadata(metadata, 'latest');
  kv.set(METADATA_KEYS.embeddingDim, String(dim));
  return kv;
}

function latestColumns(input: LatestFileInput): Column[] {
  return [
    int64Column('row_id', input.rowId, true),
    ...embeddedObjectColumns(input),
    utf8ListColumn('tags', input.tags),
    utf8Column('run', input.run, false),
    utf8Column('finalized_at', input.finalizedAt, false),
  ];
}

function latestEncoding(kv: Map<string, string>): EncodeTableOptions {
  return { metadata: kv, dictionaryColumns: ['run', 'finalized_at'], statisticsColumns: ['uri'] };
}
