/**
 * The shard files round-trip through our reader and are read correctly by DuckDB (architecture §3):
 * row count, `embedding::FLOAT[D]`, `array_cosine_similarity`, the errors file, key-value metadata.
 */
import { DuckDBInstance, type DuckDBConnection } from '@duckdb/node-api';
import type * as arrow from 'apache-arrow';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LocalObjectStore, METADATA_KEYS, readParquetBatches, readParquetMetadata, readVectorColumn } from '@siglip-batch/io';
import { encodeErrorsFile, encodePartFile, type PartFileInput } from './parquet-shard-writer';
import { shardFileMetadata } from './shard-schema';

const D = 8;
const LABELS = ['cat', 'dog', 'a "quoted", label'];

function normalised(rows: number, dim: number, seed: number): Float32Array {
  const out = new Float32Array(rows * dim);
  let x = seed;
  for (let r = 0; r < rows; r++) {
    let norm = 0;
    for (let d = 0; d < dim; d++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      const v = x / 2147483648 - 0.5;
      out[r * dim + d] = v;
      norm += v * v;
    }
    for (let d = 0; d < dim; d++) out[r * dim + d]! /= Math.sqrt(norm);
  }
  return out;
}

const metadata = shardFileMetadata({
  runId: 'run-1',
  model: { checkpoint: 'google/siglip-so400m-patch14-224', hash: '0123456789abcdef0123', variant: 'fp32' },
  preprocessingVersion: 'pil-bicubic-1',
  labels: LABELS.map((label) => ({ label, prompts: [], threshold: 0.1 })),
  templates: ['This is a photo of {}.'],
});

function partInput(rows: number): PartFileInput {
  return {
    uri: Array.from({ length: rows }, (_, i) => `s3://bucket/img/${String(i).padStart(4, '0')}.jpg`),
    etag: Array.from({ length: rows }, (_, i) => (i === 1 ? null : `etag-${i}`)),
    sizeBytes: Array.from({ length: rows }, (_, i) => 1000 + i),
    sha256: Array.from({ length: rows }, (_, i) => i.toString(16).padStart(64, '0')),
    width: Int32Array.from({ length: rows }, (_, i) => 640 + i),
    height: Int32Array.from({ length: rows }, (_, i) => 480 + i),
    embedding: normalised(rows, D, 7),
    dim: D,
    labels: LABELS,
    scores: Float32Array.from({ length: rows * LABELS.length }, (_, i) => (i % 10) / 10),
    tags: Array.from({ length: rows }, (_, i) => (i % 3 === 0 ? [] : i % 3 === 1 ? ['cat'] : ['dog', 'cat'])),
    extra: {
      columns: [
        { name: 'caption', type: 'string' },
        { name: 'id', type: 'int64' },
        { name: 'aesthetic', type: 'float64' },
        { name: 'nsfw', type: 'boolean' },
      ],
      values: Array.from({ length: rows }, (_, i) => [
        i === 2 ? null : `caption ${i} ünïcode`,
        i === 0 ? '9007199254740993' : i === 3 ? null : String(i),
        i === 4 ? null : i / 4,
        i === 5 ? null : i % 2 === 0,
      ]),
    },
    metadata,
  };
}

