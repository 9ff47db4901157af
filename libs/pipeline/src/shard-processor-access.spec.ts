/**
 * The shard processor with objects it may not read: each is a row of its own (`not_allowed`,
 * `invalid_uri`), never a failed shard, and the other objects of the shard are embedded.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore, readParquetBatches } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import type { RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import type { ImageEmbedder } from './embedder';
import { processShard } from './shard-processor';
import { SourceAccess } from './source-access';
import { StoreResolver } from './store-resolver';

let dir: string;
let folder: RunFolder;
const read: string[] = [];

/** "Images" whose bytes are a number; records every value it was given, to prove what was read. */
const embedder: ImageEmbedder = {
  embedDim: 2,
  pixelsPerImage: 1,
  preprocess: async (bytes) => {
    read.push(bytes.toString());
    return { pixels: new Float32Array([Number(bytes.toString())]), width: 1, height: 1 };
  },
  embedImages: async (pixels, count) => new Float32Array(count * 2).fill(1 / Math.SQRT2),
  isOutOfMemory: () => false,
};

function specOf(source: string, sourceKind: RunSpec['sourceKind']): RunSpec {
  return runSpecFixture({
    source,
    sourceKind,
    output: pathToFileURL(join(dir, 'out')).href,
    model: { checkpoint: 'fake', embedDim: 2 },
    shardSize: 100,
    filters: { maxBytes: 1000, maxPixels: 1000 },
  });
}

async function errorRows(): Promise<Record<string, string>> {
  const bytes = await folder.store.get(folder.keyOf('errors/errors-00000000.parquet'));
  const out: Record<string, string> = {};
  for await (const batch of readParquetBatches(bytes)) for (const row of batch.toArray()) out[String(row.uri)] = String(row.error_code);
  return out;
}

beforeEach(() => {
  read.length = 0;
  dir = mkdtempSync(join(tmpdir(), 'shard-access-'));
  mkdirSync(join(dir, 'src'));
  writeFileSync(join(dir, 'src', 'good.img'), '1');
  writeFileSync(join(dir, 'private.img'), '666');
  symlinkSync(join(dir, 'private.img'), join(dir, 'src', 'escape.img'));
  folder = openRunFolder({ output: { store: new LocalObjectStore(join(dir, 'out')), prefix: '' }, runId: 'r1' });
});

afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('processShard: objects it may not read', () => {
  it('makes a symlink out of the source and a file outside it not_allowed rows, and embeds the rest', async () => {
    const spec = specOf(join(dir, 'src'), 'file');
    const uris = ['src/good.img', 'src/escape.img', 'private.img'].map((name) => pathToFileURL(join(dir, name)).href);
    await folder.writePlan({ schemaVersion: 1, runId: 'r1', shard: 0, extraColumns: [], objects: uris.map((uri) => ({ uri, etag: null, size: null })), cursor: 'x' });
    const access = new SourceAccess(spec, { roots: [spec.source], widenHint: 'use --allow' });
    const stats = await processShard({ spec, folder, resolver: new StoreResolver(), access, embedder, scorer: null, fileMetadata: {} }, 0, { workerId: 'w', attempt: 1 });
    expect(stats).toMatchObject({ planned: 3, ok: 1, error: 2, errorCodes: { not_allowed: 2 } });
    expect(await errorRows()).toEqual({ [uris[1]!]: 'not_allowed', [uris[2]!]: 'not_allowed' });
    expect(read).toEqual(['1']);
  });

  it('makes local paths planned from an S3 manifest invalid_uri rows, even where local files are allowed', async () => {
    const spec = specOf('s3://bkt/lists/m.txt', 'manifest-text');
    const uris = [join(dir, 'private.img'), pathToFileURL(join(dir, 'src', 'good.img')).href];
    await folder.writePlan({ schemaVersion: 1, runId: 'r1', shard: 0, extraColumns: [], objects: uris.map((uri) => ({ uri, etag: null, size: null })), cursor: 'x' });
    const access = new SourceAccess(spec, { roots: ['s3://bkt/lists/', pathToFileURL(dir).href], widenHint: '' });
    const stats = await processShard({ spec, folder, resolver: new StoreResolver(), access, embedder, scorer: null, fileMetadata: {} }, 0, { workerId: 'w', attempt: 1 });
    expect(stats).toMatchObject({ planned: 2, ok: 0, error: 2, errorCodes: { invalid_uri: 2 } });
    expect(read).toEqual([]);
  });
});
