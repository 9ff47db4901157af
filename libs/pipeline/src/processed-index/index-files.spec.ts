/**
 * Index files over a real local store and real Parquet: a segment is written one row group at a
 * time while its merge reads its inputs one row group at a time, and a reader of a uri range
 * reads only the row groups that overlap it (counted in bytes read from the store).
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, readParquetMetadata, type ObjectStore, type RandomAccessBlob } from '@siglip-batch/io';
import { mergeEntries, type IndexEntry } from './index-entry';
import { chunkKey, keyTableKey, readChunks, writeChunks } from './index-files';

let dir: string;
let store: LocalObjectStore;

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'siglip-ifiles-'));
  store = new LocalObjectStore(dir);
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const uriOf = (i: number) => `s3://b/src/k${String(i).padStart(7, '0')}.jpg`;

function entry(i: number, run: string): IndexEntry {
  // ETags as S3 gives them: they do not compress, so a row group's bytes are its rows'.
  const etag = createHash('md5').update(`${run}/${i}`).digest('hex');
  return { uri: uriOf(i), etag, modelHash: 'ab'.repeat(32), run, file: 'parts/part-00000000.parquet', status: 'ok', finalizedAt: '2026-01-01T00:00:00Z' };
}

/** Entries i = start, start + step, … below end; `pulled` counts how many were taken. */
function source(start: number, end: number, step: number, run: string, counter: { pulled: number }): AsyncIterable<IndexEntry> {
  return (async function* () {
    for (let i = start; i < end; i += step) {
      counter.pulled++;
      yield entry(i, run);
    }
  })();
}

/** The store, with the bytes read through its blobs counted (and what `onPutChunk` sees of each put stream). */
function counting(inner: ObjectStore, onPutChunk?: () => void): { store: ObjectStore; read: { bytes: number } } {
  const read = { bytes: 0 };
  const counted = async (buffer: Promise<ArrayBuffer>) => {
    const bytes = await buffer;
    read.bytes += bytes.byteLength;
    return bytes;
  };
  const wrap = (blob: RandomAccessBlob): RandomAccessBlob => ({
    size: blob.size,
    slice: (start?: number, end?: number) => {
      const part = blob.slice(start, end) as { size: number; arrayBuffer(): Promise<ArrayBuffer> };
      return { size: part.size, arrayBuffer: () => counted(part.arrayBuffer()) };
    },
    arrayBuffer: () => counted(blob.arrayBuffer()),
  });
  const store = new Proxy(inner, {
    get(target, name, receiver) {
      if (name === 'openBlob') return async (key: string) => wrap(await target.openBlob(key));
      if (name === 'put' && onPutChunk) {
        return async (key: string, body: Uint8Array | NodeJS.ReadableStream, options?: object) => {
          if (body instanceof Uint8Array) return target.put(key, body, options);
          const chunks: Uint8Array[] = [];
          for await (const chunk of body as AsyncIterable<Uint8Array>) {
            onPutChunk();
            chunks.push(chunk);
          }
          return target.put(key, Buffer.concat(chunks), options);
        };
      }
      const value = Reflect.get(target, name, receiver) as unknown;
      return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
    },
  });
  return { store, read };
}

async function collect(entries: AsyncIterable<IndexEntry>): Promise<IndexEntry[]> {
  const out: IndexEntry[] = [];
  for await (const e of entries) out.push(e);
  return out;
}

