/**
 * Files of an output's processed index (`<out>/_index/`, see libs/pipeline `processed-index`):
 * one row per (uri, model hash), sorted by uri. And `deletions.parquet` of an incremental run:
 * objects the index knew under the source that the listing no longer has.
 */
import type { Readable } from 'node:stream';
import { tableOf, utf8Column, type Column } from './arrow-columns';
import { encodeTable, type EncodeTableOptions } from './parquet-encoder';
import { encodeTableStream } from './parquet-stream-writer';
import { fileKindMetadata } from './embedded-object-columns';

export interface IndexFileInput {
  uri: readonly string[];
  etag: readonly (string | null)[];
  modelHash: readonly string[];
  run: readonly string[];
  file: readonly string[];
  status: readonly string[];
  finalizedAt: readonly string[];
}

export function encodeIndexFile(input: IndexFileInput, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const kv = indexMetadata(metadata);
  return encodeTable(tableOf(indexColumns(input), kv), indexEncoding(kv));
}

/** Rows per row group of an index file written by {@link encodeIndexFileStream}. */
export const INDEX_ROW_GROUP_SIZE = 8192;

/**
 * An index file written as its rows come (parquet-stream-writer.ts): each input becomes one
 * record batch; an input of `rowGroupSize` rows is exactly one row group (the unit a reader of a
 * key range skips). Memory holds one input and the row group being written.
 */
export function encodeIndexFileStream(inputs: AsyncIterable<IndexFileInput>, metadata: Readonly<Record<string, string>> = {}, rowGroupSize = INDEX_ROW_GROUP_SIZE): Readable {
  const kv = indexMetadata(metadata);
  const tables = (async function* () {
    for await (const input of inputs) yield tableOf(indexColumns(input), kv);
  })();
  return encodeTableStream(tables, { ...indexEncoding(kv), rowGroupSize });
}

function indexMetadata(metadata: Readonly<Record<string, string>>): Map<string, string> {
  const kv = fileKindMetadata(metadata, 'index');
  return kv;
}

function indexColumns(input: IndexFileInput): Column[] {
  return [
    utf8Column('uri', input.uri, false),
    utf8Column('etag', input.etag, true),
    utf8Column('model_hash', input.modelHash, false),
    utf8Column('run', input.run, false),
    utf8Column('file', input.file, false),
    utf8Column('status', input.status, false),
    utf8Column('finalized_at', input.finalizedAt, false),
  ];
}

function indexEncoding(kv: Map<string, string>): EncodeTableOptions {
  return { metadata: kv, dictionaryColumns: ['model_hash', 'run', 'file', 'status', 'finalized_at'], statisticsColumns: ['uri'] };
}

export interface DeletionsFileInput {
  uri: readonly string[];
  /** The ETag the index last saw. */
  etag: readonly (string | null)[];
  modelHash: readonly string[];
  /** The run that last processed the object. */
  lastRun: readonly string[];
}

export function encodeDeletionsFile(input: DeletionsFileInput, metadata: Readonly<Record<string, string>> = {}): Uint8Array {
  const kv = fileKindMetadata(metadata, 'deletions');
  const columns = [
    utf8Column('uri', input.uri, false),
    utf8Column('etag', input.etag, true),
    utf8Column('model_hash', input.modelHash, false),
    utf8Column('last_run', input.lastRun, false),
  ];
  return encodeTable(tableOf(columns, kv), { metadata: kv, dictionaryColumns: ['model_hash', 'last_run'], statisticsColumns: ['uri'] });
}
