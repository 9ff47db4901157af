/**
 * Inference runs off the event loop (architecture §4): while a batch measured to take over a second
 * runs on the inference thread, a timer on the main thread keeps firing every ≤ 50 ms.
 *
 * In test/ (files one at a time) rather than beside the code: on a 2-core machine, other test
 * files running in parallel would compete with the main thread for the second core.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { PreprocessPool, SiglipModel } from '@siglip-batch/model';
import { REPO_ROOT, TINY_MODEL } from './support/cli';

let model: SiglipModel;
beforeAll(async () => {
  // One ONNX Runtime thread: the other core is left to the event loop, as on a worker whose
  // inference runs on an accelerator.
  model = await SiglipModel.load(TINY_MODEL, { intraOpThreads: 1 });
});
afterAll(async () => {
  await model?.close();
});

describe('SiglipModel', () => {
  it('keeps the event loop responsive while a batch of over a second runs', async () => {
    let count = 128;
    let elapsed = 0;
    let maxGap = 0;
    // Grow the batch until one run takes at least a second on this machine.
    while (elapsed < 1000 && count <= 4096) {
      count *= 2;
      const pixels = new Float32Array(count * model.preprocessor.valuesPerImage).fill(0.25);
      let last = performance.now();
      maxGap = 0;
      const timer = setInterval(() => {
        const now = performance.now();
        maxGap = Math.max(maxGap, now - last);
        last = now;
      }, 10);
      const started = performance.now();
      const embeddings = await model.embedImages(pixels, count);
      elapsed = performance.now() - started;
      clearInterval(timer);
      maxGap = Math.max(maxGap, performance.now() - last);
      expect(embeddings).toHaveLength(count * model.embedDim);
    }
    expect(elapsed).toBeGreaterThanOrEqual(1000);
    expect(maxGap).toBeLessThanOrEqual(50);
  });
});

describe('PreprocessPool', () => {
  it('keeps the event loop free while 12 MP images are resized', async () => {
    const pool = await PreprocessPool.start(model.preprocessor.config, { threads: 2 });
    try {
      const big = readFileSync(`${REPO_ROOT}fixtures/images/astronaut_large_4000x3000.jpg`);
      let largestGap = 0;
      let last = performance.now();
      const timer = setInterval(() => {
        const now = performance.now();
        largestGap = Math.max(largestGap, now - last);
        last = now;
      }, 5);
      await Promise.all([pool.preprocess(big), pool.preprocess(big), pool.preprocess(big)]);
      clearInterval(timer);
      // On the main thread the resampler alone blocks ~150 ms per image.
      expect(largestGap).toBeLessThan(100);
    } finally {
      await pool.close();
    }
  }, 60_000);
});
