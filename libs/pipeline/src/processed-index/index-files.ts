/**
 * Reading and writing index files (libs/io `encodeIndexFileStream`: one row per entry, sorted).
 * A segment of any size is a sequence of chunk files of at most `chunkEntries` entries named by
 * their number; the pointer stores how many chunks there are. A chunk is written as its entries
 * come, one row group of {@link INDEX_ROW_GROUP_SIZE} entries at a time, so a writer holds one row
 * group whatever the segment's size.
 *
 * Beside each chunk, `<chunk>.keys.json`, its key table: the first and last uri and the rows of
 * every row group. A reader of a uri range (an incremental planning unit) reads the key tables and
 * then only the row groups that overlap the range, and stops at the first chunk past it. Chunks
 * without one (older indexes) are read whole and filtered.
 */
import { Readable } from 'node:stream';
import { z } from 'zod';
import { compareKeys, encodeIndexFile, encodeIndexFileStream, getJson, INDEX_ROW_GROUP_SIZE, putJson, readParquetBatches, type ObjectStore } from '@siglip-batch/io';
import type { IndexEntry } from './index-entry';
import { batchesOf, emptyColumns, entriesOf, pushRow, sliceColumns, type EntryColumns } from './index-batches';

/** Entries per chunk file (a writer holds one row group of it, not the chunk). */
export const DEFAULT_CHUNK_ENTRIES = 1_000_000;
/** Rows per batch when reading: a merge holds one batch per input. */
const READ_BATCH = 1024;

/** A range of uris (UTF-8 byte order): each bound optional, `from`/`upTo` inclusive, `after`/`before` exclusive. */
export interface KeyRange {
  from?: string;
  after?: string;
  upTo?: string;
  before?: string;
}

/** Whether `uri` is below the range's lower bound. */
export function belowRange(uri: string, range: KeyRange): boolean {
  return (range.from !== undefined && compareKeys(uri, range.from) < 0) || (range.after !== undefined && compareKeys(uri, range.after) <= 0);
}

/** Whether `uri` is past the range's upper bound. */
export function pastRange(uri: string, range: KeyRange): boolean {
  return (range.upTo !== undefined && compareKeys(uri, range.upTo) > 0) || (range.before !== undefined && compareKeys(uri, range.before) >= 0);
}

function bounded(range: KeyRange): boolean {
  return range.from !== undefined || range.after !== undefined || range.upTo !== undefined || range.before !== undefined;
}

const keyTableSchema = z.object({
  schemaVersion: z.literal(1),
  /** Per row group, in order: first uri, last uri, rows. */
  rowGroups: z.array(z.tuple([z.string(), z.string(), z.number().int().positive()])),
});
export type KeyTable = z.infer<typeof keyTableSchema>;

export function encodeEntries(entries: readonly IndexEntry[]): Uint8Array {
  return encodeIndexFile(columnsOf(entries));
}

function columnsOf(entries: readonly IndexEntry[]) {
  return {
    uri: entries.map((e) => e.uri),
    etag: entries.map((e) => e.etag),
    modelHash: entries.map((e) => e.modelHash),
    run: entries.map((e) => e.run),
    file: entries.map((e) => e.file),
    status: entries.map((e) => e.status),
    finalizedAt: entries.map((e) => e.finalizedAt),
  };
}

export function readIndexFile(store: ObjectStore, key: string, rowGroups?: number[]): AsyncGenerator<IndexEntry> {
  return entriesOf(readIndexBatches(store, key, rowGroups));
}

/** An index file's rows as column batches (index-batches.ts). */
export async function* readIndexBatches(store: ObjectStore, key: string, rowGroups?: number[]): AsyncGenerator<EntryColumns> {
  for await (const batch of readParquetBatches(await store.openBlob(key), { batchSize: READ_BATCH, ...(rowGroups ? { rowGroups } : {}) })) yield columnsOfBatch(batch);
}

/** The buffers of a utf8 column's chunk, as apache-arrow holds them. */
interface Utf8Data {
  readonly length: number;
  readonly nullCount: number;
  readonly valueOffsets?: Int32Array;
  readonly values?: Uint8Array;
  getValid(index: number): boolean;
}

/** A column as far as {@link columnsOfBatch} reads it. */
interface EntryVector {
  readonly data?: readonly Utf8Data[];
  get(index: number): unknown;
}

