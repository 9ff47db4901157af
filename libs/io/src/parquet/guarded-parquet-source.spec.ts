/**
 * A Parquet file whose bytes fail to read part-way (deleted or replaced while it is read, as
 * `compact` does beside `search`): the read fails with the store's error. Unguarded, parquet-wasm
 * panics — an uncaught `RuntimeError: unreachable` and a read that never settles — which vitest
 * would report as an unhandled error or a timeout.
 */
import { mkdtempSync, openAsBlob, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, test } from 'vitest';
import type { RandomAccessBlob } from '../object-store';
import { float32VectorColumn, int64Column, tableOf, utf8Column } from './arrow-columns';
import { encodeTable } from './parquet-encoder';
import { mergeParquetFiles } from './parquet-merge';
import { readParquetBatches, readParquetMetadata } from './parquet-reader';

const D = 4;
const ROWS = 300;
const metadata = new Map([['siglip_batch.run_id', 'g']]);
const bytes = encodeTable(
  tableOf(
    [
      utf8Column('uri', Array.from({ length: ROWS }, (_, i) => `s3://b/${i}.jpg`), false),
      int64Column('size_bytes', Array.from({ length: ROWS }, () => 1), true),
      float32VectorColumn('embedding', Float32Array.from({ length: ROWS * D }, (_, i) => i), D, ROWS),
    ],
    metadata,
  ),
  { metadata },
);
const work = mkdtempSync(join(tmpdir(), 'guarded-parquet-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The file's bytes by range; every read after the first `good` ones fails as `fault` says. */
function flaky(good: number, fault: 'reject' | 'short'): RandomAccessBlob {
  let reads = 0;
  const range = (start: number, end: number): RandomAccessBlob => ({
    size: end - start,
    slice: (a = 0, b = end - start) => range(start + a, start + Math.min(b, end - start)),
    arrayBuffer: async () => {
      if (++reads > good) {
        if (fault === 'reject') throw new Error('s3://b/out/r/part-00000000.parquet does not exist');
        return new ArrayBuffer(0);
      }
      return bytes.buffer.slice(bytes.byteOffset + start, bytes.byteOffset + end) as ArrayBuffer;
    },
  });
  return range(0, bytes.byteLength);
}

async function rows(source: RandomAccessBlob | Blob | Uint8Array): Promise<number> {
  let n = 0;
  for await (const batch of readParquetBatches(source, { batchSize: 50 })) n += batch.numRows;
  return n;
}

describe('a Parquet file that fails to read part-way', () => {
  test('fails the read with the store’s error, and the reader keeps working', async () => {
    // Two reads open the file (its footer); the column chunks come after.
    await expect(rows(flaky(2, 'reject'))).rejects.toThrow('s3://b/out/r/part-00000000.parquet does not exist');
    await expect(rows(flaky(2, 'short'))).rejects.toThrow(/got 0: the file changed while it was read/);
    await expect(readParquetMetadata(flaky(0, 'reject'))).rejects.toThrow('does not exist');
    expect(await rows(bytes)).toBe(ROWS);
    expect(await rows(flaky(1000, 'reject'))).toBe(ROWS);
  });

  test('a local file deleted after it was opened fails the read, never the process', async () => {
    const path = join(work, 'part.parquet');
    writeFileSync(path, bytes);
    const blob = await openAsBlob(path);
    unlinkSync(path);
    await expect(rows(blob)).rejects.toThrow();
    expect(await rows(bytes)).toBe(ROWS);
  });

  test('a merge whose source fails to read fails, instead of writing a short file', async () => {
    // The second source's footer reads fine when the merge checks it, then the file is gone.
    let opened = 0;
    const vanishing = async () => (opened++ === 0 ? flaky(1000, 'reject') : flaky(2, 'reject'));
    const merged = await mergeParquetFiles([async () => flaky(1000, 'reject'), vanishing]);
    const drain = async (stream: Readable) => {
      for await (const _ of stream) void _;
    };
    await expect(drain(merged)).rejects.toThrow('does not exist');
    expect(await rows(bytes)).toBe(ROWS);
  });
});
