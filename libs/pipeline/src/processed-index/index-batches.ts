/**
 * Index entries as column batches: the merges of the index update (a run's contributions into its
 * segment, a partition's compaction, a big run's split) move entries a batch at a time, as the
 * columns of a record batch, never as one object per entry. A k-way merge of batches compares the
 * heads' uris in place and copies the winner's values into the output's columns, which are
 * yielded every {@link MERGE_BATCH} rows: memory holds one batch per input and one output batch,
 * and the garbage of a merge is its batches', not an object and a promise per entry.
 */
import { compareKeys } from '@siglip-batch/io';
import type { IndexEntry } from './index-entry';

/** Sorted entries as columns (the shape the index file writer takes), `length` rows. */
export interface EntryColumns {
  length: number;
  uri: string[];
  etag: Array<string | null>;
  modelHash: string[];
  run: string[];
  file: string[];
  status: Array<IndexEntry['status']>;
  finalizedAt: string[];
}

/** Rows per batch yielded by a merge. */
export const MERGE_BATCH = 1024;

export function emptyColumns(): EntryColumns {
  return { length: 0, uri: [], etag: [], modelHash: [], run: [], file: [], status: [], finalizedAt: [] };
}

/** Appends row `i` of `from` to `to`. */
export function pushRow(to: EntryColumns, from: EntryColumns, i: number): void {
  to.uri.push(from.uri[i]!);
  to.etag.push(from.etag[i]!);
  to.modelHash.push(from.modelHash[i]!);
  to.run.push(from.run[i]!);
  to.file.push(from.file[i]!);
  to.status.push(from.status[i]!);
  to.finalizedAt.push(from.finalizedAt[i]!);
  to.length++;
}

/** Rows `start` (inclusive) to `end` (exclusive) of a batch. */
export function sliceColumns(from: EntryColumns, start: number, end: number): EntryColumns {
  if (start === 0 && end === from.length) return from;
  return {
    length: end - start,
    uri: from.uri.slice(start, end),
    etag: from.etag.slice(start, end),
    modelHash: from.modelHash.slice(start, end),
    run: from.run.slice(start, end),
    file: from.file.slice(start, end),
    status: from.status.slice(start, end),
    finalizedAt: from.finalizedAt.slice(start, end),
  };
}

function entryAt(from: EntryColumns, i: number): IndexEntry {
  return { uri: from.uri[i]!, etag: from.etag[i]!, modelHash: from.modelHash[i]!, run: from.run[i]!, file: from.file[i]!, status: from.status[i]!, finalizedAt: from.finalizedAt[i]! };
}

/** An entry stream as batches of `size` (the readers' and tests' streams, the legacy index). */
export async function* batchesOf(entries: AsyncIterable<IndexEntry>, size = MERGE_BATCH): AsyncGenerator<EntryColumns> {
  let batch = emptyColumns();
  for await (const e of entries) {
    batch.uri.push(e.uri);
    batch.etag.push(e.etag);
    batch.modelHash.push(e.modelHash);
    batch.run.push(e.run);
    batch.file.push(e.file);
    batch.status.push(e.status);
    batch.finalizedAt.push(e.finalizedAt);
    if (++batch.length === size) {
      yield batch;
      batch = emptyColumns();
    }
  }
  if (batch.length > 0) yield batch;
}

/** The entries of a batch stream, one object each (for readers that want entries). */
export async function* entriesOf(batches: AsyncIterable<EntryColumns>): AsyncGenerator<IndexEntry> {
  for await (const batch of batches) for (let i = 0; i < batch.length; i++) yield entryAt(batch, i);
}

/** Batches with every empty finalisation time set to `finalizedAt` (a run's contributions). */
export async function* fillFinalizedAt(batches: AsyncIterable<EntryColumns>, finalizedAt: string): AsyncGenerator<EntryColumns> {
  for await (const batch of batches) {
    const times = batch.finalizedAt;
    for (let i = 0; i < batch.length; i++) if (times[i] === '') times[i] = finalizedAt;
    yield batch;
  }
}