/** A record batch as far as {@link columnsOfBatch} reads it. */
interface EntryBatch {
  readonly numRows: number;
  getChild(name: string): EntryVector | null;
}

/**
 * A utf8 column's strings, decoded from its offsets and bytes. With `repeats` (columns of few
 * values: model, run, file, status, time), a value equal in bytes to the row before is that
 * row's string again, not a new one.
 */
function stringsOf(vector: EntryVector, rows: number, repeats: boolean): Array<string | null> {
  const out: Array<string | null> = [];
  for (const data of vector.data ?? []) {
    const { valueOffsets: offsets, values } = data;
    if (!offsets || !values || offsets.length < data.length + 1) {
      for (let i = 0; i < data.length; i++) out.push((vector.get(out.length) as string | null) ?? null);
      continue;
    }
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    let start = -1;
    let end = -1;
    let previous: string | null = null;
    for (let i = 0; i < data.length; i++) {
      if (data.nullCount > 0 && !data.getValid(i)) {
        out.push(null);
        continue;
      }
      const s = offsets[i]!;
      const e = offsets[i + 1]!;
      if (repeats && previous !== null && e - s === end - start && bytes.compare(bytes, s, e, start, end) === 0) {
        out.push(previous);
        continue;
      }
      previous = bytes.toString('utf8', s, e);
      start = s;
      end = e;
      out.push(previous);
    }
  }
  if (out.length !== rows) throw new Error(`index column of ${out.length} rows in a batch of ${rows}`);
  return out;
}

/**
 * A record batch of an index file or a shard's contribution as columns (a contribution's
 * `finalized_at` is empty until its run is merged: '').
 */
export function columnsOfBatch(batch: EntryBatch): EntryColumns {
  const rows = batch.numRows;
  const column = (name: string, repeats: boolean) => stringsOf(batch.getChild(name)!, rows, repeats);
  const finalizedAt = batch.getChild('finalized_at');
  return {
    length: rows,
    uri: column('uri', false) as string[],
    etag: column('etag', false),
    modelHash: column('model_hash', true) as string[],
    run: column('run', true) as string[],
    file: column('file', true) as string[],
    status: column('status', true) as Array<IndexEntry['status']>,
    finalizedAt: finalizedAt ? (stringsOf(finalizedAt, rows, true).map((t) => t ?? '')) : new Array<string>(rows).fill(''),
  };
}

/** `<base>-00003.parquet`: chunk 3 of a segment. */
export function chunkKey(base: string, chunk: number): string {
  return `${base}-${String(chunk).padStart(5, '0')}.parquet`;
}

/** `<base>-00003.keys.json`: the key table of chunk 3. */
export function keyTableKey(base: string, chunk: number): string {
  return `${base}-${String(chunk).padStart(5, '0')}.keys.json`;
}

/**
 * A segment's entries, its chunks opened one after the other (lazily: nothing is read before the
 * first pull). Given a range, only the entries in it, reading only the row groups that overlap
 * it (see the file comment).
 */
export function readChunks(store: ObjectStore, base: string, chunks: number, range: KeyRange = {}): AsyncGenerator<IndexEntry> {
  return entriesOf(readChunkBatches(store, base, chunks, range));
}

/** {@link readChunks} as column batches. */
export async function* readChunkBatches(store: ObjectStore, base: string, chunks: number, range: KeyRange = {}): AsyncGenerator<EntryColumns> {
  if (!bounded(range)) {
    for (let chunk = 0; chunk < chunks; chunk++) yield* readIndexBatches(store, chunkKey(base, chunk));
    return;
  }
  for (let chunk = 0; chunk < chunks; chunk++) {
    const table = await getJson(store, keyTableKey(base, chunk), keyTableSchema);
    let rowGroups: number[] | undefined;
    if (table) {
      if (table.rowGroups.length > 0 && pastRange(table.rowGroups[0]![0], range)) return;
      rowGroups = [];
      table.rowGroups.forEach(([first, last], i) => {
        if (!belowRange(last, range) && !pastRange(first, range)) rowGroups!.push(i);
      });
      if (rowGroups.length === 0) continue;
    }
    for await (const batch of readIndexBatches(store, chunkKey(base, chunk), rowGroups)) {
      let start = 0;
      while (start < batch.length && belowRange(batch.uri[start]!, range)) start++;
      let end = start;
      while (end < batch.length && !pastRange(batch.uri[end]!, range)) end++;
      if (end > start) yield sliceColumns(batch, start, end);
      if (end < batch.length) return;
    }
  }
}

