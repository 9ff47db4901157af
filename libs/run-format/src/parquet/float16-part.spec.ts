/**
 * float16 storage of the shard files: what DuckDB and our readers see of a float16 part file and
 * of the `row_id` column (libs/io float16.spec.ts checks the binary16 conversion itself).
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { METADATA_KEYS, float16BitsToFloat32, float32ToFloat16Bits, readParquetBatches, readParquetMetadata, readVectorColumn, vectorFloats } from '@siglip-batch/io';
import { ROW_ID_LAYOUT, rowId, rowIdsOf } from '@siglip-batch/jobs';
import { encodeErrorsFile, encodePartFile, type PartFileInput } from './parquet-shard-writer';

function unitRows(rows: number, dim: number, seed: number): Float32Array {
  const out = new Float32Array(rows * dim);
  let x = seed;
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      out[r * dim + d] = x / 2147483648 - 0.5;
      norm += out[r * dim + d]! ** 2;
    }
    for (let d = 0; d < dim; d++) out[r * dim + d]! /= Math.sqrt(norm);
  }
  return out;
}

describe('float16 part files and row ids', () => {
  const D = 16;
  const rows = 40;
  let dir: string;
  let instance: DuckDBInstance;
  let duck: DuckDBConnection;
  const input: PartFileInput = {
    rowId: rowIdsOf('run-7', 3, Array.from({ length: rows }, (_, i) => i * 2)),
    uri: Array.from({ length: rows }, (_, i) => `s3://b/${String(i).padStart(3, '0')}.jpg`),
    etag: Array.from({ length: rows }, () => null),
    sizeBytes: Array.from({ length: rows }, () => 1),
    sha256: Array.from({ length: rows }, () => '0'.repeat(64)),
    width: Array.from({ length: rows }, () => 1),
    height: Array.from({ length: rows }, () => 1),
    embedding: unitRows(rows, D, 3),
    dim: D,
    metadata: {},
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'float16-'));
    instance = await DuckDBInstance.create(':memory:');
    duck = await instance.connect();
  });
  afterAll(async () => {
    duck.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  });
  const query = async (sql: string) => (await duck.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];

  test('half the embedding bytes; cosine to float32 ≥ 0.9999; DuckDB reads FLOAT, row_id BIGINT', async () => {
    const half = encodePartFile({ ...input, embeddingDtype: 'float16' });
    const full = encodePartFile(input);
    const path = join(dir, 'part-f16.parquet');
    await writeFile(path, half);

    const meta = await readParquetMetadata(half);
    expect(meta.keyValueMetadata[METADATA_KEYS.embeddingDtype]).toBe('float16');
    expect(meta.keyValueMetadata[METADATA_KEYS.rowIdLayout]).toBe(ROW_ID_LAYOUT);
    expect((await readParquetMetadata(full)).keyValueMetadata[METADATA_KEYS.embeddingDtype]).toBe('float32');
    expect(meta.schema.fields[0]!.name).toBe('row_id');
    expect(String(meta.schema.fields.find((f) => f.name === 'embedding')!.type)).toBe(`FixedSizeList[${D}]<Float16>`);

    const size = async (name: string, file: string) =>
      Number((await query(`SELECT sum(total_uncompressed_size)::BIGINT AS n FROM parquet_metadata('${file}') WHERE path_in_schema LIKE '${name}%'`))[0]!['n']);
    await writeFile(join(dir, 'part-f32.parquet'), full);
    expect(await size('embedding', path)).toBeLessThan(0.55 * (await size('embedding', join(dir, 'part-f32.parquet'))));

    const types = Object.fromEntries((await query(`DESCRIBE SELECT * FROM read_parquet('${path}')`)).map((r) => [r['column_name'], r['column_type']]));
    expect(types['row_id']).toBe('BIGINT');
    expect(String(types['embedding'])).toMatch(/^FLOAT\[\d*\]$/);

    const read = await query(`SELECT row_id, embedding::FLOAT[${D}] AS e FROM read_parquet('${path}') ORDER BY uri`);
    expect(read.map((r) => r['row_id'])).toEqual(Array.from(input.rowId!));
    expect(read[5]!['row_id']).toBe(rowId('run-7', 3, 10));
    read.forEach((row, r) => {
      const e = row['e'] as number[];
      let dot = 0;
      let norm = 0;
      for (let d = 0; d < D; d++) {
        dot += e[d]! * input.embedding[r * D + d]!;
        norm += e[d]! ** 2;
      }
      expect(dot / Math.sqrt(norm)).toBeGreaterThanOrEqual(0.9999);
    });

    // Our readers cast on read: the vector column and the batches' chunks.
    const vectors = await readVectorColumn(half);
    expect(vectors.dim).toBe(D);
    expect(vectors.values).toEqual(float16BitsToFloat32(float32ToFloat16Bits(input.embedding)));
    for await (const batch of readParquetBatches(half, { columns: ['embedding'] })) {
      expect(vectorFloats(batch.getChild('embedding')!.data[0]!, D).subarray(0, D)).toEqual(vectors.values.subarray(0, D));
    }
  });

  test('errors files carry row ids from the same id space', async () => {
    const path = join(dir, 'errors.parquet');
    await writeFile(
      path,
      encodeErrorsFile({ rowId: rowIdsOf('run-7', 3, [1, 3]), uri: ['s3://b/x', 's3://b/y'], etag: [null, null], sizeBytes: [null, null], errorCode: ['not_found', 'not_found'], error: [null, null], metadata: {} }),
    );
    expect(await query(`SELECT row_id FROM read_parquet('${path}') ORDER BY uri`)).toEqual([{ row_id: rowId('run-7', 3, 1) }, { row_id: rowId('run-7', 3, 3) }]);
    expect(() => encodeErrorsFile({ rowId: [1n], uri: ['a', 'b'], etag: [null, null], sizeBytes: [null, null], errorCode: ['x', 'x'], error: [null, null], metadata: {} })).toThrow(
      /"uri" has 2 rows, "row_id" has 1/,
    );
  });
});
