/**
 * Peak RSS of a worker process, for sizing pods (`bench/cpu-per-image.ts`): loads the model as the
 * worker does (`loadSiglipModel`: ONNX sessions on their own thread, the preprocessing pool with
 * one thread per core), encodes 12 labels as a worker does per run, then runs the worker's shard
 * handler (`processShard`: read → decode → preprocess → model → scores → Parquet) on one shard of
 * the photos in `<photo dir>` (a local directory) with `--batch` images per model call. Prints one
 * JSON line: peak RSS (`process.resourceUsage().maxRSS`, every thread of the process), RSS after
 * loading, and the load and shard times.
 *
 *   npx tsx bench/probes/worker-rss.ts <model dir> <fp32|fp16> <photo dir> <batch> <run output dir> [cpu|cuda:N]
 */
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import type { LabelSpec } from '@siglip-batch/jobs';
import type { ModelVariant } from '@siglip-batch/model';
import { buildRunSpec, createRunContext, loadSiglipModel, planRun, processShard } from '@siglip-batch/pipeline';

const [modelDir, variant, photoDir, batchArg, outDir, device = 'cpu'] = process.argv.slice(2) as [string, ModelVariant, string, string, string, string?];
const batchSize = Number(batchArg);
const maxRss = () => process.resourceUsage().maxRSS * 1024;
const LABELS: LabelSpec[] = ['cat', 'dog', 'astronaut', 'rocket', 'coffee', 'moon', 'motorcycle', 'coins', 'camera', 'galaxy', 'person', 'tree'].map((label) => ({
  label,
  prompts: [],
  threshold: 0.1,
}));

const started = performance.now();
const model = await loadSiglipModel(modelDir, { device, variant });
const loadMs = performance.now() - started;
const rssAfterLoad = process.memoryUsage().rss;
const runId = `rss-${process.pid}`;
rmSync(join(outDir, runId), { recursive: true, force: true });
const spec = buildRunSpec({ runId, source: photoDir, output: outDir, model: model.ref, labels: LABELS, shardSize: 10_000 });
const context = await createRunContext(spec, model);
await context.folder.writeRunSpec(spec);
const planned = await planRun({ folder: context.folder, spec, onShard: async () => undefined });
const shardStarted = performance.now();
const stats = await processShard(context, 0, { workerId: 'rss', attempt: 1, batchSize });
const shardMs = performance.now() - shardStarted;
context.close();
await model.close();
rmSync(join(outDir, runId), { recursive: true, force: true });
if (stats.ok !== planned.objectsPlanned) throw new Error(`${stats.ok} of ${planned.objectsPlanned} images embedded`);
console.log(JSON.stringify({ variant, images: stats.ok, batchSize, loadMs, shardMs, rssAfterLoad, peakRss: maxRss() }));
