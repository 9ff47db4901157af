/**
 * Preprocessing speed on the fixture images, side by side in one run:
 *   npx tsx libs/model/src/testing/preprocess-speed.ts
 * - ours: sharp decode (EXIF, no ICC, alpha dropped) + our Pillow-exact resampler + normalisation;
 * - the same, split into decode and resize;
 * - sharp alone resizing (`cubic`, `fit: fill`): faster, but not Pillow (architecture §2).
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { ImagePreprocessor } from '../image-preprocessor';
import { IMAGES_DIR } from './model-fixtures';

const preprocessor = new ImagePreprocessor({
  height: 224,
  width: 224,
  doRescale: true,
  rescaleFactor: 1 / 255,
  doNormalize: true,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
});
const files = readdirSync(IMAGES_DIR).sort();
const images = files.map((f) => readFileSync(join(IMAGES_DIR, f)));
const rounds = Number(process.argv[2] ?? 5);
const out = new Float32Array(preprocessor.valuesPerImage);

async function time(label: string, one: (bytes: Buffer) => Promise<void>, concurrency = 1): Promise<number> {
  await Promise.all(images.slice(0, 3).map(one)); // warm up
  const started = performance.now();
  for (let r = 0; r < rounds; r++) {
    // A lane pool of its own: libs/model imports no other lib (elsewhere, libs/io's forEachBounded).
    let next = 0;
    await Promise.all(
      Array.from({ length: concurrency }, async () => {
        while (next < images.length) await one(images[next++]!);
      }),
    );
  }
  const seconds = (performance.now() - started) / 1000;
  const rate = (rounds * images.length) / seconds;
  console.log(`${label.padEnd(58)} ${rate.toFixed(1).padStart(7)} images/s`);
  return rate;
}

let resizeMs = 0;
let decodeMs = 0;
await time('ours (decode + Pillow resize + normalise), 1 at a time', async (bytes) => {
  const t0 = performance.now();
  const decoded = await preprocessor.decode(bytes);
  const t1 = performance.now();
  preprocessor.normalizeInto(preprocessor.resize(decoded), out, 0);
  decodeMs += t1 - t0;
  resizeMs += performance.now() - t1;
});
console.log(`  of which decode ${((100 * decodeMs) / (decodeMs + resizeMs)).toFixed(0)} %, resize + normalise ${((100 * resizeMs) / (decodeMs + resizeMs)).toFixed(0)} %`);
await time('ours, 4 at a time (decodes overlap on libuv threads)', (bytes) => preprocessor.preprocessInto(bytes, out, 0).then(() => undefined), 4);
await time('sharp resize (cubic, fill) + normalise, 1 at a time', async (bytes) => {
  const { data } = await sharp(bytes, { autoOrient: true, ignoreIcc: true, pages: 1 })
    .removeAlpha()
    .toColourspace('srgb')
    .resize(224, 224, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  preprocessor.normalizeInto(new Uint8Array(data.buffer, data.byteOffset, data.length), out, 0);
});
await time('sharp resize (cubic, fill) + normalise, 4 at a time', async (bytes) => {
  const { data } = await sharp(bytes, { autoOrient: true, ignoreIcc: true, pages: 1 })
    .removeAlpha()
    .toColourspace('srgb')
    .resize(224, 224, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer({ resolveWithObject: true });
  preprocessor.normalizeInto(new Uint8Array(data.buffer, data.byteOffset, data.length), out, 0);
}, 4);
