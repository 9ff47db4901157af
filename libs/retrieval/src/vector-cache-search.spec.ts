import { mkdtempSync, readdirSync, rmSync, truncateSync, utimesSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits, type EmbeddingDtype } from '@siglip-batch/io';
import { encodePartFile, openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';
import { readFinishedManifest } from './finished-manifest';
import { searchRun } from './run-search';
import { UNUSED_ENTRY_GRACE_MS, VECTOR_CACHE_FILES } from './vector-cache';

/**
 * The cache engine (int8 scan + exact re-rank) against a brute-force float64 reference over the
 * same float32 values, on data built to defeat an approximate ranking: a cluster of rows whose
 * scores against the query differ by less than the int8 error (near-ties), exact duplicates
 * (ties, broken by URI), and rows with one dominant component (coarse int8 scales).
 */

const DIM = 100; // not a multiple of 16: the int8 rows are padded
const work = mkdtempSync(join(tmpdir(), 'siglip-vector-search-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296 - 0.5;
  };
}

function normalize(v: Float32Array): Float32Array {
  let sum = 0;
  for (const x of v) sum += x * x;
  return v.map((x) => x / Math.sqrt(sum));
}

/** `rows` unit vectors: noise, a near-tie cluster around `anchor`, duplicates, spiky rows. */
function generate(rows: number, seed: number, anchor: Float32Array): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(rows * DIM);
  for (let r = 0; r < rows; r++) {
    const v = new Float32Array(DIM);
    if (r % 100 === 7) {
      // Within ~1e-5 of the anchor: scores against it differ far below the int8 error.
      for (let i = 0; i < DIM; i++) v[i] = anchor[i]! + 1e-5 * next();
    } else if (r % 100 === 8) {
      v.set(out.subarray((r - 1) * DIM, r * DIM)); // an exact duplicate of the previous row
    } else {
      for (let i = 0; i < DIM; i++) v[i] = next() + (i === r % DIM && r % 3 === 0 ? 25 * next() : 0);
    }
    out.set(r % 100 === 8 ? v : normalize(v), r * DIM);
  }
  return out;
}

const uriOf = (seed: number, row: number) => `s3://bucket/img-${seed}-${String(row).padStart(6, '0')}.jpg`;

interface Run {
  folder: RunFolder;
  vectors: Float32Array;
  uris: string[];
}

/** Writes `files` part files of the given rows and a manifest listing them. */
async function writeRun(runId: string, sizes: number[], seed: number, anchor: Float32Array, finalizedAt: string, dtype: EmbeddingDtype = 'float32'): Promise<Run> {
  const total = sizes.reduce((a, b) => a + b, 0);
  const generated = generate(total, seed, anchor);
  // What a float16 run stores (and its readers cast back): the reference scores those values.
  const vectors = dtype === 'float16' ? float16BitsToFloat32(float32ToFloat16Bits(generated)) : generated;
  const uris = Array.from({ length: total }, (_, r) => uriOf(seed, r));
  const folder = openRunFolder(join(work, runId));
  const parts: RunManifest['parts'] = [];
  let first = 0;
  for (const [shard, rows] of sizes.entries()) {
    const key = `part-${String(shard).padStart(8, '0')}.parquet`;
    const bytes = encodePartFile({
      uri: uris.slice(first, first + rows),
      etag: uris.slice(first, first + rows).map(() => 'e'),
      sizeBytes: new Array<number>(rows).fill(1),
      sha256: new Array<string>(rows).fill('0'.repeat(64)),
      width: new Array<number>(rows).fill(1),
      height: new Array<number>(rows).fill(1),
      embedding: generated.slice(first * DIM, (first + rows) * DIM),
      dim: DIM,
      embeddingDtype: dtype,
      metadata: {},
    });
    await folder.store.put(folder.keyOf(key), bytes);
    parts.push({ shard, key, rows });
    first += rows;
  }
  await folder.writeManifest({
    schemaVersion: 1,
    runId,
    source: 's3://bucket/',
    model: { hash: '0'.repeat(64), variant: 'fp32', checkpoint: 'test', embedDim: DIM, textLength: 16, imageSize: { height: 224, width: 224 } },
    labels: null,
    templates: ['{}'],
    embeddingDim: DIM,
    shards: sizes.length,
    parts,
    errors: [],
    labelsFile: null,
    counts: { planned: total, ok: total, error: 0, byErrorCode: {} },
    timings: { createdAt: '2026-11-28T00:00:00.000Z', listedAt: null, finalizedAt, shardMs: {} },
  });
  return { folder, vectors, uris };
}