describe('part file', () => {
  test('round trip: schema, types, nullability, values, metadata, extra columns', async () => {
    const input = partInput(12);
    const bytes = encodePartFile(input);
    const meta = await readParquetMetadata(bytes);
    expect(meta.numRows).toBe(12);
    expect(meta.keyValueMetadata).toMatchObject({
      ...metadata,
      [METADATA_KEYS.schemaVersion]: '1',
      [METADATA_KEYS.fileKind]: 'part',
      [METADATA_KEYS.embeddingDim]: String(D),
    });
    expect(JSON.parse(meta.keyValueMetadata[METADATA_KEYS.labels]!).map((l: { label: string }) => l.label)).toEqual(LABELS);
    expect(JSON.parse(meta.keyValueMetadata[METADATA_KEYS.extraColumns]!)).toEqual(input.extra!.columns);

    const fields = Object.fromEntries(meta.schema.fields.map((field) => [field.name, field]));
    expect(meta.schema.fields.map((field) => field.name)).toEqual([
      'uri', 'etag', 'size_bytes', 'sha256', 'width', 'height', 'embedding', 'scores', 'tags', 'caption', 'id', 'aesthetic', 'nsfw',
    ]);
    const types = Object.fromEntries(meta.schema.fields.map((field) => [field.name, `${field.type}${field.nullable ? '?' : ''}`]));
    expect(types).toEqual({
      uri: 'Utf8',
      etag: 'Utf8?',
      size_bytes: 'Int64?',
      sha256: 'Utf8?',
      width: 'Int32?',
      height: 'Int32?',
      embedding: `FixedSizeList[${D}]<Float32>`,
      scores: `FixedSizeList[${LABELS.length}]<Float32>`,
      tags: 'List<Utf8>',
      caption: 'Utf8?',
      id: 'Int64?',
      aesthetic: 'Float64?',
      nsfw: 'Bool?',
    });
    // The vector column and its elements are non-nullable (pyarrow/LanceDB: no null vectors).
    expect(fields['embedding']!.nullable).toBe(false);
    expect((fields['embedding']!.type as arrow.FixedSizeList).children[0]!.nullable).toBe(false);
    expect((fields['scores']!.type as arrow.FixedSizeList).children[0]!.nullable).toBe(false);

    const rows: Record<string, unknown>[] = [];
    for await (const batch of readParquetBatches(bytes)) rows.push(...batch.toArray().map((row) => row.toJSON()));
    expect(rows).toHaveLength(12);
    expect(rows[0]!['uri']).toBe(input.uri[0]);
    expect(rows[1]!['etag']).toBeNull();
    expect(rows[0]!['size_bytes']).toBe(1000n);
    expect(rows[0]!['id']).toBe(9007199254740993n);
    expect(rows[3]!['id']).toBeNull();
    expect(rows[2]!['caption']).toBeNull();
    expect(rows[1]!['caption']).toBe('caption 1 ünïcode');
    expect(rows[4]!['aesthetic']).toBeNull();
    expect(rows[2]!['aesthetic']).toBe(0.5);
    expect(rows[5]!['nsfw']).toBeNull();
    expect(rows[6]!['nsfw']).toBe(true);
    expect(rows[7]!['width']).toBe(647);
    expect([...(rows[5]!['tags'] as arrow.Vector)]).toEqual(['dog', 'cat']);
    expect([...(rows[3]!['tags'] as arrow.Vector)]).toEqual([]);
    expect(Float32Array.from(rows[2]!['scores'] as arrow.Vector<arrow.Float32>)).toEqual(input.scores!.subarray(6, 9));

    const vectors = await readVectorColumn(bytes);
    expect(vectors).toMatchObject({ rows: 12, dim: D });
    expect(Buffer.from(vectors.values.buffer).equals(Buffer.from(input.embedding.buffer))).toBe(true);
  });

  test('without labels there are no scores or tags columns', async () => {
    const { scores: _s, tags: _t, labels: _l, extra: _e, ...rest } = partInput(3);
    const meta = await readParquetMetadata(encodePartFile(rest));
    expect(meta.schema.fields.map((field) => field.name)).toEqual(['uri', 'etag', 'size_bytes', 'sha256', 'width', 'height', 'embedding']);
  });

  test('refuses inputs that would make a wrong file', () => {
    const input = partInput(3);
    expect(() => encodePartFile({ ...input, embedding: new Float32Array(5) })).toThrow(/expected 3 × 8 = 24 floats/);
    expect(() => encodePartFile({ ...input, uri: ['a', null as unknown as string, 'c'] })).toThrow(/"uri" is not nullable/);
    expect(() => encodePartFile({ ...input, scores: undefined })).toThrow(/scores and tags are required/);
    expect(() => encodePartFile({ ...input, labels: [] })).toThrow(/must not be empty/);
    expect(() => encodePartFile({ ...input, extra: { columns: [{ name: 'width', type: 'string' }], values: [['a'], ['b'], ['c']] } })).toThrow(
      /collides/,
    );
    expect(() => encodePartFile({ ...input, extra: { columns: [{ name: 'n', type: 'int64' }], values: [['1'], ['x'], ['3']] } })).toThrow(
      /"n" row 1/,
    );
    expect(() => encodePartFile({ ...input, extra: { columns: [{ name: 'n', type: 'int64' }], values: [['1'], ['2']] } })).toThrow(
      /2 rows, expected 3/,
    );
  });

  test('streams record batches across row groups, with a column selection', async () => {
    const bytes = encodePartFile(partInput(1000), { rowGroupSize: 300 });
    const meta = await readParquetMetadata(bytes);
    expect(meta.numRowGroups).toBe(4);
    const sizes: number[] = [];
    for await (const batch of readParquetBatches(new Blob([bytes]), { columns: ['uri', 'embedding'], batchSize: 128 })) {
      expect(batch.schema.fields.map((field) => field.name)).toEqual(['uri', 'embedding']);
      sizes.push(batch.numRows);
    }
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(1000);
    expect(sizes.length).toBeGreaterThanOrEqual(8);
    expect(Math.max(...sizes)).toBeLessThanOrEqual(128);
  });
});

