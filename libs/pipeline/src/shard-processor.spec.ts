/**
 * The shard processor over a real local store and real Parquet, with a small deterministic
 * embedder in place of ONNX Runtime (the model path is covered by the end-to-end tests), so
 * that the faults that cannot be made for real here are exact: out of memory for a batch, and
 * transient fetch failures.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, readParquetBatches, vectorFloats, type FetchResult, type ObjectStore } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import { rowId, type PlanFile, type RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import type { ImageEmbedder, ShardScorer } from './embedder';
import { processShard, type ShardContext } from './shard-processor';
import { PermanentShardError, TransientShardError } from './shard-errors';
import { SourceAccess } from './source-access';
import { StoreResolver } from './store-resolver';

const DIM = 4;

class OutOfMemory extends Error {}

/** Embeds "images" whose bytes are a number: pixels = that number; embedding = one-hot-ish. */
function fakeEmbedder(options: { maxBatch?: number } = {}): ImageEmbedder & { batches: number[] } {
  const batches: number[] = [];
  return {
    batches,
    embedDim: DIM,
    pixelsPerImage: 2,
    async preprocess(bytes) {
      const text = bytes.toString();
      if (text === 'broken') return { code: 'decode_failed', message: 'cannot decode' };
      const value = Number(text);
      return { pixels: new Float32Array([value, 1]), width: value, height: 1 };
    },
    async embedImages(pixels, count) {
      if (options.maxBatch !== undefined && count > options.maxBatch) throw new OutOfMemory(`batch of ${count}`);
      batches.push(count);
      const out = new Float32Array(count * DIM);
      for (let i = 0; i < count; i++) {
        const v = pixels[i * 2]!;
        out.set([Math.cos(v), Math.sin(v), 0, 0], i * DIM);
      }
      return out;
    },
    isOutOfMemory: (error) => error instanceof OutOfMemory,
  };
}

const scorer: ShardScorer = {
  labels: ['x', 'y'],
  score(embeddings, count) {
    const out = new Float32Array(count * 2);
    for (let i = 0; i < count; i++) out.set([(embeddings[i * DIM]! + 1) / 2, (embeddings[i * DIM + 1]! + 1) / 2], i * 2);
    return out;
  },
  tags: (scores, row) => (scores[row * 2]! >= 0.5 ? ['x'] : []),
};

/** A real store that reports some keys as transiently failing for their first N fetches. */
function flakyStore(inner: ObjectStore, failures: Map<string, number>): ObjectStore {
  return new Proxy(inner, {
    get(target, property, receiver) {
      if (property !== 'getMany') return Reflect.get(target, property, receiver);
      return async function* <T extends { key: string }>(items: AsyncIterable<T> | Iterable<T>, options: Parameters<ObjectStore['getMany']>[1]) {
        const passed: T[] = [];
        const failed: Array<FetchResult<T>> = [];
        for await (const item of items) {
          const left = failures.get(item.key) ?? 0;
          if (left > 0) {
            failures.set(item.key, left - 1);
            failed.push({ item, ok: false, code: 'transient', transient: true, message: '503 SlowDown' });
          } else passed.push(item);
        }
        yield* failed;
        yield* target.getMany(passed, options);
      };
    },
  });
}

let dir: string;
let folder: RunFolder;
let spec: RunSpec;

function makeSpec(): RunSpec {
  return runSpecFixture({
    source: `file://${dir}/src`,
    sourceKind: 'file',
    output: `file://${dir}/out`,
    model: { checkpoint: 'fake', embedDim: DIM, imageSize: { height: 1, width: 2 } },
    labels: [
      { label: 'x', prompts: [], threshold: 0.5 },
      { label: 'y', prompts: [], threshold: 0.5 },
    ],
    templates: ['a photo of {}.'],
    shardSize: 100,
    filters: { maxBytes: 1000, maxPixels: 1000 },
  });
}

