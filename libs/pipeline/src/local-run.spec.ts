/**
 * One-process mode: its hook for a caller done with its model (called once, after every shard is
 * processed and before the run is finalised), and its label embeddings, computed while the run is
 * planned and its images decoded.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readParquetBatches } from '@siglip-batch/io';
import type { EncodedLabels, LoadedModel } from './loaded-model';
import { runLocally } from './local-run';
import { buildRunSpec } from './run-spec-builder';
import { loadSiglipModel } from './siglip-model-adapter';

const fixture = (path: string) => fileURLToPath(new URL(`../../../fixtures/${path}`, import.meta.url));

describe('runLocally', () => {
  let model: LoadedModel;
  let dir: string;
  beforeAll(async () => {
    model = await loadSiglipModel(fixture('models/tiny-siglip'), { device: 'cpu', variant: 'fp32', intraOpThreads: 1, preprocessThreads: 0 });
    dir = mkdtempSync(join(tmpdir(), 'local-run-'));
  }, 60_000);
  afterAll(async () => {
    await model?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('calls onShardsDone once, when every shard has its stats and before the manifest is written', async () => {
    const source = join(dir, 'photos');
    mkdirSync(source);
    for (const name of ['astronaut_baseline.jpg', 'chelsea.webp', 'chelsea_crop_64x64.png']) copyFileSync(fixture(`images/${name}`), join(source, name));
    const out = join(dir, 'out');
    const spec = buildRunSpec({
      runId: 'hook',
      source,
      output: out,
      model: model.ref,
      labels: [{ label: 'cat', threshold: 0.1, prompts: [] }],
      shardSize: 2,
      suffixes: [],
    });
    const seen: Array<{ stats: string[]; manifest: boolean }> = [];
    const manifest = await runLocally({
      spec,
      model,
      onShardsDone: () => seen.push({ stats: readdirSync(join(out, 'hook', '_stats')).sort(), manifest: existsSync(join(out, 'hook', '_manifest.json')) }),
    });
    expect(manifest.counts.ok).toBe(3);
    expect(seen).toEqual([{ stats: ['00000000.json', '00000001.json'], manifest: false }]);
    expect(existsSync(join(out, 'hook', '_manifest.json'))).toBe(true);
  }, 60_000);

  /** The tiny model, its label encoding held back until `release` and logged with the decodes. */
  function withHeldLabels(failure?: Error): { model: LoadedModel; events: string[]; release(): void } {
    const events: string[] = [];
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    const wrapped: LoadedModel = {
      ref: model.ref,
      preprocessing: model.preprocessing,
      embedder: {
        ...model.embedder,
        preprocess: (bytes, options) => {
          events.push('preprocess');
          return model.embedder.preprocess(bytes, options);
        },
      },
      encodeLabels: async (labels, templates): Promise<EncodedLabels> => {
        events.push('labels started');
        await held;
        events.push('labels done');
        if (failure) throw failure;
        return model.encodeLabels(labels, templates);
      },
      close: () => model.close(),
    };
    return { model: wrapped, events, release };
  }

  function photos(name: string): string {
    const source = join(dir, name);
    mkdirSync(source);
    for (const file of ['astronaut_baseline.jpg', 'chelsea.webp', 'chelsea_crop_64x64.png']) copyFileSync(fixture(`images/${file}`), join(source, file));
    return source;
  }

  /** A run of the three photos, with these labels, into its own output folder. */
  function labelledRun(runId: string, labels: string[]): { out: string; spec: ReturnType<typeof buildRunSpec> } {
    const out = join(dir, `out-${runId}`);
    const labelSpecs = labels.map((label) => ({ label, threshold: 0.1, prompts: [] }));
    return { out, spec: buildRunSpec({ runId, source: photos(`${runId}-photos`), output: out, model: model.ref, labels: labelSpecs, suffixes: [] }) };
  }

  it('decodes while the label embeddings are computed; the commit waits for them and scores every row', async () => {
    const held = withHeldLabels();
    const { out, spec } = labelledRun('held', ['cat', 'rocket']);
    const running = runLocally({ spec, model: held.model, onShardsDone: () => held.events.push('shards done') });
    // The labels are released only once the shard has started decoding without them.
    await expect.poll(() => held.events.includes('preprocess'), { timeout: 30_000 }).toBe(true);
    held.release();
    const manifest = await running;
    expect(manifest.counts.ok).toBe(3);
    expect(held.events.indexOf('labels started')).toBeLessThan(held.events.indexOf('preprocess'));
    expect(held.events.indexOf('labels done')).toBeLessThan(held.events.indexOf('shards done'));
    expect(existsSync(join(out, 'held', 'labels.parquet'))).toBe(true);
    const part = join(out, 'held', 'parts', readdirSync(join(out, 'held', 'parts'))[0]!);
    const rows: Array<{ scores: number[]; tags: string[] }> = [];
    for await (const batch of readParquetBatches(readFileSync(part), { columns: ['scores', 'tags'] })) {
      for (const row of batch.toArray() as unknown as Array<{ scores: { toArray(): Float32Array }; tags: { toArray(): string[] } }>) {
        rows.push({ scores: [...row.scores.toArray()], tags: [...row.tags.toArray()] });
      }
    }
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.scores).toHaveLength(2);
      for (const score of row.scores) expect(score).toBeGreaterThan(0);
    }
  }, 60_000);

  it('fails the run with the labels\' error when they cannot be computed, after decoding began, and writes no manifest', async () => {
    const held = withHeldLabels(new Error('text tower unavailable'));
    const { out, spec } = labelledRun('failed', ['cat']);
    const running = runLocally({ spec, model: held.model });
    running.catch(() => undefined);
    await expect.poll(() => held.events.includes('preprocess'), { timeout: 30_000 }).toBe(true);
    held.release();
    await expect(running).rejects.toThrow('text tower unavailable');
    expect(existsSync(join(out, 'failed', '_manifest.json'))).toBe(false);
    expect(existsSync(join(out, 'failed', 'labels.parquet'))).toBe(false);
  }, 60_000);

  it('reports a shard\'s objects as planned before processing it, and its objects as they are inferred', async () => {
    const { spec } = labelledRun('progress', ['cat']);
    const seen: Array<{ objectsPlanned: number; objectsDone: number; listingComplete: boolean }> = [];
    const manifest = await runLocally({ spec, model, processor: { batchSize: 1 }, onProgress: (progress) => seen.push({ ...progress }) });
    expect(manifest.counts.ok).toBe(3);
    // One shard of three: planned (3, none done) before the first image is inferred, then one by one.
    const firstDone = seen.findIndex((p) => p.objectsDone > 0);
    expect(seen.slice(0, firstDone).some((p) => p.objectsPlanned === 3 && p.objectsDone === 0)).toBe(true);
    expect([...new Set(seen.map((p) => p.objectsDone))]).toEqual([0, 1, 2, 3]);
    for (const p of seen) expect(p.objectsDone).toBeLessThanOrEqual(p.objectsPlanned);
    expect(seen.at(-1)).toEqual({ objectsPlanned: 3, objectsDone: 3, listingComplete: true });
  }, 60_000);
});
