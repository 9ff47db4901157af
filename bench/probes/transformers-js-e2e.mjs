// transformers.js' zero-shot image classification as its users run it: a plain Node script (no
// TypeScript loader), one process, the pipeline built once, one image per call (its documented
// use), every result written out as JSON lines. `bench/e2e-vs-transformers-js.ts` times the
// whole process, start-up included, against one `siglip-batch embed` process.
//
//   node bench/probes/transformers-js-e2e.mjs <models root> <model name> <photo dir> <labels JSON> <out file>
import { createWriteStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { env, pipeline } from '@huggingface/transformers';

const [root, name, photoDir, labelsJson, outFile] = process.argv.slice(2);
env.allowRemoteModels = false;
env.allowLocalModels = true;
env.localModelPath = root;
env.useFSCache = false;
const labels = JSON.parse(labelsJson);
const classifier = await pipeline('zero-shot-image-classification', name, { local_files_only: true, device: 'cpu', dtype: 'fp32' });
const out = createWriteStream(outFile);
let images = 0;
for (const file of readdirSync(photoDir).sort()) {
  const scores = await classifier(join(photoDir, file), labels, { hypothesis_template: 'This is a photo of {}.' });
  out.write(`${JSON.stringify({ file, scores })}\n`);
  images++;
}
await new Promise((resolve) => out.end(resolve));
console.log(JSON.stringify({ images }));
