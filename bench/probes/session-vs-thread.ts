/**
 * The inference thread (`SiglipModel.embedImages`, sessions on a worker thread, buffers
 * transferred) against a bare ONNX Runtime session on the main thread, same model file, batch
 * and threads, ready tensors, alternating: isolates what the thread adds from the pipeline.
 *
 *   npx tsx bench/probes/session-vs-thread.ts <model dir> [batch] [reps] [photo dir]
 *
 * With a photo dir, both get the same real preprocessed photos instead of a synthetic pattern.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { SiglipModel } from '@siglip-batch/model';

const [dir, batchArg, repsArg, photoDir] = process.argv.slice(2) as [string, string?, string?, string?];
const batch = Number(batchArg ?? 8);
const reps = Number(repsArg ?? 3);
const threads = availableParallelism();
const values = batch * 3 * 224 * 224;
const data = Float32Array.from({ length: values }, (_, i) => ((i * 7919) % 255) / 127.5 - 1);
const model = await SiglipModel.load(dir, { verifyContentHash: false, intraOpThreads: threads });
if (photoDir) {
  const files = readdirSync(photoDir).sort().slice(0, batch);
  for (const [i, file] of files.entries()) await model.preprocessor.preprocessInto(readFileSync(join(photoDir, file)), data, i);
}
const session = await ort.InferenceSession.create(join(dir, 'onnx/vision_model.onnx'), {
  executionProviders: ['cpu'],
  intraOpNumThreads: threads,
  interOpNumThreads: 1,
  executionMode: 'sequential',
  graphOptimizationLevel: 'all',
});
await model.embedImages(data.slice(), batch);
await session.run({ pixel_values: new ort.Tensor('float32', data, [batch, 3, 224, 224]) });
for (let r = 0; r < reps; r++) {
  let t0 = performance.now();
  await model.embedImages(data.slice(), batch);
  const thread = batch / ((performance.now() - t0) / 1000);
  t0 = performance.now();
  await session.run({ pixel_values: new ort.Tensor('float32', data, [batch, 3, 224, 224]) });
  const bare = batch / ((performance.now() - t0) / 1000);
  console.log(JSON.stringify({ batch, thread, bare, ratio: thread / bare }));
}
await model.close();
