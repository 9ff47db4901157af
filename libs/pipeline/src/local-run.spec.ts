/**
 * One-process mode's hook for a caller done with its model: called once, after every shard is
 * processed and before the run is finalised.
 */
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LoadedModel } from './loaded-model';
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
});
