/**
 * The preprocessing pool alone on the photo set from memory (the feed-rate rows' B), for A/B
 * trials of its settings: images/s and CPU ms per image of the whole process, per repetition.
 *
 *   npx tsx bench/probes/pool-alone.ts [reps] [exact|fast]
 */
import { readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadModelDir, PreprocessPool } from '@siglip-batch/model';
import { makePhotoSet } from '../photo-set';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const PHOTOS = join(ROOT, 'bench/out/photos');
const CORES = availableParallelism();
const REPS = Number(process.argv[2] ?? 3);
const fast = process.argv[3] === 'fast';
const names = await makePhotoSet(join(ROOT, 'fixtures/images'), PHOTOS, 320);
const photos = names.map((name) => readFileSync(join(PHOTOS, name)));
const config = (await loadModelDir(join(ROOT, 'fixtures/models/tiny-siglip'), { verifyContentHash: false })).preprocess;
const pool = await PreprocessPool.start(config, { threads: CORES, ...(fast ? { decode: { mode: 'fast', reducingGap: 2 } } : {}) });
const once = async () => {
  let next = 0;
  await Promise.all(Array.from({ length: CORES * 2 }, async () => {
    while (next < photos.length) await pool.preprocess(photos[next++]!);
  }));
};
await once();
for (let r = 0; r < REPS; r++) {
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  await once();
  const c = process.cpuUsage(c0);
  console.log(JSON.stringify({ rate: +(photos.length / ((performance.now() - t0) / 1000)).toFixed(1), cpuMs: +((c.user + c.system) / 1000 / photos.length).toFixed(2) }));
}
await pool.close();