async function writePlan(names: string[]): Promise<PlanFile> {
  const plan: PlanFile = {
    schemaVersion: 1,
    runId: 'r1',
    shard: 0,
    extraColumns: [{ name: 'caption', type: 'string' }],
    objects: names.map((name) => ({ uri: `file://${dir}/src/${name}`, etag: null, size: null, extra: [`caption ${name}`] })),
    cursor: names.at(-1)!,
  };
  await folder.writePlan(plan);
  return plan;
}

function context(embedder: ImageEmbedder, resolver = new StoreResolver()): ShardContext {
  const access = new SourceAccess(spec, { roots: [spec.source], widenHint: 'widen it' });
  return { spec, folder, resolver, access, embedder, scorer, fileMetadata: { 'siglip_batch.run_id': 'r1' } };
}

async function rows(key: string): Promise<Array<Record<string, unknown>>> {
  const bytes = await folder.store.get(folder.keyOf(key));
  const out: Array<Record<string, unknown>> = [];
  for await (const batch of readParquetBatches(bytes)) out.push(...batch.toArray().map((row) => row.toJSON() as Record<string, unknown>));
  return out;
}

// Ten good objects, a broken and an empty one in <dir>/src, and one planned but missing.
const NAMES = ['00.img', '01.img', '02.img', '03.img', '04.img', '05.img', '06.img', '07.img', '08.img', '09.img', 'bad.img', 'empty.img', 'missing.img'];

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shard-processor-'));
  mkdirSync(join(dir, 'src'));
  for (let i = 0; i < 10; i++) writeFileSync(join(dir, 'src', NAMES[i]!), String(i + 1));
  writeFileSync(join(dir, 'src', 'bad.img'), 'broken');
  writeFileSync(join(dir, 'src', 'empty.img'), '');
  folder = openRunFolder({ output: { store: new LocalObjectStore(join(dir, 'out')), prefix: '' }, runId: 'r1' });
  spec = makeSpec();
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

async function prepareSource(): Promise<string[]> {
  return NAMES;
}

