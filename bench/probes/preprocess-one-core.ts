/**
 * Our preprocessing (sharp decode + Pillow-exact resize + normalise, `ImagePreprocessor`) of every
 * photo in a directory, one image at a time on one core: run it under `taskset -c 0` with
 * UV_THREADPOOL_SIZE=1 (sharp's concurrency is set to 1 here). Prints images/s as JSON.
 *
 *   taskset -c 0 npx tsx bench/probes/preprocess-one-core.ts <photo dir> <model dir>
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ImagePreprocessor, loadModelDir } from '@siglip-batch/model';

const [photoDir, modelDir] = process.argv.slice(2) as [string, string];
sharp.concurrency(1);
const info = await loadModelDir(modelDir, { verifyContentHash: false });
const preprocessor = new ImagePreprocessor(info.preprocess);
const photos = readdirSync(photoDir).sort().map((f) => readFileSync(join(photoDir, f)));
for (const bytes of photos.slice(0, 5)) await preprocessor.preprocess(bytes);
const out = new Float32Array(preprocessor.valuesPerImage);
const started = performance.now();
for (const bytes of photos) await preprocessor.preprocessInto(bytes, out, 0);
console.log(JSON.stringify({ images: photos.length, rate: photos.length / ((performance.now() - started) / 1000) }));