export interface WrittenSegment {
  chunks: number;
  entries: number;
  bytes: number;
}

export interface WriteChunksOptions {
  chunkEntries?: number;
  /** Entries per row group (tests make it small). @defaultValue {@link INDEX_ROW_GROUP_SIZE} */
  rowGroupEntries?: number;
  /** Write each chunk's key table (temporary files of a merge need none). @defaultValue true */
  keyTables?: boolean;
  onBytes?(bytes: number): void;
}

/**
 * Writes a sorted stream as chunk files `<base>-<n>.parquet` (keys relative to the store) and
 * their key tables, each chunk streamed one row group at a time. An empty stream writes no chunk.
 */
export function writeChunks(store: ObjectStore, base: string, entries: AsyncIterable<IndexEntry>, options: WriteChunksOptions = {}): Promise<WrittenSegment> {
  const limit = options.chunkEntries ?? DEFAULT_CHUNK_ENTRIES;
  return writeChunkBatches(store, base, batchesOf(entries, Math.min(options.rowGroupEntries ?? INDEX_ROW_GROUP_SIZE, limit)), options);
}

/** {@link writeChunks} of a stream of column batches (of any sizes: regrouped into row groups). */
export async function writeChunkBatches(store: ObjectStore, base: string, batches: AsyncIterable<EntryColumns>, options: WriteChunksOptions = {}): Promise<WrittenSegment> {
  const limit = options.chunkEntries ?? DEFAULT_CHUNK_ENTRIES;
  const groupSize = Math.min(options.rowGroupEntries ?? INDEX_ROW_GROUP_SIZE, limit);
  const iterator = batches[Symbol.asyncIterator]();
  // The input batch being taken from, and the next row of it.
  let head = await iterator.next();
  let row = 0;
  const pull = async () => {
    while (!head.done && row >= head.value.length) {
      head = await iterator.next();
      row = 0;
    }
  };
  await pull();
  const written: WrittenSegment = { chunks: 0, entries: 0, bytes: 0 };
  try {
    while (!head.done) {
      const keys: KeyTable = { schemaVersion: 1, rowGroups: [] };
      let inChunk = 0;
      // One row group at a time, taken as the writer asks for it.
      const groups = async function* () {
        while (!head.done && inChunk < limit) {
          let group = emptyColumns();
          while (!head.done && group.length < groupSize && inChunk < limit) {
            const batch = head.value;
            const take = Math.min(batch.length - row, groupSize - group.length, limit - inChunk);
            if (group.length === 0 && take === batch.length && (take === groupSize || inChunk + take === limit)) group = batch;
            else for (let i = row; i < row + take; i++) pushRow(group, batch, i);
            row += take;
            inChunk += take;
            await pull();
          }
          keys.rowGroups.push([group.uri[0]!, group.uri[group.length - 1]!, group.length]);
          yield group;
        }
      };
      const encoded = encodeIndexFileStream(groups(), {}, groupSize);
      let size = 0;
      const counted = Readable.from(
        (async function* () {
          for await (const data of encoded as AsyncIterable<Uint8Array>) {
            size += data.length;
            yield data;
          }
        })(),
        { objectMode: false },
      );
      await store.put(chunkKey(base, written.chunks), counted, { contentType: 'application/vnd.apache.parquet' });
      if (options.keyTables !== false) size += await putKeyTable(store, keyTableKey(base, written.chunks), keys);
      written.chunks++;
      written.entries += inChunk;
      written.bytes += size;
      options.onBytes?.(size);
    }
  } finally {
    if (!head.done) await iterator.return?.();
  }
  return written;
}

async function putKeyTable(store: ObjectStore, key: string, table: KeyTable): Promise<number> {
  await putJson(store, key, table, keyTableSchema);
  return Buffer.byteLength(JSON.stringify(table));
}

/** Deletes `<base>-<n>.parquet` for every n below `chunks`. */
export async function deleteChunks(store: ObjectStore, base: string, chunks: number): Promise<void> {
  for (let chunk = 0; chunk < chunks; chunk++) {
    await store.delete(chunkKey(base, chunk));
    await store.delete(keyTableKey(base, chunk));
  }
}

