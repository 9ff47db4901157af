/**
 * Reading and writing index files (libs/io `encodeIndexFile`: one row per entry, sorted). A
 * segment of any size is a sequence of chunk files of at most `chunkEntries` entries named by
 * their number, so that neither a writer nor a pointer holds anything that grows with the
 * segment: the writer buffers one chunk, the pointer stores how many chunks there are.
 */
import { encodeIndexFile, readParquetBatches, type ObjectStore } from '@siglip-batch/io';
import type { IndexEntry } from './index-entry';

/** Entries per chunk file (and the most a writer buffers). */
export const DEFAULT_CHUNK_ENTRIES = 50_000;
/** Rows per batch when reading: a merge holds one batch per input. */
const READ_BATCH = 1024;

export function encodeEntries(entries: readonly IndexEntry[]): Uint8Array {
  return encodeIndexFile({
    uri: entries.map((e) => e.uri),
    etag: entries.map((e) => e.etag),
    modelHash: entries.map((e) => e.modelHash),
    run: entries.map((e) => e.run),
    file: entries.map((e) => e.file),
    status: entries.map((e) => e.status),
    finalizedAt: entries.map((e) => e.finalizedAt),
  });
}

export async function* readIndexFile(store: ObjectStore, key: string): AsyncGenerator<IndexEntry> {
  for await (const batch of readParquetBatches(await store.openBlob(key), { batchSize: READ_BATCH })) yield* entriesOfBatch(batch);
}

/** A record batch as far as {@link entriesOfBatch} reads it. */
interface EntryBatch {
  readonly numRows: number;
  getChild(name: string): { get(index: number): unknown } | null;
}

/**
 * The entries of one record batch of an index file or a shard's contribution (whose
 * `finalized_at` is empty until its run is merged: '').
 */
export function* entriesOfBatch(batch: EntryBatch): Generator<IndexEntry> {
  const [uri, etag, modelHash, run, file, status] = ['uri', 'etag', 'model_hash', 'run', 'file', 'status'].map((name) => batch.getChild(name)!);
  const finalizedAt = batch.getChild('finalized_at');
  for (let i = 0; i < batch.numRows; i++) {
    yield {
      uri: uri!.get(i) as string,
      etag: (etag!.get(i) as string | null) ?? null,
      modelHash: modelHash!.get(i) as string,
      run: run!.get(i) as string,
      file: file!.get(i) as string,
      status: status!.get(i) as IndexEntry['status'],
      finalizedAt: (finalizedAt?.get(i) as string | null) ?? '',
    };
  }
}

/** `<base>-00003.parquet`: chunk 3 of a segment. */
export function chunkKey(base: string, chunk: number): string {
  return `${base}-${String(chunk).padStart(5, '0')}.parquet`;
}

/** A segment's entries, its chunks opened one after the other (lazily: nothing is read before the first pull). */
export async function* readChunks(store: ObjectStore, base: string, chunks: number): AsyncGenerator<IndexEntry> {
  for (let chunk = 0; chunk < chunks; chunk++) yield* readIndexFile(store, chunkKey(base, chunk));
}

export interface WrittenSegment {
  chunks: number;
  entries: number;
  bytes: number;
}

/**
 * Writes a sorted stream as chunk files `<base>-<n>.parquet` (keys relative to the store),
 * `transform` applied to each entry on the way. An empty stream writes no chunk.
 */
export async function writeChunks(
  store: ObjectStore,
  base: string,
  entries: AsyncIterable<IndexEntry>,
  options: { chunkEntries?: number; onBytes?(bytes: number): void } = {},
): Promise<WrittenSegment> {
  const limit = options.chunkEntries ?? DEFAULT_CHUNK_ENTRIES;
  let chunk: IndexEntry[] = [];
  const written: WrittenSegment = { chunks: 0, entries: 0, bytes: 0 };
  const flush = async () => {
    const bytes = encodeEntries(chunk);
    await store.put(chunkKey(base, written.chunks), bytes, { contentType: 'application/vnd.apache.parquet' });
    written.chunks++;
    written.bytes += bytes.length;
    options.onBytes?.(bytes.length);
    chunk = [];
  };
  for await (const entry of entries) {
    chunk.push(entry);
    written.entries++;
    if (chunk.length >= limit) await flush();
  }
  if (chunk.length > 0) await flush();
  return written;
}

/** Deletes `<base>-<n>.parquet` for every n below `chunks`. */
export async function deleteChunks(store: ObjectStore, base: string, chunks: number): Promise<void> {
  for (let chunk = 0; chunk < chunks; chunk++) await store.delete(chunkKey(base, chunk));
}

/** The stream with `fill` applied to each entry (a contribution's finalisation time). */
export async function* mapEntries(entries: AsyncIterable<IndexEntry>, fill: (entry: IndexEntry) => IndexEntry): AsyncGenerator<IndexEntry> {
  for await (const entry of entries) yield fill(entry);
}