/** Every row scored in float64 over its float32 values; best first, ties by URI. */
function reference(run: Run, query: Float32Array, k: number): Array<{ uri: string; score: number }> {
  const scored = run.uris.map((uri, r) => {
    let score = 0;
    for (let i = 0; i < DIM; i++) score += run.vectors[r * DIM + i]! * query[i]!;
    return { uri, score };
  });
  scored.sort((a, b) => b.score - a.score || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0));
  return scored.slice(0, k);
}

function expectSameTopK(actual: Array<{ uri: string; score: number }>, expected: Array<{ uri: string; score: number }>): void {
  expect(actual.map((h) => h.uri)).toEqual(expected.map((h) => h.uri));
  actual.forEach((hit, i) => expect(Math.abs(hit.score - expected[i]!.score)).toBeLessThan(1e-12));
}

describe('search cache engine: exact top-k', () => {
  const anchor = normalize(Float32Array.from({ length: DIM }, rng(99)));
  const cacheRoot = join(work, 'cache');

  it('returns the brute-force float64 top-k (uris and scores), near-ties and duplicates included', async () => {
    const run = await writeRun('exact', [1500, 1, 1700], 1, anchor, '2026-11-28T01:00:00.000Z');
    const manifest = await readFinishedManifest(run.folder);
    const queries: Array<[string, Float32Array]> = [
      // The anchor: 32 rows tie within ~1e-9 of each other at the top, duplicates among them.
      ['anchor', anchor],
      ['a stored spiky row', run.vectors.slice(3 * DIM, 4 * DIM)],
      ...[5, 6, 7].map((seed): [string, Float32Array] => [`random ${seed}`, normalize(Float32Array.from({ length: DIM }, rng(seed)))]),
    ];
    let checked = 0;
    for (const [name, query] of queries) {
      for (const k of [1, 10, 31, 600]) {
        for (const threads of [1, 2]) {
          const result = await searchRun({ folder: run.folder, manifest, query, k, cacheRoot, threads });
          const expected = reference(run, query, k);
          expect(result.hits.length, `${name} k=${k}`).toBe(k);
          expectSameTopK(result.hits, expected);
          checked++;
        }
      }
    }
    expect(checked).toBe(40);
    // The anchor's top 10 are all cluster rows, closer to each other than the int8 error: only an
    // exact re-rank orders them (and its duplicates tie, broken by URI).
    const top = reference(run, anchor, 10);
    expect(top[0]!.score - top[9]!.score).toBeLessThan(1e-6);
    const duplicates = top.filter((hit, i) => i > 0 && hit.score === top[i - 1]!.score);
    expect(duplicates.length).toBeGreaterThan(0);
    run.folder.store.close();
  });

  it('returns every row when k exceeds the run, and an empty run has no hits', async () => {
    const run = await writeRun('small', [5, 0, 3], 2, anchor, '2026-11-28T01:00:00.000Z');
    const manifest = await readFinishedManifest(run.folder);
    const result = await searchRun({ folder: run.folder, manifest, query: anchor, k: 50, cacheRoot });
    expect(result.rows).toBe(8);
    expectSameTopK(result.hits, reference(run, anchor, 50));
    run.folder.store.close();

    const empty = await writeRun('empty', [0], 3, anchor, '2026-11-28T01:00:00.000Z');
    const none = await searchRun({ folder: empty.folder, manifest: await readFinishedManifest(empty.folder), query: anchor, k: 3, cacheRoot });
    expect(none.hits).toEqual([]);
    empty.folder.store.close();
  });
});