describe('errors file', () => {
  test('round trip', async () => {
    const bytes = encodeErrorsFile({
      uri: ['s3://b/x.jpg', 's3://b/y.jpg'],
      etag: ['e1', null],
      sizeBytes: [0, null],
      errorCode: ['empty_object', 'not_found'],
      error: ['s3://b/x.jpg is empty', null],
      extra: { columns: [{ name: 'caption', type: 'string' }], values: [['x'], [null]] },
      metadata,
    });
    const meta = await readParquetMetadata(bytes);
    expect(meta.keyValueMetadata[METADATA_KEYS.fileKind]).toBe('errors');
    expect(meta.schema.fields.map((field) => `${field.name}:${field.type}${field.nullable ? '?' : ''}`)).toEqual([
      'uri:Utf8',
      'etag:Utf8?',
      'size_bytes:Int64?',
      'error_code:Utf8',
      'error:Utf8?',
      'caption:Utf8?',
    ]);
    const rows = [];
    for await (const batch of readParquetBatches(bytes)) rows.push(...batch.toArray().map((row) => row.toJSON()));
    expect(rows).toEqual([
      { uri: 's3://b/x.jpg', etag: 'e1', size_bytes: 0n, error_code: 'empty_object', error: 's3://b/x.jpg is empty', caption: 'x' },
      { uri: 's3://b/y.jpg', etag: null, size_bytes: null, error_code: 'not_found', error: null, caption: null },
    ]);
  });
});

