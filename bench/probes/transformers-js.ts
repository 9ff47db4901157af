/**
 * transformers.js' zero-shot-image-classification pipeline on our tiny model's files (the
 * Xenova-layout copy made by `bench/make-tjs-model.py`), for `bench/run-all.ts`. Prints one JSON
 * line: images/s one image per call (as its documentation uses it) and batched.
 *
 *   npx tsx bench/probes/transformers-js.ts <models root> <model name> <photo dir> <labels JSON> <batch sizes, comma-separated>
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { env, pipeline } from '@huggingface/transformers';

const [root, name, photoDir, labelsJson, batches] = process.argv.slice(2) as [string, string, string, string, string];
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = root;
env.useFSCache = false;
const labels = JSON.parse(labelsJson) as string[];
const photos = readdirSync(photoDir).sort().map((f) => join(photoDir, f));
const classifier = await pipeline('zero-shot-image-classification', name, { local_files_only: true, device: 'cpu', dtype: 'fp32' });
const template = 'This is a photo of {}.';

// Warm-up (sessions, tokenizer) outside the timings; also a scores sample to compare with ours.
const sample = (await classifier(photos[0]!, labels, { hypothesis_template: template })) as Array<{ label: string; score: number }>;

let started = performance.now();
for (const photo of photos) await classifier(photo, labels, { hypothesis_template: template });
const single = photos.length / ((performance.now() - started) / 1000);

const batched: Record<string, number> = {};
for (const size of batches.split(',').map(Number)) {
  started = performance.now();
  for (let i = 0; i < photos.length; i += size) await classifier(photos.slice(i, i + size), labels, { hypothesis_template: template });
  batched[size] = photos.length / ((performance.now() - started) / 1000);
}
console.log(JSON.stringify({ images: photos.length, single, batched, sample: sample.slice(0, 3) }));