describe('processShard', () => {
  it('writes one row per planned object: embedded ones in the part file, failures in the errors file', async () => {
    const names = await prepareSource();
    await writePlan(names);
    const stats = await processShard(context(fakeEmbedder()), 0, { workerId: 'w', attempt: 1, batchSize: 4 });
    expect(stats).toMatchObject({ planned: 13, ok: 10, error: 3, errorCodes: { decode_failed: 1, empty_object: 1, not_found: 1 } });
    const part = await rows('parts/part-00000000.parquet');
    // Plan order, extra columns passed through, scores and tags from the scorer.
    expect(part.map((row) => String(row['uri']).split('/').at(-1))).toEqual(names.slice(0, 10));
    expect(part[0]!['caption']).toBe('caption 00.img');
    expect(Array.from(part[0]!['embedding'] as Float32Array).slice(0, 2).map((v) => Number(v.toFixed(5)))).toEqual([
      Number(Math.cos(1).toFixed(5)),
      Number(Math.sin(1).toFixed(5)),
    ]);
    const errors = await rows('errors/errors-00000000.parquet');
    expect(Object.fromEntries(errors.map((row) => [String(row['uri']).split('/').at(-1), row['error_code']]))).toEqual({
      'bad.img': 'decode_failed',
      'empty.img': 'empty_object',
      'missing.img': 'not_found',
    });
    expect(await folder.readStats(0)).toMatchObject({ ok: 10, error: 3, part: { rows: 10 }, errors: { rows: 3 } });
    // Its contribution to the processed index (one partition's rows of it: the layout's P is 16).
    const contributed = await rows('_index/00000000.parquet');
    expect(contributed.map((row) => `${String(row['uri']).split('/').at(-1)} ${row['status']} ${row['file']}`).sort()).toEqual([
      ...names.slice(0, 10).map((n) => `${n} ok parts/part-00000000.parquet`),
      ...['bad.img', 'empty.img', 'missing.img'].map((n) => `${n} error errors/errors-00000000.parquet`),
    ].sort());
  });

  it('hands the model exactly the images of each batch, and records the SHA-256 of the bytes read', async () => {
    const names = await prepareSource();
    await writePlan(names.slice(0, 10));
    const embedder = fakeEmbedder();
    const batches: number[][] = [];
    const embed = embedder.embedImages.bind(embedder);
    embedder.embedImages = async (pixels, count) => {
      expect(pixels.length).toBe(count * 2);
      batches.push(Array.from(pixels));
      return embed(pixels, count);
    };
    await processShard(context(embedder), 0, { workerId: 'w', attempt: 1, batchSize: 4 });
    // Each batch is its images' pixels back to back ([value, 1] each), nothing else; every image once.
    expect(batches.map((b) => b.length)).toEqual([8, 8, 4]);
    const values = batches.flatMap((b) => b.filter((_, i) => i % 2 === 0));
    expect(batches.flatMap((b) => b.filter((_, i) => i % 2 === 1))).toEqual(new Array(10).fill(1));
    expect(values.sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const part = await rows('parts/part-00000000.parquet');
    expect(part.map((row) => row['sha256'])).toEqual(names.slice(0, 10).map((name) => createHash('sha256').update(readFileSync(join(dir, 'src', name))).digest('hex')));
  });

  it('packs an embedder\'s resized images as bytes: batches of uint8, each image\'s bytes once, freed once embedded', async () => {
    const names = await prepareSource();
    await writePlan(names.slice(0, 6));
    const embedder = fakeEmbedder();
    const images: Uint8Array[] = [];
    const batches: Array<{ type: string; values: number[] }> = [];
    const embed = embedder.embedImages.bind(embedder);
    const resized: ImageEmbedder = {
      ...embedder,
      pixelFormat: 'resized',
      async preprocess(bytes, options) {
        const image = await embedder.preprocess(bytes, options);
        if (!('pixels' in image)) return image;
        const pixels = Uint8Array.from(image.pixels);
        images.push(pixels);
        return { ...image, pixels };
      },
      async embedImages(pixels, count) {
        batches.push({ type: pixels.constructor.name, values: Array.from(pixels) });
        return embed(Float32Array.from(pixels), count);
      },
    };
    await processShard(context(resized), 0, { workerId: 'w', attempt: 1, batchSize: 4 });
    expect(batches.map((b) => [b.type, b.values.length])).toEqual([['Uint8Array', 8], ['Uint8Array', 4]]);
    expect(batches.flatMap((b) => b.values.filter((_, i) => i % 2 === 0)).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(images.map((image) => image.byteLength)).toEqual(new Array(6).fill(0)); // detached: freed, not left to a GC
    expect((await rows('parts/part-00000000.parquet')).length).toBe(6);
  });

  it('gives every row the id of its plan position, in whichever file it lands; float16 when the run says so', async () => {
    const names = await prepareSource();
    // Failures among the embedded objects: part rows are not plan positions.
    const order = ['00.img', 'bad.img', '01.img', 'missing.img', '02.img', '03.img'];
    expect(order.every((name) => names.includes(name))).toBe(true);
    await writePlan(order);
    spec = { ...spec, embeddingDtype: 'float16' };
    await processShard(context(fakeEmbedder()), 0, { workerId: 'w', attempt: 1 });
    const part = await rows('parts/part-00000000.parquet');
    expect(part.map((row) => row['row_id'])).toEqual([0, 2, 4, 5].map((position) => rowId('r1', 0, position)));
    expect((await rows('errors/errors-00000000.parquet')).map((row) => row['row_id'])).toEqual([1, 3].map((position) => rowId('r1', 0, position)));
    // float16 items (bits) in the file, within half precision of cos(1), sin(1).
    const bytes = await folder.store.get(folder.keyOf('parts/part-00000000.parquet'));
    for await (const batch of readParquetBatches(bytes)) {
      const data = batch.getChild('embedding')!.data[0]!;
      expect(String(data.type)).toBe(`FixedSizeList[${DIM}]<Float16>`);
      expect(vectorFloats(data, DIM)[0]).toBeCloseTo(Math.cos(1), 3);
      expect(vectorFloats(data, DIM)[1]).toBeCloseTo(Math.sin(1), 3);
    }
  });

  it('splits a batch that does not fit in memory and retries the halves', async () => {
    const names = await prepareSource();
    await writePlan(names.slice(0, 10));
    const embedder = fakeEmbedder({ maxBatch: 3 });
    const stats = await processShard(context(embedder), 0, { workerId: 'w', attempt: 1, batchSize: 8 });
    expect(stats.ok).toBe(10);
    expect(Math.max(...embedder.batches)).toBeLessThanOrEqual(3);
    expect(embedder.batches.reduce((a, b) => a + b, 0)).toBe(10);
  });

  it('retries a few transient fetch failures in place and commits every object once', async () => {
    const names = await prepareSource();
    await writePlan(names.slice(0, 10));
    const resolver = new StoreResolver();
    const original = resolver.resolve.bind(resolver);
    const failures = new Map([[join(dir, 'src', '03.img').slice(1), 2]]);
    resolver.resolve = (uri) => {
      const { store, key } = original(uri);
      return { store: flakyStore(store, failures), key };
    };
    const stats = await processShard(context(fakeEmbedder(), resolver), 0, { workerId: 'w', attempt: 1, transientRetryDelayMs: 1 });
    expect(stats).toMatchObject({ ok: 10, error: 0 });
    expect((await rows('parts/part-00000000.parquet')).length).toBe(10);
  });

  it('fails the shard without committing anything when transient failures are more than a small share', async () => {
    const names = await prepareSource();
    await writePlan(names.slice(0, 10));
    const resolver = new StoreResolver();
    const original = resolver.resolve.bind(resolver);
    const failures = new Map(names.slice(0, 5).map((name) => [join(dir, 'src', name).slice(1), 99]));
    resolver.resolve = (uri) => {
      const { store, key } = original(uri);
      return { store: flakyStore(store, failures), key };
    };
    await expect(processShard(context(fakeEmbedder(), resolver), 0, { workerId: 'w', attempt: 1, transientRetryDelayMs: 1 })).rejects.toBeInstanceOf(
      TransientShardError,
    );
    expect(await folder.readStats(0)).toBeUndefined();
    expect(await folder.store.exists(folder.keyOf('parts/part-00000000.parquet'))).toBe(false);
  });

  it('removes the errors file of an earlier attempt when a retry has no errors', async () => {
    const names = await prepareSource();
    await writePlan(names.slice(0, 3));
    await folder.writeErrors(0, new Uint8Array([1, 2, 3]));
    await processShard(context(fakeEmbedder()), 0, { workerId: 'w', attempt: 2 });
    expect(await folder.store.exists(folder.keyOf('errors/errors-00000000.parquet'))).toBe(false);
    expect((await folder.readStats(0))?.attempt).toBe(2);
  });

  it('uses a plan the caller has read instead of reading it again, and refuses another shard\'s', async () => {
    const plan = await writePlan((await prepareSource()).slice(0, 3));
    // The store's plan is gone: only the given one can have been used.
    await folder.store.delete(folder.keyOf('_plan/00000000.json'));
    const stats = await processShard(context(fakeEmbedder()), 0, { workerId: 'w', attempt: 1, plan });
    expect(stats.ok + stats.error).toBe(3);
    await expect(processShard(context(fakeEmbedder()), 1, { workerId: 'w', attempt: 1, plan })).rejects.toBeInstanceOf(PermanentShardError);
  });
});
