import { Readable } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { METADATA_KEYS, ParquetMergeError, readParquetBatches, readParquetMetadata, readVectorColumn } from '@siglip-batch/io';
import { encodeErrorsFile, encodePartFile } from './parquet-shard-writer';
import { mergeShardFiles } from './shard-merge';
import { shardFileMetadata } from './shard-schema';

const D = 6;
const metadata = shardFileMetadata({
  runId: 'run-m',
  model: { checkpoint: 'tiny', hash: 'abcdef0123456789', variant: 'fp32' },
  preprocessingVersion: 'pil-bicubic-1',
  labels: [{ label: 'cat', prompts: [], threshold: 0.1 }],
  templates: ['{}'],
});

/** Rows with awkward float values (subnormals, -0, NaN payload-free extremes) to prove bit copies. */
function part(first: number, rows: number): { bytes: Uint8Array; embedding: Float32Array } {
  const embedding = Float32Array.from({ length: rows * D }, (_, i) => [Math.fround(1e-40), -0, 3.4e38, Math.fround(Math.PI * (first + i))][i % 4]!);
  const bytes = encodePartFile({
    uri: Array.from({ length: rows }, (_, i) => `s3://b/${first + i}.jpg`),
    etag: Array.from({ length: rows }, (_, i) => (i % 2 ? null : `e${first + i}`)),
    sizeBytes: Array.from({ length: rows }, (_, i) => 100 + i),
    sha256: Array.from({ length: rows }, () => '0'.repeat(64)),
    width: Int32Array.from({ length: rows }, () => 3),
    height: Int32Array.from({ length: rows }, () => 4),
    embedding,
    dim: D,
    labels: ['cat'],
    scores: Float32Array.from({ length: rows }, (_, i) => i / 10),
    tags: Array.from({ length: rows }, (_, i) => (i % 2 ? ['cat'] : [])),
    metadata,
  });
  return { bytes, embedding };
}

async function collect(stream: Readable): Promise<Uint8Array> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(Buffer.from(chunk as Uint8Array));
  return Buffer.concat(chunks);
}

const blobOf = (bytes: Uint8Array) => () => Promise.resolve(new Blob([bytes]));

describe('mergeShardFiles', () => {
  test('concatenates part files row for row: every bit of every embedding, same metadata, small row groups', async () => {
    const files = [part(0, 5), part(5, 7), part(12, 1)];
    const merged = await collect(await mergeShardFiles(files.map((f) => blobOf(f.bytes)), { rowGroupSize: 4 }));
    const meta = await readParquetMetadata(merged);
    expect(meta.numRows).toBe(13);
    expect(meta.numRowGroups).toBe(4);
    expect(meta.keyValueMetadata).toEqual((await readParquetMetadata(files[0]!.bytes)).keyValueMetadata);
    expect(meta.keyValueMetadata[METADATA_KEYS.fileKind]).toBe('part');
    const vectors = await readVectorColumn(merged);
    const expected = new Uint8Array(Buffer.concat(files.map((f) => Buffer.from(f.embedding.buffer))));
    expect(Buffer.from(vectors.values.buffer).equals(Buffer.from(expected))).toBe(true);
    const uris: string[] = [];
    for await (const batch of readParquetBatches(merged, { columns: ['uri'] })) for (const uri of batch.getChild('uri')!) uris.push(uri as string);
    expect(uris).toEqual(Array.from({ length: 13 }, (_, i) => `s3://b/${i}.jpg`));
  });

  test('refuses files of different kinds or runs', async () => {
    const errors = encodeErrorsFile({ uri: ['s3://b/x'], etag: [null], sizeBytes: [1], errorCode: ['decode_failed'], error: ['bad'], metadata });
    await expect(mergeShardFiles([blobOf(part(0, 2).bytes), blobOf(errors)])).rejects.toThrow(ParquetMergeError);
    const otherRun = encodePartFile({ ...partInputOf(), metadata: { ...metadata, [METADATA_KEYS.runId]: 'other' } });
    await expect(mergeShardFiles([blobOf(part(0, 2).bytes), blobOf(otherRun)])).rejects.toThrow(/other file metadata/);
  });
});

function partInputOf() {
  return {
    uri: ['s3://b/z.jpg'],
    etag: [null],
    sizeBytes: [1],
    sha256: ['0'.repeat(64)],
    width: [1],
    height: [1],
    embedding: new Float32Array(D),
    dim: D,
    labels: ['cat'],
    scores: new Float32Array(1),
    tags: [[]],
  };
}