describe('search cache engine: the cache follows the manifest', () => {
  const anchor = normalize(Float32Array.from({ length: DIM }, rng(42)));
  const cacheRoot = join(work, 'cache-stale');
  const entries = () =>
    readdirSync(cacheRoot).flatMap((folderHash) => readdirSync(join(cacheRoot, folderHash)).filter((n) => !n.startsWith('.')).map((n) => join(cacheRoot, folderHash, n)));

  it('is built on the first search, reused, rebuilt when the manifest is rewritten, and the stale entry removed once unused', async () => {
    const first = await writeRun('stale', [400, 300], 10, anchor, '2026-11-28T01:00:00.000Z');
    const manifest1 = await readFinishedManifest(first.folder);
    const query = first.vectors.slice(123 * DIM, 124 * DIM);

    const built = await searchRun({ folder: first.folder, manifest: manifest1, query, k: 5, cacheRoot });
    expect(built.cacheBuilt).toBe(true);
    expectSameTopK(built.hits, reference(first, query, 5));
    expect(built.hits[0]!.uri).toBe(uriOf(10, 123));
    const reused = await searchRun({ folder: first.folder, manifest: manifest1, query, k: 5, cacheRoot });
    expect(reused.cacheBuilt).toBe(false);
    expect(reused.hits).toEqual(built.hits);
    expect(entries()).toHaveLength(1);
    const [oldEntry] = entries();

    // The run is re-finalised with other rows under the same part keys (a re-run, a compaction).
    const second = await writeRun('stale', [250, 250, 250], 20, anchor, '2026-11-28T02:00:00.000Z');
    const manifest2 = await readFinishedManifest(second.folder);
    const rebuilt = await searchRun({ folder: second.folder, manifest: manifest2, query, k: 5, cacheRoot });
    expect(rebuilt.cacheBuilt).toBe(true);
    expect(rebuilt.rows).toBe(750);
    expectSameTopK(rebuilt.hits, reference(second, query, 5));
    expect(rebuilt.hits.every((hit) => hit.uri.includes('img-20-'))).toBe(true);
    // The old entry was used a moment ago (a search of the old manifest may still read it): kept.
    expect(entries()).toHaveLength(2);
    const newEntry = entries().find((entry) => entry !== oldEntry)!;
    // Unused for longer than the grace: the next build removes it.
    const longAgo = new Date(Date.now() - UNUSED_ENTRY_GRACE_MS - 60_000);
    utimesSync(join(oldEntry!, VECTOR_CACHE_FILES.meta), longAgo, longAgo);

    // A damaged entry (a file cut short) is never read: it is rebuilt.
    truncateSync(join(newEntry, VECTOR_CACHE_FILES.codes), 100);
    const repaired = await searchRun({ folder: second.folder, manifest: manifest2, query, k: 5, cacheRoot });
    expect(repaired.cacheBuilt).toBe(true);
    expect(repaired.hits).toEqual(rebuilt.hits);
    expect(entries()).toEqual([newEntry]);
    second.folder.store.close();
  });

  it('refuses part files that do not hold the rows the manifest lists', async () => {
    const run = await writeRun('short', [50], 30, anchor, '2026-11-28T01:00:00.000Z');
    const manifest = await readFinishedManifest(run.folder);
    const lying = { ...manifest, parts: [{ ...manifest.parts![0]!, rows: 60 }] };
    await expect(searchRun({ folder: run.folder, manifest: lying, query: anchor, k: 3, cacheRoot })).rejects.toThrow(/hold 50 rows, its manifest lists 60/);
    run.folder.store.close();
  });
});

describe('search over a float16 run', () => {
  const anchor = normalize(Float32Array.from({ length: DIM }, rng(7)));

  it('every engine casts on read: the cache engine is exact over the stored values, DuckDB and the scan agree', async () => {
    const run = await writeRun('half', [700, 600], 40, anchor, '2026-11-28T01:00:00.000Z', 'float16');
    const manifest = await readFinishedManifest(run.folder);
    const query = normalize(generate(124, 40, anchor).slice(123 * DIM, 124 * DIM));
    const expected = reference(run, query, 10);
    expect(expected[0]!.uri).toBe(uriOf(40, 123));
    const cached = await searchRun({ folder: run.folder, manifest, query, k: 10, cacheRoot: join(work, 'cache-half') });
    expectSameTopK(cached.hits, expected);
    for (const engine of ['duckdb', 'scan'] as const) {
      const result = await searchRun({ folder: run.folder, manifest, query, k: 10, engine });
      expect(result.hits.map((hit) => hit.uri), engine).toEqual(expected.map((hit) => hit.uri));
      result.hits.forEach((hit, i) => expect(Math.abs(hit.score - expected[i]!.score), engine).toBeLessThan(1e-5));
    }
    run.folder.store.close();
  });
});
