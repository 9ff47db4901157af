/**
 * Files of an output's processed index (`<out>/_index/`, see libs/pipeline `processed-index`):
 * one row per (uri, model hash), sorted by uri. And `deletions.parquet` of an incremental run:
 * objects the index knew under the source that the listing no longer has.
 */
import { tableOf, utf8Column } from './arrow-columns';
import { encodeTable } from './parquet-encoder';
import { METADATA_KEYS, PARQUET_SCHEMA_VERSION } from './shard-schema';

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
  const kv = new Map(Object.entries(metadata));
  kv.set(METADATA_KEYS.schemaVersion, String(PARQUET_SCHEMA_VERSION));
  kv.set(METADATA_KEYS.fileKind, 'index');
  const columns = [
    utf8Column('uri', input.uri, false),
    utf8Column('etag', input.etag, true),
    utf8Column('model_hash', input.modelHash, false),
    utf8Column('run', input.run, false),
    utf8Column('file', input.file, false),
    utf8Column('status', input.status, false),
    utf8Column('finalized_at', input.finalizedAt, false),
  ];
  return encodeTable(tableOf(columns, kv), {
    metadata: kv,
    dictionaryColumns: ['model_hash', 'run', 'file', 'status', 'finalized_at'],
    statisticsColumns: ['uri'],
  });
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
  const kv = new Map(Object.entries(metadata));
  kv.set(METADATA_KEYS.schemaVersion, String(PARQUET_SCHEMA_VERSION));
  kv.set(METADATA_KEYS.fileKind, 'deletions');
  const columns = [
    utf8Column('uri', input.uri, false),
    utf8Column('etag', input.etag, true),
    utf8Column('model_hash', input.modelHash, false),
    utf8Column('last_run', input.lastRun, false),
  ];
  return encodeTable(tableOf(columns, kv), { metadata: kv, dictionaryColumns: ['model_hash', 'last_run'], statisticsColumns: ['uri'] });
}
