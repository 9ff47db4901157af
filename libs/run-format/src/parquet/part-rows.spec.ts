import { describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits, readParquetMetadata } from '@siglip-batch/io';
import { rowIdsOf } from '@siglip-batch/jobs';
import { encodePartFile, type PartFileInput } from './parquet-shard-writer';
import { readPartRows } from './part-rows';

/** `retag` and `latest` rewrite parts through readPartRows: row ids and float16 storage must survive. */
describe('readPartRows', () => {
  const rows = 5;
  const dim = 3;
  const input: PartFileInput = {
    rowId: rowIdsOf('r1', 9, [0, 1, 3, 4, 7]),
    uri: Array.from({ length: rows }, (_, i) => `s3://b/${i}.jpg`),
    etag: Array.from({ length: rows }, () => 'e'),
    sizeBytes: Array.from({ length: rows }, () => 10),
    sha256: Array.from({ length: rows }, () => 'f'.repeat(64)),
    width: Array.from({ length: rows }, () => 2),
    height: Array.from({ length: rows }, () => 3),
    embedding: Float32Array.from({ length: rows * dim }, (_, i) => Math.sin(i + 0.1)),
    dim,
    metadata: {},
  };

  it('reads back row ids and the dtype of a float16 file, its embeddings cast to float32', async () => {
    const bytes = encodePartFile({ ...input, embeddingDtype: 'float16' });
    const read = await readPartRows(async () => bytes);
    expect(Array.from(read.rowId!)).toEqual(Array.from(input.rowId!));
    expect(read.embeddingDtype).toBe('float16');
    expect(read.embedding).toEqual(float16BitsToFloat32(float32ToFloat16Bits(input.embedding)));
    // Rewritten as retag does: same ids, still float16.
    const { metadata: _metadata, ...columns } = read;
    const again = await readParquetMetadata(encodePartFile({ ...columns, metadata: {} }));
    expect(String(again.schema.fields.find((f) => f.name === 'embedding')!.type)).toBe(`FixedSizeList[${dim}]<Float16>`);
    expect(Array.from((await readPartRows(async () => encodePartFile({ ...columns, metadata: {} }))).rowId!)).toEqual(Array.from(input.rowId!));
  });

  it('reads a file written before row ids without any', async () => {
    const { rowId: _rowId, ...old } = input;
    const read = await readPartRows(async () => encodePartFile(old));
    expect(read.rowId).toBeUndefined();
    expect(read.embeddingDtype).toBe('float32');
    expect(read.embedding).toEqual(input.embedding);
  });
});
