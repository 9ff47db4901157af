/**
 * Largest event-loop gap (10 ms timer) while preprocessing the fixture images 3 times, 4 at a
 * time: `ImagePreprocessor` on the main thread (before) against `PreprocessPool` (after).
 *
 *   npx tsx bench/probes/event-loop-gap.ts
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImagePreprocessor, loadModelDir, PreprocessPool } from '@siglip-batch/model';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const dir = join(ROOT, 'fixtures/images');
const images = readdirSync(dir).sort().map((f) => readFileSync(join(dir, f)));
const { preprocess } = await loadModelDir(join(ROOT, 'fixtures/models/tiny-siglip'), { verifyContentHash: false });
const local = new ImagePreprocessor(preprocess);
const pool = await PreprocessPool.start(preprocess);

async function measure(run: (bytes: Buffer) => Promise<unknown>): Promise<{ gapMs: number; rate: number }> {
  let gap = 0;
  let last = performance.now();
  const timer = setInterval(() => {
    const now = performance.now();
    gap = Math.max(gap, now - last);
    last = now;
  }, 10);
  const t0 = performance.now();
  const queue = [...images, ...images, ...images];
  await Promise.all(Array.from({ length: 4 }, async () => {
    while (queue.length > 0) await run(queue.shift()!).catch(() => undefined);
  }));
  clearInterval(timer);
  return { gapMs: gap, rate: (3 * images.length) / ((performance.now() - t0) / 1000) };
}
for (let r = 0; r < 2; r++) {
  const before = await measure((b) => local.preprocess(b));
  const after = await measure((b) => pool.preprocess(b));
  console.log(JSON.stringify({ before, after }));
}
await pool.close();