describe('DuckDB reads what we write', () => {
  let dir: string;
  let instance: DuckDBInstance;
  let duck: DuckDBConnection;
  const rows = 50;
  const input = partInput(rows);

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'siglip-duckdb-'));
    instance = await DuckDBInstance.create(':memory:');
    duck = await instance.connect();
  });
  afterAll(async () => {
    duck.closeSync();
    instance.closeSync();
    await rm(dir, { recursive: true, force: true });
  });

  async function query(sql: string): Promise<Record<string, unknown>[]> {
    return (await duck.runAndReadAll(sql)).getRowObjectsJS() as Record<string, unknown>[];
  }

  const literal = (values: ArrayLike<number>): string => `[${Array.from(values, (v) => v.toPrecision(9)).join(', ')}]::FLOAT[${values.length}]`;

  test('row count, embedding::FLOAT[D], array_cosine_similarity, types and metadata of a part file', async () => {
    const path = join(dir, 'part-00000000.parquet');
    await writeFile(path, encodePartFile(input));
    const file = `read_parquet('${path}')`;

    expect(await query(`SELECT count(*)::INTEGER AS n FROM ${file}`)).toEqual([{ n: rows }]);

    const described = await query(`DESCRIBE SELECT * FROM ${file}`);
    const types = Object.fromEntries(described.map((row) => [row['column_name'], row['column_type']]));
    expect(types).toMatchObject({ uri: 'VARCHAR', size_bytes: 'BIGINT', width: 'INTEGER', tags: 'VARCHAR[]', id: 'BIGINT', nsfw: 'BOOLEAN' });
    expect(String(types['embedding'])).toMatch(/^FLOAT\[\d*\]$/);

    const vectors = await query(`SELECT uri, embedding::FLOAT[${D}] AS e FROM ${file} ORDER BY uri`);
    expect(vectors).toHaveLength(rows);
    vectors.forEach((row, r) => {
      expect(row['uri']).toBe(input.uri[r]);
      expect(Float32Array.from(row['e'] as number[])).toEqual(input.embedding.subarray(r * D, (r + 1) * D));
    });

    const q = input.embedding.subarray(3 * D, 4 * D);
    const sims = await query(
      `SELECT uri, array_cosine_similarity(embedding::FLOAT[${D}], ${literal(q)}) AS s FROM ${file} ORDER BY uri`,
    );
    sims.forEach((row, r) => {
      let dot = 0;
      for (let d = 0; d < D; d++) dot += input.embedding[r * D + d]! * q[d]!;
      // Unit vectors: cosine = dot product, to float32 precision.
      expect(row['s'] as number).toBeCloseTo(dot, 6);
    });
    expect(sims[3]!['s'] as number).toBeCloseTo(1, 6);

    const top = await query(
      `SELECT uri FROM ${file} ORDER BY array_cosine_similarity(embedding::FLOAT[${D}], ${literal(q)}) DESC LIMIT 1`,
    );
    expect(top).toEqual([{ uri: input.uri[3] }]);

    const scores = await query(`SELECT scores::FLOAT[${LABELS.length}] AS s, tags FROM ${file} WHERE uri = '${input.uri[5]}'`);
    expect(Float32Array.from(scores[0]!['s'] as number[])).toEqual(input.scores!.subarray(15, 18));
    expect(scores[0]!['tags']).toEqual(['dog', 'cat']);

    const extra = await query(`SELECT id::VARCHAR AS id, caption, aesthetic, nsfw FROM ${file} ORDER BY uri LIMIT 3`);
    expect(extra[0]).toEqual({ id: '9007199254740993', caption: 'caption 0 ünïcode', aesthetic: 0, nsfw: true });
    expect(extra[2]).toMatchObject({ caption: null });

    const kv = await query(`SELECT decode(key) AS key, decode(value) AS value FROM parquet_kv_metadata('${path}')`);
    const kvMap = Object.fromEntries(kv.map((row) => [row['key'], row['value']]));
    expect(kvMap).toMatchObject({ ...metadata, [METADATA_KEYS.schemaVersion]: '1', [METADATA_KEYS.embeddingDim]: String(D) });

    const schema = await query(`SELECT name, repetition_type FROM parquet_schema('${path}') WHERE name IN ('uri', 'embedding')`);
    expect(Object.fromEntries(schema.map((row) => [row['name'], row['repetition_type']]))).toEqual({ uri: 'REQUIRED', embedding: 'REQUIRED' });

    const codecs = await query(`SELECT DISTINCT compression FROM parquet_metadata('${path}')`);
    expect(codecs).toEqual([{ compression: 'ZSTD' }]);
  });

  test('an errors file', async () => {
    const path = join(dir, 'errors-00000000.parquet');
    await writeFile(
      path,
      encodeErrorsFile({
        uri: ['s3://b/x.jpg', 's3://b/y.jpg', 's3://b/z.jpg'],
        etag: ['e1', null, 'e3'],
        sizeBytes: [0, null, 123456789012],
        errorCode: ['empty_object', 'not_found', 'decode_failed'],
        error: ['empty', null, 'bad JPEG'],
        metadata,
      }),
    );
    expect(await query(`SELECT uri, error_code, error, size_bytes FROM read_parquet('${path}') ORDER BY uri`)).toEqual([
      { uri: 's3://b/x.jpg', error_code: 'empty_object', error: 'empty', size_bytes: 0n },
      { uri: 's3://b/y.jpg', error_code: 'not_found', error: null, size_bytes: null },
      { uri: 's3://b/z.jpg', error_code: 'decode_failed', error: 'bad JPEG', size_bytes: 123456789012n },
    ]);
    expect(await query(`SELECT error_code, count(*)::INTEGER AS n FROM read_parquet('${path}') GROUP BY 1 ORDER BY 1`)).toHaveLength(3);
  });

  test('the same read over a file put through the local store', async () => {
    const store = new LocalObjectStore(join(dir, 'store'));
    await store.put('run-1/part-00000001.parquet', encodePartFile(input));
    const path = fileURLToPath(store.uriOf('run-1/part-00000001.parquet'));
    const q = input.embedding.subarray(0, D);
    const result = await query(
      `SELECT count(*)::INTEGER AS n, max(array_cosine_similarity(embedding::FLOAT[${D}], ${literal(q)})) AS best FROM read_parquet('${path}')`,
    );
    expect(result[0]!['n']).toBe(rows);
    expect(result[0]!['best'] as number).toBeCloseTo(1, 6);
    // And our own reader over the store's Blob (ranged reads of the file).
    const vectors = await readVectorColumn(await store.openBlob('run-1/part-00000001.parquet'));
    expect(vectors.values).toEqual(input.embedding);
  });
});
