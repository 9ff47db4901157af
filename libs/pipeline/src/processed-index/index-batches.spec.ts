/**
 * The column-batch merge of the index update: the same result as the entry merge (one entry per
 * (uri, model), the newest winning) whatever the batch boundaries, and the columns read back from
 * real Parquet as written (null ETags, non-ASCII uris, repeated values).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '@siglip-batch/io';
import { mergeEntries, type IndexEntry } from './index-entry';
import { batchesOf, entriesOf, fillFinalizedAt, mergeBatches, type EntryColumns } from './index-batches';
import { readChunkBatches, readChunks, writeChunkBatches } from './index-files';

function entry(uri: string, run: string, finalizedAt: string, modelHash = 'aa', etag: string | null = `e-${run}`): IndexEntry {
  return { uri, etag, modelHash, run, file: `parts/${run}.parquet`, status: 'ok', finalizedAt };
}

async function* from(entries: IndexEntry[]): AsyncGenerator<IndexEntry> {
  yield* entries;
}

async function collect<T>(stream: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const e of stream) out.push(e);
  return out;
}

/** Input r: uris i ≡ r (mod 3) and every fifth uri, run r, finalised on day r (run 2 newest). */
function input(r: number): IndexEntry[] {
  const out: IndexEntry[] = [];
  for (let i = 0; i < 300; i++) if (i % 3 === r || i % 5 === 0) out.push(entry(`s3://b/k${String(i).padStart(4, '0')}`, `r${r}`, `2026-01-0${r + 1}`, i % 7 === 0 ? 'bb' : 'aa'));
  return out;
}

describe('mergeBatches', () => {
  it('merges as the entry merge does, whatever the batch sizes, the newest entry winning', async () => {
    const expected = await collect(mergeEntries([0, 1, 2].map((r) => from(input(r)))));
    for (const size of [1, 7, 64, 1024]) {
      const merged = await collect(entriesOf(mergeBatches([0, 1, 2].map((r) => batchesOf(from(input(r)), size + r)), size)));
      expect(merged).toEqual(expected);
    }
    expect(expected.filter((e) => e.uri === 's3://b/k0005').map((e) => e.run)).toEqual(['r2']);
  });

  it('keeps the newer of duplicates within one input, and refuses an input out of order across batches', async () => {
    const dup = [entry('s3://b/a', 'r1', '2026-01-01'), entry('s3://b/a', 'r2', '2026-01-02'), entry('s3://b/b', 'r1', '2026-01-01')];
    expect((await collect(entriesOf(mergeBatches([batchesOf(from(dup), 1)])))).map((e) => `${e.uri} ${e.run}`)).toEqual(['s3://b/a r2', 's3://b/b r1']);
    const unsorted = [entry('s3://b/c', 'r', 'x'), entry('s3://b/d', 'r', 'x'), entry('s3://b/a', 'r', 'x')];
    await expect(collect(mergeBatches([batchesOf(from(unsorted), 2)]))).rejects.toThrow(/not sorted/);
    await expect(collect(mergeBatches([batchesOf(from(unsorted), 8)]))).rejects.toThrow(/not sorted/);
  });

  it('fills empty finalisation times only', async () => {
    const batches = fillFinalizedAt(batchesOf(from([entry('s3://b/a', 'r', ''), entry('s3://b/b', 'r', 'old')])), 'now');
    expect((await collect(entriesOf(batches))).map((e) => e.finalizedAt)).toEqual(['now', 'old']);
  });
});

describe('column batches in index files', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'siglip-ibatches-'));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('read back as written: null ETags, non-ASCII uris, row groups cut across input batches', async () => {
    const store = new LocalObjectStore(dir);
    const entries = Array.from({ length: 50 }, (_, i) => entry(`s3://b/é${String(i).padStart(3, '0')}😀`, i % 2 ? 'r1' : 'r2', '2026-01-01', 'aa', i % 4 === 0 ? null : `e${i}`));
    const written = await writeChunkBatches(store, 'seg', batchesOf(from(entries), 7), { rowGroupEntries: 10, chunkEntries: 30 });
    expect(written).toMatchObject({ chunks: 2, entries: 50 });
    expect(await collect(readChunks(store, 'seg', 2))).toEqual(entries);
    const ranged = await collect(readChunkBatches(store, 'seg', 2, { after: entries[12]!.uri, upTo: entries[33]!.uri }));
    expect(ranged.flatMap((b: EntryColumns) => b.uri)).toEqual(entries.slice(13, 34).map((e) => e.uri));
  });
});
