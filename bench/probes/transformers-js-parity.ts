/**
 * How far transformers.js' SigLIP preprocessing (its processor on the Xenova-layout copy of the
 * tiny model) is from Pillow's: compared with ours, which is bit-identical to transformers' PIL
 * processor on the fixtures (libs/model/README.md). Prints per-image mean |Δ| and max |Δ| in
 * levels (1 level = 2/255 in normalised units) and the share of values within 2 levels.
 *
 *   npx tsx bench/probes/transformers-js-parity.ts <models root> <model name> <photo dir>
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { AutoProcessor, env, RawImage } from '@huggingface/transformers';
import { ImagePreprocessor, loadModelDir } from '@siglip-batch/model';

const [root, name, photoDir] = process.argv.slice(2) as [string, string, string];
env.allowRemoteModels = false;
env.localModelPath = root;
const processor = await AutoProcessor.from_pretrained(name, { local_files_only: true });
const info = await loadModelDir(join(root, name), { verifyContentHash: false }).catch(() => null);
const ours = new ImagePreprocessor(
  info?.preprocess ?? { height: 224, width: 224, doRescale: true, rescaleFactor: 1 / 255, doNormalize: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] },
);
const files = readdirSync(photoDir).sort();
let within = 0;
let total = 0;
let sumAbs = 0;
let maxAbs = 0;
for (const file of files) {
  const bytes = readFileSync(join(photoDir, file));
  let mine: Float32Array;
  try {
    mine = (await ours.preprocess(bytes)).pixels;
  } catch {
    continue;
  }
  let pixel_values: { data: Float32Array };
  try {
    ({ pixel_values } = (await processor(await RawImage.read(join(photoDir, file)))) as { pixel_values: { data: Float32Array } });
  } catch (error) {
    console.error(`${file.padEnd(34)} transformers.js cannot read it: ${(error as Error).message}`);
    continue;
  }
  let fileMax = 0;
  let fileSum = 0;
  for (let i = 0; i < mine.length; i++) {
    const levels = Math.abs(mine[i]! - pixel_values.data[i]!) * 127.5;
    fileSum += levels;
    if (levels > fileMax) fileMax = levels;
    if (levels <= 2.0001) within++;
  }
  total += mine.length;
  sumAbs += fileSum;
  maxAbs = Math.max(maxAbs, fileMax);
  console.error(`${file.padEnd(34)} mean ${(fileSum / mine.length).toFixed(2)} levels, max ${fileMax.toFixed(0)}`);
}
console.log(JSON.stringify({ images: total / ours.valuesPerImage, meanLevels: sumAbs / total, maxLevels: maxAbs, within2: within / total }));