describe('index files', () => {
  it('merges segments reading each a row group at a time, and writes row groups as it goes', async () => {
    const ROW_GROUP = 500;
    const N = 12_000;
    // Three sorted inputs of 4,000 entries each, interleaved (i ≡ r mod 3).
    for (let r = 0; r < 3; r++) {
      const written = await writeChunks(store, `in/seg${r}`, source(r, N, 3, `run${r}`, { pulled: 0 }), { rowGroupEntries: ROW_GROUP });
      expect(written).toMatchObject({ chunks: 1, entries: N / 3 });
      const meta = await readParquetMetadata(await store.openBlob(chunkKey(`in/seg${r}`, 0)));
      expect(meta.numRowGroups).toBe(N / 3 / ROW_GROUP);
      const keys = JSON.parse(String(await store.get(keyTableKey(`in/seg${r}`, 0)))) as { rowGroups: Array<[string, string, number]> };
      expect(keys.rowGroups).toHaveLength(N / 3 / ROW_GROUP);
      expect(keys.rowGroups[1]).toEqual([uriOf(r + 3 * ROW_GROUP), uriOf(r + 3 * (2 * ROW_GROUP - 1)), ROW_GROUP]);
    }
    let inputBytes = 0;
    for (let r = 0; r < 3; r++) inputBytes += (await store.head(chunkKey(`in/seg${r}`, 0)))!.size;

    // The merge's output pulled through a counter: how far ahead of what is written it runs.
    const merged = { pulled: 0 };
    let firstOutput: { pulled: number; read: number } | undefined;
    let outputChunks = 0;
    const counted = counting(store, () => {
      outputChunks++;
      firstOutput ??= { pulled: merged.pulled, read: counted.read.bytes };
    });
    const inputs = [0, 1, 2].map((r) => readChunks(counted.store, `in/seg${r}`, 1));
    const stream = (async function* () {
      for await (const e of mergeEntries(inputs)) {
        merged.pulled++;
        yield e;
      }
    })();
    const out = await writeChunks(counted.store, 'out/seg', stream, { rowGroupEntries: ROW_GROUP });
    expect(out).toMatchObject({ chunks: 1, entries: N });
    expect((await readParquetMetadata(await store.openBlob(chunkKey('out/seg', 0)))).numRowGroups).toBe(N / ROW_GROUP);
    // Bytes came out before the merge had taken more than a few row groups, and before it had
    // read a fifth of its inputs: neither side holds more than a few row groups or read batches.
    expect(firstOutput).toBeDefined();
    expect(firstOutput!.pulled).toBeLessThanOrEqual(4 * ROW_GROUP);
    expect(firstOutput!.read).toBeLessThan(inputBytes / 5);
    expect(outputChunks).toBeGreaterThan(N / ROW_GROUP / 2);
    const all = await collect(readChunks(store, 'out/seg', 1));
    expect(all.map((e) => e.uri)).toEqual(Array.from({ length: N }, (_, i) => uriOf(i)));
  });

  it('reads a uri range from the row groups that overlap it only, and stops at the first chunk past it', async () => {
    const ROW_GROUP = 200;
    // 4 chunks of 2,000 entries (10 row groups each).
    const written = await writeChunks(store, 'seg', source(0, 8_000, 1, 'run', { pulled: 0 }), { rowGroupEntries: ROW_GROUP, chunkEntries: 2_000 });
    expect(written).toMatchObject({ chunks: 4, entries: 8_000 });
    const whole = counting(store);
    expect(await collect(readChunks(whole.store, 'seg', 4))).toHaveLength(8_000);

    // 301 entries at the end of chunk 1, in three of its ten row groups.
    const ranged = counting(store);
    const got = await collect(readChunks(ranged.store, 'seg', 4, { after: uriOf(3_549), upTo: uriOf(3_849) }));
    expect(got.map((e) => e.uri)).toEqual(Array.from({ length: 300 }, (_, i) => uriOf(3_550 + i)));
    expect(ranged.read.bytes).toBeLessThan(whole.read.bytes / 8);

    // Inclusive and exclusive bounds; a range below or past every entry reads no row group.
    expect((await collect(readChunks(store, 'seg', 4, { from: uriOf(10), before: uriOf(13) }))).map((e) => e.uri)).toEqual([uriOf(10), uriOf(11), uriOf(12)]);
    const none = counting(store);
    expect(await collect(readChunks(none.store, 'seg', 4, { before: uriOf(0) }))).toEqual([]);
    expect(await collect(readChunks(none.store, 'seg', 4, { after: uriOf(9_000) }))).toEqual([]);
    expect(none.read.bytes).toBe(0);

    // A chunk without its key table (an older index) is read whole and filtered.
    await store.delete(keyTableKey('seg', 1));
    const old = counting(store);
    expect(await collect(readChunks(old.store, 'seg', 4, { after: uriOf(3_549), upTo: uriOf(3_849) }))).toHaveLength(300);
    expect(old.read.bytes).toBeGreaterThan(2 * ranged.read.bytes);
  });
});