/** One input of a merge: its current batch and the next row in it. */
interface Cursor {
  iterator: AsyncIterator<EntryColumns>;
  batch: EntryColumns | undefined;
  row: number;
}

function compareRows(a: EntryColumns, i: number, b: EntryColumns, j: number): number {
  const byUri = compareKeys(a.uri[i]!, b.uri[j]!);
  if (byUri !== 0) return byUri;
  const x = a.modelHash[i]!;
  const y = b.modelHash[j]!;
  return x < y ? -1 : x > y ? 1 : 0;
}

/** Whether row j of b is the newer of two entries of the same key (index-entry.ts `newer`). */
function isNewer(a: EntryColumns, i: number, b: EntryColumns, j: number): boolean {
  const x = a.finalizedAt[i]!;
  const y = b.finalizedAt[j]!;
  return y > x || (y === x && b.run[j]! > a.run[i]!);
}

/**
 * Moves the cursor one row on; a promise only when it needs its next batch (the rows of a batch
 * are stepped without one). Checks the order: a merge of an unsorted input would silently be wrong.
 */
function step(cursor: Cursor, input: number): Promise<void> | undefined {
  const batch = cursor.batch!;
  const row = cursor.row;
  if (row + 1 < batch.length) {
    if (compareRows(batch, row, batch, row + 1) > 0) throw new Error(`index input ${input} is not sorted: ${batch.uri[row + 1]} after ${batch.uri[row]}`);
    cursor.row = row + 1;
    return undefined;
  }
  return (async () => {
    for (;;) {
      const next = await cursor.iterator.next();
      if (next.done) {
        cursor.batch = undefined;
        return;
      }
      if (next.value.length === 0) continue;
      if (compareRows(batch, row, next.value, 0) > 0) throw new Error(`index input ${input} is not sorted: ${next.value.uri[0]} after ${batch.uri[row]}`);
      cursor.batch = next.value;
      cursor.row = 0;
      return;
    }
  })();
}

/**
 * K-way merge of sorted batch streams into one sorted stream with one entry per (uri, model), the
 * newest (index-entry.ts `newer`), in batches of `size` rows. Throws when an input is out of order.
 */
export async function* mergeBatches(inputs: Array<AsyncIterable<EntryColumns>>, size = MERGE_BATCH): AsyncGenerator<EntryColumns> {
  const cursors: Cursor[] = inputs.map((input) => ({ iterator: input[Symbol.asyncIterator](), batch: undefined, row: 0 }));
  try {
    await Promise.all(
      cursors.map(async (cursor) => {
        for (;;) {
          const next = await cursor.iterator.next();
          if (next.done) return;
          if (next.value.length > 0) {
            cursor.batch = next.value;
            return;
          }
        }
      }),
    );
    let out = emptyColumns();
    for (;;) {
      let best = -1;
      for (let i = 0; i < cursors.length; i++) {
        const c = cursors[i]!;
        if (c.batch && (best === -1 || compareRows(c.batch, c.row, cursors[best]!.batch!, cursors[best]!.row) < 0)) best = i;
      }
      if (best === -1) break;
      // The winner as (batch, row): a batch is not changed once yielded, so it stays valid after
      // its cursor moves on. Every input holding the same key contributes; the newest wins.
      const head = cursors[best]!;
      let winBatch = head.batch!;
      let winRow = head.row;
      const moved = step(head, best);
      if (moved) await moved;
      for (let i = 0; i < cursors.length; i++) {
        const c = cursors[i]!;
        while (c.batch && compareRows(c.batch, c.row, winBatch, winRow) === 0) {
          if (isNewer(winBatch, winRow, c.batch, c.row)) {
            winBatch = c.batch;
            winRow = c.row;
          }
          const next = step(c, i);
          if (next) await next;
        }
      }
      pushRow(out, winBatch, winRow);
      if (out.length >= size) {
        yield out;
        out = emptyColumns();
      }
    }
    if (out.length > 0) yield out;
  } finally {
    // A consumer that stops early (a range's end) closes the inputs (their open files).
    await Promise.all(cursors.map((c) => c.iterator.return?.()));
  }
}
