/**
 * CPU per image on one core, for `bench/cpu-per-image.ts`: run it under `taskset -c 0` with
 * UV_THREADPOOL_SIZE=1 (sharp's concurrency is set to 1 here). For each class of images (a JSON
 * file: `[{ name, paths }]`), one image at a time:
 *
 * - decode: `ImagePreprocessor.decode` (sharp → 8-bit RGB at the decoded size);
 * - resize: Pillow's bicubic resampler + normalisation into the batch slot, in one WebAssembly
 *   call, on that decoded image (what `preprocessInto` runs after the decode);
 * - total: `preprocessInto` of the same bytes, timed on its own (sniff, header, decode, resize).
 *
 * Each is the mean per image of one pass over the class; the median of the passes is printed (one
 * JSON line): `passes` at 2 MP, proportionally more for smaller images (up to 3×), fewer for
 * larger (at least one). `fast` uses the preprocessor's shrink-on-load decode (`decode: { mode: 'fast', reducingGap: 2 }`).
 *
 *   taskset -c 0 npx tsx bench/probes/cpu-per-image-child.ts <model dir> <exact|fast> <classes.json> <passes>
 */
import { readFileSync } from 'node:fs';
import sharp from 'sharp';
import { ImagePreprocessor, loadModelDir, type ImagePreprocessorOptions } from '@siglip-batch/model';
import { resizeBicubicNormalizedInto } from '../../libs/model/src/pillow-resample';

const [modelDir, mode, classesFile, passesArg] = process.argv.slice(2) as [string, 'exact' | 'fast', string, string];
sharp.concurrency(1);
const passes = Math.max(1, Number(passesArg));
const info = await loadModelDir(modelDir, { verifyContentHash: false });
// The fast decode is an option of the preprocessor (shrink-on-load, then the same resampler).
const options = (mode === 'fast' ? { decode: { mode: 'fast', reducingGap: 2 } } : {}) as ImagePreprocessorOptions;
const preprocessor = new ImagePreprocessor(info.preprocess, options);
const { width, height } = info.preprocess;
const out = new Float32Array(preprocessor.valuesPerImage);
// The timing does not depend on the tables' values; the preprocessor's own are private.
const tables = new Float32Array(768);
const median = (values: number[]) => [...values].sort((a, b) => a - b)[values.length >> 1]!;

const classes = JSON.parse(readFileSync(classesFile, 'utf8')) as Array<{ name: string; megapixels: number; paths: string[] }>;
const results = [];
for (const { name, megapixels, paths } of classes) {
  // About the same time per class: `passes` at 2 MP, more for smaller images, fewer for larger.
  const classPasses = Math.min(3 * passes, Math.max(1, Math.round((passes * 2) / megapixels)));
  const images = paths.map((p) => readFileSync(p));
  await preprocessor.preprocessInto(images[0]!, out, 0);
  const decodeMs: number[] = [];
  const resizeMs: number[] = [];
  const totalMs: number[] = [];
  let decodedPixels = 0;
  for (let pass = 0; pass < classPasses; pass++) {
    let decode = 0;
    let resize = 0;
    let total = 0;
    for (const bytes of images) {
      const t0 = performance.now();
      const decoded = await preprocessor.decode(bytes);
      const t1 = performance.now();
      resizeBicubicNormalizedInto(decoded.rgb, decoded.width, decoded.height, width, height, tables, out, 0, decoded.extent);
      const t2 = performance.now();
      if (pass === 0) decodedPixels += decoded.width * decoded.height;
      // As preprocessInto does: free sharp's output now, not at the next full collection.
      (decoded.rgb.buffer as ArrayBuffer & { transfer(length: number): ArrayBuffer }).transfer(0);
      await preprocessor.preprocessInto(bytes, out, 0);
      const t3 = performance.now();
      decode += t1 - t0;
      resize += t2 - t1;
      total += t3 - t2;
    }
    decodeMs.push(decode / images.length);
    resizeMs.push(resize / images.length);
    totalMs.push(total / images.length);
  }
  results.push({ name, passes: classPasses, images: images.length, decodedMegapixels: decodedPixels / images.length / 1e6, decodeMs: median(decodeMs), resizeMs: median(resizeMs), totalMs: median(totalMs) });
}
console.log(JSON.stringify({ mode, passes, results }));
