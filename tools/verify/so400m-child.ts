/**
 * One measured step of `npm run verify:so400m`, in its own process so that its peak RSS is its
 * own (process.resourceUsage().maxRSS covers the ONNX Runtime thread too):
 *
 *   tsx tools/verify/so400m-child.ts bench  <model dir> <fp32|fp16> <images dir> <count>
 *   tsx tools/verify/so400m-child.ts parity <model dir> <fp32|fp16> <reference dir>
 *
 * Prints one JSON line on stdout.
 */
import { readdir, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { allocatePixelBatch, SiglipModel, type ModelVariant } from '@siglip-batch/model';
import { measureParity } from '../../libs/model/src/testing/parity';

const [mode, modelDir, variantArg, dir, countArg] = process.argv.slice(2);
const variant = variantArg as ModelVariant;
const rss = () => process.resourceUsage().maxRSS * 1024;

if (mode === 'bench') {
  const started = performance.now();
  const model = await SiglipModel.load(modelDir!, { variant, verifyContentHash: true });
  const loadMs = performance.now() - started;
  const rssAfterLoad = rss();
  const files = (await readdir(dir!)).sort().slice(0, Number(countArg));
  const batch = allocatePixelBatch(model.preprocessor, files.length);
  for (let i = 0; i < files.length; i++) await model.preprocessor.preprocessInto(await readFile(join(dir!, files[i]!)), batch, i);
  const embedStarted = performance.now();
  await model.embedImages(batch, files.length);
  const embedMs = performance.now() - embedStarted;
  const textStarted = performance.now();
  await model.embedTexts(['This is a photo of a cat.', 'This is a photo of a dog.', 'an astronaut riding a horse', 'a cup of coffee']);
  const textMs = performance.now() - textStarted;
  await model.close();
  console.log(JSON.stringify({ mode, variant, images: files.length, loadMs, rssAfterLoad, embedMs, textMs, peakRss: rss() }));
} else if (mode === 'parity') {
  const started = performance.now();
  const report = await measureParity(variant, { name: 'verify', modelDir: modelDir!, referenceDir: dir! });
  console.log(JSON.stringify({ mode, variant, ms: performance.now() - started, peakRss: rss(), report }));
} else {
  throw new Error(`unknown mode ${mode}: bench | parity`);
}
