import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '@siglip-batch/io';
import { encodePartFile, openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import { rowId, rowIdsOf, type RunManifest } from '@siglip-batch/jobs';
import { lanceRowChunks } from './lance-rows';

const dir = mkdtempSync(join(tmpdir(), 'lance-rows-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const DIM = 4;
function vectors(rows: number, seed: number): Float32Array {
  const values = new Float32Array(rows * DIM);
  for (let i = 0; i < values.length; i++) values[i] = Math.sin(seed * 31 + i) / 2;
  return values;
}

async function writePart(folder: RunFolder, key: string, uris: string[], embedding: Float32Array, extra: { dtype?: 'float16'; ids?: BigInt64Array }) {
  const rows = uris.length;
  const bytes = encodePartFile({
    ...(extra.ids ? { rowId: extra.ids } : {}),
    uri: uris,
    etag: uris.map(() => 'e'),
    sizeBytes: new Array<number>(rows).fill(1),
    sha256: uris.map(() => '0'.repeat(64)),
    width: new Array<number>(rows).fill(2),
    height: new Array<number>(rows).fill(2),
    embedding,
    dim: DIM,
    ...(extra.dtype ? { embeddingDtype: extra.dtype } : {}),
    scores: new Float32Array(rows * 2).fill(0.5),
    labels: ['cat', 'dog'],
    tags: uris.map((_, i) => (i % 2 ? ['cat'] : [])),
    metadata: {},
  });
  await folder.store.put(folder.keyOf(key), bytes);
}

describe('lanceRowChunks', () => {
  it('streams every part in chunks, casts float16 to float32, keeps or derives row ids', async () => {
    const folder = openRunFolder({ output: { store: new LocalObjectStore(dir), prefix: '' }, runId: 'run-x' });
    const a = Array.from({ length: 5 }, (_, i) => `s3://b/a${i}.png`);
    const b = Array.from({ length: 3 }, (_, i) => `s3://b/b${i}.png`);
    const stored = rowIdsOf('run-x', 0, [0, 2, 3, 5, 6]);
    await writePart(folder, 'part-00000000.parquet', a, vectors(5, 1), { dtype: 'float16', ids: stored });
    await writePart(folder, 'part-00000001.parquet', b, vectors(3, 2), {});
    const manifest = {
      runId: 'run-x',
      embeddingDim: DIM,
      parts: [
        { shard: 0, key: 'part-00000000.parquet', rows: 5 },
        { shard: 1, key: 'part-00000001.parquet', rows: 3 },
        { shard: 2, key: 'part-00000002.parquet', rows: 0 },
      ],
    } as unknown as RunManifest;
    // 3 rows of 4 float32 per chunk.
    const chunks = [];
    for await (const chunk of lanceRowChunks(folder, manifest, { chunkBytes: 3 * DIM * 4 })) chunks.push(chunk);
    expect(chunks.length).toBeGreaterThanOrEqual(2);
    const rows = chunks.flatMap((chunk) => chunk.toArray().map((row) => row.toJSON() as Record<string, unknown>));
    expect(rows.map((row) => row['uri'])).toEqual([...a, ...b]);
    expect(chunks[0]!.schema.fields.map((field) => field.name)).toEqual(['row_id', 'uri', 'embedding', 'tags', 'scores']);
    expect(String(chunks[0]!.schema.fields[2]!.type)).toBe('FixedSizeList[4]<Float32>');
    // Stored ids as they are; ids of a file without them from the row's place in its file.
    expect(rows.map((row) => row['row_id'])).toEqual([...stored, ...[0, 1, 2].map((i) => rowId('run-x', 1, i))]);
    const first = [...(rows[0]!['embedding'] as Iterable<number>)];
    const expected = vectors(5, 1).subarray(0, DIM);
    first.forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 3));
    expect([...(rows[5]!['embedding'] as Iterable<number>)]).toEqual([...vectors(3, 2).subarray(0, DIM)]);
    expect([...(rows[1]!['tags'] as Iterable<string>)]).toEqual(['cat']);
  });

  it('refuses a part whose width is not the manifest\'s', async () => {
    const folder = openRunFolder({ output: { store: new LocalObjectStore(dir), prefix: '' }, runId: 'run-y' });
    await writePart(folder, 'part-00000000.parquet', ['s3://b/x.png'], vectors(1, 3), {});
    const manifest = { runId: 'run-y', embeddingDim: 8, parts: [{ shard: 0, key: 'part-00000000.parquet', rows: 1 }] } as unknown as RunManifest;
    await expect(async () => {
      for await (const _ of lanceRowChunks(folder, manifest)) void _;
    }).rejects.toThrow(/embeddings of 4 dimensions, the manifest says 8/);
  });
});
