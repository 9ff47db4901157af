/**
 * A batch whose inference fails for a reason other than memory (a broken model): the shard
 * fails with {@link PermanentShardError}, nothing is committed, and — the fault suite found
 * this — no unhandled rejection escapes while fetching is still going on (Node would end the
 * whole worker process, and the shard would crash every worker that took it).
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LocalObjectStore } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import type { RunSpec } from '@siglip-batch/jobs';
import { runSpecFixture } from '@siglip-batch/jobs/testing';
import type { ImageEmbedder } from './embedder';
import { processShard } from './shard-processor';
import { PermanentShardError } from './shard-errors';
import { SourceAccess } from './source-access';
import { StoreResolver } from './store-resolver';

let dir: string;
let folder: RunFolder;
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown) => unhandled.push(reason);

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'shard-inference-error-'));
  mkdirSync(join(dir, 'src'));
  for (let i = 0; i < 6; i++) writeFileSync(join(dir, 'src', `${i}.img`), String(i));
  folder = openRunFolder({ output: { store: new LocalObjectStore(join(dir, 'out')), prefix: '' }, runId: 'r1' });
  unhandled.length = 0;
  process.on('unhandledRejection', onUnhandled);
});

afterEach(() => {
  process.off('unhandledRejection', onUnhandled);
  rmSync(dir, { recursive: true, force: true });
});

describe('processShard with a failing model', () => {
  it('fails the shard as permanent, commits nothing, and leaves no unhandled rejection', async () => {
    const spec: RunSpec = runSpecFixture({
      source: `file://${dir}/src`,
      sourceKind: 'file',
      output: `file://${dir}/out`,
      model: { checkpoint: 'fake', embedDim: 2 },
      templates: [],
      shardSize: 100,
      filters: { maxBytes: 1000, maxPixels: 1000 },
    });
    await folder.writePlan({
      schemaVersion: 1,
      runId: 'r1',
      shard: 0,
      extraColumns: [],
      objects: Array.from({ length: 6 }, (_, i) => ({ uri: `file://${dir}/src/${i}.img`, etag: null, size: null })),
      cursor: '5.img',
    });
    const embedder: ImageEmbedder = {
      embedDim: 2,
      pixelsPerImage: 1,
      // Every object is fetched at once; slow decoding keeps the producing side waiting for
      // the decodes in flight when the first batch fails.
      preprocess: async (bytes) => {
        await new Promise((resolve) => setTimeout(resolve, 30));
        return { pixels: new Float32Array([Number(bytes.toString())]), width: 1, height: 1 };
      },
      embedImages: async () => {
        throw new Error('Non-zero status code returned while running Gemm node');
      },
      isOutOfMemory: () => false,
    };
    const shard = processShard(
      { spec, folder, resolver: new StoreResolver(), access: new SourceAccess(spec, { roots: [spec.source], widenHint: '' }), embedder, scorer: null, fileMetadata: {} },
      0,
      { workerId: 'w', attempt: 1, batchSize: 2, fetchConcurrency: 2, decodeConcurrency: 1 },
    );
    await expect(shard).rejects.toThrow(PermanentShardError);
    await expect(shard).rejects.toThrow(/inference failed: .*Gemm/);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(unhandled).toEqual([]);
    expect(await folder.readStats(0)).toBeUndefined();
  });
});
