/**
 * `npm run bench`: every performance figure of issue 7 in ONE table, measured side by side in
 * the same run on this machine (ratios, alternating A/B runs, medians of the repetitions), so
 * that load from other jobs on the machine cancels out as far as it can.
 *
 *   npx tsx bench/run-all.ts [--quick] [--reps N] [--model DIR --device cuda:0 --variant fp16
 *                            --gflops-per-image 220 --peak-tflops T]
 *
 * Needs python3 with moto (the worker reads and writes S3 through it), `.venv` with
 * transformers (the PIL processor), `models/siglip-base-random` (tools/export/README.md) and
 * `taskset`. Everything it writes goes to `bench/out/` (git-ignored): the photo set (320 JPEG
 * variants of the real fixture photos), the transformers.js copy of the tiny model, run outputs.
 */
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { createS3Client } from '@siglip-batch/io';
import { encodePartFile, type PartFileInput } from '@siglip-batch/run-format';
import type { DecodeSpec, LabelSpec } from '@siglip-batch/jobs';
import { defaultPreprocessThreads, loadModelDir, PreprocessPool } from '@siglip-batch/model';
import {
  buildRunSpec,
  createRunContext,
  loadSiglipModel,
  planRun,
  processShard,
  type LoadedModel,
  type ShardProcessorOptions,
} from '@siglip-batch/pipeline';
import { startMotoServer } from '../test/support/moto-server';
import { cpuPerImageRows } from './cpu-per-image-rows';
import { endToEndVsTransformersJs } from './e2e-vs-transformers-js';
import { makePhotoSet } from './photo-set';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    // The efficiency rows' model: another geometry / device / variant (CUDA nodes: bench/README.md).
    model: { type: 'string' },
    device: { type: 'string', default: 'cpu' },
    variant: { type: 'string', default: 'fp32' },
    // With both: model FLOP utilisation = images/s × GFLOPs per image ÷ peak.
    'gflops-per-image': { type: 'string' },
    'peak-tflops': { type: 'string' },
  },
});
const QUICK = args.quick!;
const REPS = Number(args.reps ?? (QUICK ? 1 : 3));
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'bench/out');
const PHOTOS = join(OUT, 'photos');
const TINY = join(ROOT, 'fixtures/models/tiny-siglip');
const BASE = args.model ?? join(ROOT, 'models/siglip-base-random');
const DEVICE = args.device!;
const VARIANT = args.variant as 'fp32' | 'fp16';
const VISION_FILE = VARIANT === 'fp16' ? 'onnx/vision_model_fp16.onnx' : 'onnx/vision_model.onnx';
const PHOTO_COUNT = 320;
const BASE_IMAGES = QUICK ? 32 : 64;
const CORES = availableParallelism();
const LABEL_NAMES = ['cat', 'dog', 'astronaut', 'rocket', 'coffee', 'moon', 'motorcycle', 'coins', 'camera', 'galaxy', 'person', 'tree'];
const LABELS: LabelSpec[] = LABEL_NAMES.map((label) => ({ label, prompts: [], threshold: 0.1 }));
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const FAST: DecodeSpec = { mode: 'fast', reducingGap: 2 };
process.env['AWS_ACCESS_KEY_ID'] ??= 'bench';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'bench';

// ---------------------------------------------------------------------------------------------
// helpers

const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
const fmt = (x: number, digits = 2) => x.toFixed(digits);
const loads: number[] = [];
const sampleLoad = () => loads.push(loadavg()[0]!);
const log = (message: string) => console.error(`[bench ${new Date().toISOString().slice(11, 19)}] ${message}`);

interface Row {
  measure: string;
  result: string;
  target: string;
  met: boolean | null;
}
const rows: Row[] = [];
const row = (measure: string, result: string, target = '', met: boolean | null = null) => rows.push({ measure, result, target, met });

function childJson(command: string, argv: string[], env: Record<string, string> = {}): Record<string, unknown> {
  const stdout = execFileSync(command, argv, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'], maxBuffer: 1 << 24 });
  return JSON.parse(stdout.trim().split('\n').pop()!) as Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// setup

const started = performance.now();
sampleLoad();
log(`${CORES} cores, load ${loadavg().map((l) => l.toFixed(2)).join(' ')}, ${QUICK ? 'quick, ' : ''}${REPS} repetitions`);
const photoNames = await makePhotoSet(join(ROOT, 'fixtures/images'), PHOTOS, PHOTO_COUNT);
const photoBytes = photoNames.map((name) => readFileSync(join(PHOTOS, name)));
const megapixels = await Promise.all(photoBytes.map(async (b) => {
  const m = await sharp(b).metadata();
  return (m.width * m.height) / 1e6;
}));
log(`photo set: ${photoNames.length} JPEGs, ${fmt(median(megapixels))} MP median, ${fmt(Math.max(...megapixels))} MP max`);
execFileSync(join(ROOT, '.venv/bin/python'), ['bench/make-tjs-model.py', TINY, join(OUT, 'models/tiny-siglip-tjs')], { cwd: ROOT, stdio: 'ignore' });

rmSync(join(OUT, 'runs'), { recursive: true, force: true });
const moto = await startMotoServer();
const s3 = { endpoint: moto.endpoint };
const client = createS3Client(s3);
await client.send(new CreateBucketCommand({ Bucket: 'bench' }));
for (let i = 0; i < photoNames.length; i += 16) {
  await Promise.all(
    photoNames.slice(i, i + 16).map((name, j) => client.send(new PutObjectCommand({ Bucket: 'bench', Key: `photos/${name}`, Body: photoBytes[i + j] }))),
  );
}
for (const [i, name] of photoNames.slice(0, BASE_IMAGES).entries()) {
  await client.send(new PutObjectCommand({ Bucket: 'bench', Key: `base/${name}`, Body: photoBytes[i] }));
}
for (const [i, name] of photoNames.slice(0, 8).entries()) {
  await client.send(new PutObjectCommand({ Bucket: 'bench', Key: `warm/${name}`, Body: photoBytes[i] }));
}
log(`moto at ${moto.endpoint}: ${photoNames.length} photos uploaded`);

let runNumber = 0;
/** Shard stats of the last `worker` call (its own fetch / decode / infer / write timings). */
let lastStats: { inferMs: number; seconds: number } = { inferMs: 0, seconds: 0 };
type Context = Awaited<ReturnType<typeof createRunContext>>;
const contexts = new Map<LoadedModel, Map<string, Context>>();

/**
 * The worker end to end on one shard of `count` photos: `processShard`, the worker's job
 * handler (S3 fetch → decode → preprocess → model → scores → Parquet → upload → stats); images/s.
 * The run is planned once (the producer's part), and its labels encoded once, as a worker does
 * per run (apps/worker/src/run-contexts.ts); each call re-processes the shard (outputs are derived
 * from the shard number, so it overwrites).
 */
async function worker(
  model: LoadedModel,
  source: string,
  count: number,
  processor: Omit<ShardProcessorOptions, 'workerId' | 'attempt'> = {},
  local = false,
  decode?: DecodeSpec,
): Promise<number> {
  let byModel = contexts.get(model);
  if (!byModel) contexts.set(model, (byModel = new Map()));
  const key = `${source} ${decode?.mode ?? 'exact'}`;
  let context = byModel.get(key);
  if (!context) {
    const runId = `bench-${process.pid}-${++runNumber}`;
    const output = local ? join(OUT, 'runs') : 's3://bench/runs/';
    const spec = buildRunSpec({ runId, source, output, model: model.ref, labels: LABELS, ...(decode ? { decode } : {}) });
    context = await createRunContext(spec, model, local ? {} : s3);
    await context.folder.writeRunSpec(spec);
    const planned = await planRun({ folder: context.folder, spec, ...(local ? {} : { s3 }), onShard: async () => undefined });
    if (planned.shardsPlanned !== 1 || planned.objectsPlanned !== count) throw new Error(`${source}: planned ${planned.objectsPlanned} objects in ${planned.shardsPlanned} shards`);
    byModel.set(key, context);
  }
  const t0 = performance.now();
  const stats = await processShard(context, 0, { ...processor, workerId: 'bench', attempt: 1 });
  const seconds = (performance.now() - t0) / 1000;
  if (stats.ok !== count) throw new Error(`${source}: ${stats.ok} of ${count} images embedded`);
  lastStats = { inferMs: stats.timingsMs?.['inferMs'] ?? 0, seconds };
  return count / seconds;
}

async function closeModel(model: LoadedModel): Promise<void> {
  for (const context of contexts.get(model)?.values() ?? []) context.close();
  contexts.delete(model);
  await model.close();
}

/** sharp's bare decode + resize to 224×224 raw of the same photos from memory, `CORES × 2` at once. */
async function sharpBare(): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CORES * 2 }, async () => {
      while (next < photoBytes.length) {
        await sharp(photoBytes[next++]!).resize(224, 224, { fit: 'fill', kernel: 'cubic' }).raw().toBuffer();
      }
    }),
  );
  return photoBytes.length / ((performance.now() - t0) / 1000);
}

/**
 * sharp's full-resolution decode to raw RGB alone, no resize: the least an exact preprocessing
 * must do (architecture §2: no shrink-on-load), `CORES × 2` at once.
 */
async function sharpFullDecode(): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CORES * 2 }, async () => {
      while (next < photoBytes.length) {
        await sharp(photoBytes[next++]!, { autoOrient: true, ignoreIcc: true }).removeAlpha().raw().toBuffer();
      }
    }),
  );
  return photoBytes.length / ((performance.now() - t0) / 1000);
}

/**
 * The fair denominator of the feed rate: the least preprocessing must do — sharp's decode (full
 * resolution for exact, shrink-on-load for fast) and our Pillow resize + normalisation — with no
 * fetch, hashing, model or Parquet: the preprocessing pool alone (one thread per core) on the
 * photos from memory, `CORES × 2` at once.
 */
async function preprocessBare(pool: PreprocessPool): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: CORES * 2 }, async () => {
      while (next < photoBytes.length) await pool.preprocess(photoBytes[next++]!);
    }),
  );
  return photoBytes.length / ((performance.now() - t0) / 1000);
}

/** GET of every photo from moto alone (bytes read, nothing else), 8 at once as the worker fetches. */
async function motoFetch(): Promise<number> {
  const t0 = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < photoNames.length) {
        const response = await client.send(new GetObjectCommand({ Bucket: 'bench', Key: `photos/${photoNames[next++]!}` }));
        await response.Body!.transformToByteArray();
      }
    }),
  );
  return photoNames.length / ((performance.now() - t0) / 1000);
}

const loadModel = (dir: string, preprocessThreads?: number, intraOpThreads?: number, device = 'cpu', variant: 'fp32' | 'fp16' = 'fp32') =>
  loadSiglipModel(dir, {
    device,
    variant,
    ...(preprocessThreads === undefined ? {} : { preprocessThreads }),
    ...(intraOpThreads === undefined ? {} : { intraOpThreads }),
  });

// ---------------------------------------------------------------------------------------------
// 1. feed rate (tiny model), with preprocessing on the main thread ("before") and on the pool

{
  log('feed rate: worker end to end (tiny model) ÷ sharp bare decode + resize');
  const after = await loadModel(TINY);
  const before = await loadModel(TINY, 0);
  await worker(after, 's3://bench/warm/', 8);
  await worker(before, 's3://bench/warm/', 8);
  const ratios: number[] = [];
  const ratiosBefore: number[] = [];
  const rates: number[] = [];
  const ratesBefore: number[] = [];
  const bare: number[] = [];
  const loopAfter: number[] = [];
  const loopBefore: number[] = [];
  const fullDecode: number[] = [];
  const fetchOnly: number[] = [];
  const localRates: number[] = [];
  const fastLocalRates: number[] = [];
  const bareExact: number[] = [];
  const bareFast: number[] = [];
  const exactRatios: number[] = [];
  const fastRatios: number[] = [];
  // CPU ms per image over every thread of this process (getrusage): what bounds a ratio on busy cores.
  const cpuMs: Record<'worker' | 'bare' | 'workerFast' | 'bareFast', number[]> = { worker: [], bare: [], workerFast: [], bareFast: [] };
  const withCpu = async (into: number[], run: () => Promise<number>): Promise<number> => {
    const cpu0 = process.cpuUsage();
    const rate = await run();
    const cpu = process.cpuUsage(cpu0);
    into.push((cpu.user + cpu.system) / 1000 / PHOTO_COUNT);
    return rate;
  };
  const preprocessConfig = (await loadModelDir(TINY, { verifyContentHash: false })).preprocess;
  const exactPool = await PreprocessPool.start(preprocessConfig, { threads: CORES });
  const fastPool = await PreprocessPool.start(preprocessConfig, { threads: CORES, decode: FAST });
  await worker(after, PHOTOS, PHOTO_COUNT, {}, true, FAST);
  for (let r = 0; r < REPS; r++) {
    fullDecode.push(await sharpFullDecode());
    fetchOnly.push(await motoFetch());
    // The fair feed-rate rows, A B A B: worker from a local directory ÷ the same decode + resize alone.
    const e1 = await withCpu(cpuMs.bare, () => preprocessBare(exactPool));
    const local = await withCpu(cpuMs.worker, () => worker(after, PHOTOS, PHOTO_COUNT, {}, true));
    const e2 = await preprocessBare(exactPool);
    const f1 = await withCpu(cpuMs.bareFast, () => preprocessBare(fastPool));
    const fastLocal = await withCpu(cpuMs.workerFast, () => worker(after, PHOTOS, PHOTO_COUNT, {}, true, FAST));
    const f2 = await preprocessBare(fastPool);
    localRates.push(local);
    fastLocalRates.push(fastLocal);
    bareExact.push((e1 + e2) / 2);
    bareFast.push((f1 + f2) / 2);
    exactRatios.push(local / ((e1 + e2) / 2));
    fastRatios.push(fastLocal / ((f1 + f2) / 2));
    log(`  rep ${r + 1}: local worker exact ${fmt(local, 1)} ÷ bare ${fmt((e1 + e2) / 2, 1)} img/s; fast ${fmt(fastLocal, 1)} ÷ bare ${fmt((f1 + f2) / 2, 1)} img/s`);
    const s1 = await sharpBare();
    const a = await withLoopDelay(loopAfter, () => worker(after, 's3://bench/photos/', PHOTO_COUNT));
    const b = await withLoopDelay(loopBefore, () => worker(before, 's3://bench/photos/', PHOTO_COUNT));
    const s2 = await sharpBare();
    sampleLoad();
    const s = (s1 + s2) / 2;
    bare.push(s);
    rates.push(a);
    ratesBefore.push(b);
    ratios.push(a / s);
    ratiosBefore.push(b / s);
    log(`  rep ${r + 1}: worker ${fmt(a, 1)} img/s (main-thread preprocessing ${fmt(b, 1)}), sharp bare ${fmt(s, 1)} img/s`);
  }
  await Promise.all([exactPool.close(), fastPool.close()]);
  const exactRatio = median(exactRatios);
  const fastRatio = median(fastRatios);
  row('feed rate, exact: worker e2e, local directory ÷ sharp full-res decode + our resize alone', `${fmt(exactRatio)}× (${fmt(median(localRates), 1)} ÷ ${fmt(median(bareExact), 1)} img/s)`, '≥ 0.8', exactRatio >= 0.8);
  row('feed rate, fast: worker e2e --decode fast, local directory ÷ shrink-on-load + our resize alone', `${fmt(fastRatio)}× (${fmt(median(fastLocalRates), 1)} ÷ ${fmt(median(bareFast), 1)} img/s)`, '≥ 0.8', fastRatio >= 0.8);
  row(
    '  CPU ms per image, every thread: worker ÷ bare, exact; fast',
    `${fmt(median(cpuMs.worker), 1)} ÷ ${fmt(median(cpuMs.bare), 1)}; ${fmt(median(cpuMs.workerFast), 1)} ÷ ${fmt(median(cpuMs.bareFast), 1)}`,
  );
  const ratio = median(ratios);
  row('feed rate (old denominator): worker e2e, moto S3 ÷ sharp bare decode+resize (shrink-on-load)', `${fmt(ratio)}× (${fmt(median(rates), 1)} ÷ ${fmt(median(bare), 1)} img/s)`);
  row('  before: preprocessing on the main thread', `${fmt(median(ratiosBefore))}× (${fmt(median(ratesBefore), 1)} img/s)`, '', null);
  const bareRate = median(bare);
  row('  same worker, photos from a local directory (no S3 server on the cores)', `${fmt(median(localRates) / bareRate)}× (${fmt(median(localRates), 1)} img/s)`, '', null);
  row('  ceiling: sharp full-resolution decode alone (exact: no shrink-on-load) ÷ B', `${fmt(median(fullDecode) / bareRate)}× (${fmt(median(fullDecode), 1)} img/s)`, '', null);
  row('  ceiling: moto GET alone (8 at once; moto shares the 2 cores) ÷ B', `${fmt(median(fetchOnly) / bareRate)}× (${fmt(median(fetchOnly), 1)} objects/s)`, '', null);
  row('event-loop delay during the worker run, max: pool ÷ main thread', `${fmt(median(loopAfter), 0)} ms ÷ ${fmt(median(loopBefore), 0)} ms`);

  // Sweep on the tiny model: preprocessing threads and batch size (feed-rate side).
  log('sweep: preprocessing threads and batch size, tiny model, worker end to end');
  const threadRates: string[] = [];
  for (const threads of [1, 2, 4]) {
    const model = threads === defaultPreprocessThreads() ? after : await loadModel(TINY, threads);
    const rate = median(await repeat(Math.max(1, REPS - 1), () => worker(model, 's3://bench/photos/', PHOTO_COUNT)));
    if (model !== after) await closeModel(model);
    threadRates.push(`${threads}: ${fmt(rate, 1)}`);
  }
  row(`sweep, tiny worker e2e img/s by preprocessing threads (default = cores − 1 = ${defaultPreprocessThreads()})`, `0: ${fmt(median(ratesBefore), 1)}, ${threadRates.join(', ')}`);
  const batchRates: string[] = [];
  for (const batchSize of [1, 8, 32, 64]) {
    const rate = median(await repeat(Math.max(1, REPS - 1), () => worker(after, 's3://bench/photos/', PHOTO_COUNT, { batchSize })));
    batchRates.push(`${batchSize}: ${fmt(rate, 1)}`);
  }
  row('sweep, tiny worker e2e img/s by batch size', batchRates.join(', '));
  const depthRates: string[] = [];
  for (const decodeConcurrency of [2, 4, 8]) {
    const rate = median(await repeat(Math.max(1, REPS - 1), () => worker(after, 's3://bench/photos/', PHOTO_COUNT, { decodeConcurrency })));
    depthRates.push(`${decodeConcurrency}: ${fmt(rate, 1)}`);
  }
  row('sweep, tiny worker e2e img/s by images preprocessed at once', depthRates.join(', '));
  await closeModel(before);

  // 2. against transformers.js (same photos, read from a local directory by both).
  log('transformers.js zero-shot pipeline vs ours (local photo dir, 12 labels)');
  const tjsSingle: number[] = [];
  const tjsBatched: number[] = [];
  const tjsBestBatch: string[] = [];
  const ours: number[] = [];
  for (let r = 0; r < REPS; r++) {
    ours.push(await worker(after, PHOTOS, PHOTO_COUNT, {}, true));
    const tjs = childJson(TSX, ['bench/probes/transformers-js.ts', join(OUT, 'models'), 'tiny-siglip-tjs', PHOTOS, JSON.stringify(LABEL_NAMES), '8,32,64']);
    const batched = tjs['batched'] as Record<string, number>;
    const [size, best] = Object.entries(batched).sort((x, y) => y[1] - x[1])[0]!;
    tjsSingle.push(tjs['single'] as number);
    tjsBatched.push(best);
    tjsBestBatch.push(size);
    sampleLoad();
    log(`  rep ${r + 1}: ours ${fmt(ours[r]!, 1)}, transformers.js 1/call ${fmt(tjs['single'] as number, 1)}, batched ${JSON.stringify(Object.fromEntries(Object.entries(batched).map(([k, v]) => [k, +v.toFixed(1)])))}`);
  }
  const vsSingle = median(ours) / median(tjsSingle);
  const vsBatched = median(ours) / median(tjsBatched);
  row('vs transformers.js, one image per call (its documented use)', `${fmt(vsSingle)}× (${fmt(median(ours), 1)} ÷ ${fmt(median(tjsSingle), 1)} img/s)`, '≥ 3', vsSingle >= 3);
  row(`vs transformers.js, best batched (batch ${tjsBestBatch.join('/')})`, `${fmt(vsBatched)}× (÷ ${fmt(median(tjsBatched), 1)} img/s)`, '≥ 1.5', vsBatched >= 1.5);

  // Whole processes, start-up included: the compiled CLI's `embed` against a Node script running
  // transformers.js' pipeline as its users call it (one image per call).
  log('end to end with start-up: siglip-batch embed (bundle) vs a transformers.js script, alternating');
  const e2e = endToEndVsTransformersJs({ photos: PHOTOS, images: PHOTO_COUNT, labels: LABEL_NAMES, tjsModels: join(OUT, 'models'), out: OUT, reps: REPS, log });
  loads.push(...e2e.loads);
  const e2eRatio = median(e2e.oursSeconds.map((s, i) => e2e.tjsSeconds[i]! / s));
  row(
    'vs transformers.js end to end, whole process with start-up (siglip-batch embed ÷ script)',
    `${fmt(e2eRatio)}× (${fmt(median(e2e.oursSeconds))} s vs ${fmt(median(e2e.tjsSeconds))} s for ${PHOTO_COUNT} photos)`,
    '≥ 3',
    e2eRatio >= 3,
  );
  row('  same, one photo (start-up and fixed costs): siglip-batch embed vs script', `${fmt(median(e2e.oursOneSeconds))} s vs ${fmt(median(e2e.tjsOneSeconds))} s`);
  await closeModel(after);
}

// ---------------------------------------------------------------------------------------------
// 3. pipeline efficiency with the base geometry, and the ONNX Runtime sweep

/** Runs `run` while sampling the event loop's delay; pushes the largest delay (ms) to `into`. */
async function withLoopDelay(into: number[], run: () => Promise<number>): Promise<number> {
  const histogram = monitorEventLoopDelay({ resolution: 5 });
  histogram.enable();
  try {
    return await run();
  } finally {
    histogram.disable();
    into.push(histogram.max / 1e6);
  }
}

async function repeat(times: number, run: () => Promise<number>): Promise<number[]> {
  const results: number[] = [];
  for (let i = 0; i < times; i++) results.push(await run());
  return results;
}

async function bareSession(threads: number, level: 'basic' | 'all' = 'all'): Promise<ort.InferenceSession> {
  const cuda = /^cuda(?::(\d+))?$/.exec(DEVICE);
  return ort.InferenceSession.create(join(BASE, VISION_FILE), {
    executionProviders: cuda ? [{ name: 'cuda', deviceId: Number(cuda[1] ?? 0) }] : ['cpu'],
    intraOpNumThreads: threads,
    interOpNumThreads: 1,
    executionMode: 'sequential',
    graphOptimizationLevel: level,
  });
}

/** The bare session on ready tensors: images/s over `images` images in batches of `batch`. */
async function bareRate(session: ort.InferenceSession, batch: number, images: number): Promise<number> {
  const data = Float32Array.from({ length: batch * 3 * 224 * 224 }, (_, i) => ((i * 7919) % 255) / 127.5 - 1);
  const tensor = new ort.Tensor('float32', data, [batch, 3, 224, 224]);
  const t0 = performance.now();
  for (let done = 0; done < images; done += batch) await session.run({ pixel_values: tensor });
  return Math.ceil(images / batch) * batch / ((performance.now() - t0) / 1000);
}

{
  log(`pipeline efficiency: base geometry, ${BASE_IMAGES} images, batch 8 and 32, ${CORES} ORT threads`);
  const model = await loadModel(BASE, undefined, undefined, DEVICE, VARIANT);
  const session = await bareSession(CORES);
  await bareRate(session, 8, 8);
  await worker(model, 's3://bench/warm/', 8, { batchSize: 8 });
  for (const batch of [8, 32]) {
    const ratios: number[] = [];
    const busy: number[] = [];
    const workerRates: number[] = [];
    const bareRates: number[] = [];
    for (let r = 0; r < REPS; r++) {
      const b = await bareRate(session, batch, BASE_IMAGES);
      const w = await worker(model, 's3://bench/base/', BASE_IMAGES, { batchSize: batch });
      sampleLoad();
      workerRates.push(w);
      bareRates.push(b);
      ratios.push(w / b);
      // The same run's own inference time ÷ its wall time: how busy the pipeline keeps the model.
      busy.push(lastStats.inferMs / 1000 / lastStats.seconds);
      log(`  batch ${batch}, rep ${r + 1}: worker ${fmt(w, 2)} img/s (model busy ${fmt(100 * busy[r]!, 1)} %), bare session ${fmt(b, 2)} img/s`);
    }
    const ratio = median(ratios);
    row(
      `pipeline efficiency: worker e2e ÷ bare ONNX session (base, batch ${batch})`,
      `${fmt(ratio)}× (${fmt(median(workerRates), 2)} ÷ ${fmt(median(bareRates), 2)} img/s)`,
      '≥ 0.95',
      ratio >= 0.95,
    );
    row(`  same runs: share of the worker's wall time its model was running (batch ${batch})`, `${fmt(100 * median(busy), 1)} %`);
    if (args['gflops-per-image'] && args['peak-tflops']) {
      const utilisation = (gflops: number) => (gflops * Number(args['gflops-per-image'])) / (Number(args['peak-tflops']) * 1000);
      row(`  model FLOP utilisation, worker / bare (batch ${batch})`, `${fmt(100 * utilisation(median(workerRates)), 1)} % / ${fmt(100 * utilisation(median(bareRates)), 1)} %`);
    }
  }
  await closeModel(model);

  log('sweep: bare base session by batch size × intra-op threads, graph optimisation');
  const sweep: string[] = [];
  for (const threads of [1, CORES]) {
    const s = threads === CORES ? session : await bareSession(threads);
    // One thread at batch 64 would take minutes and tells nothing the others do not.
    for (const batch of threads === 1 ? [1, 8, 32] : [1, 8, 32, 64]) {
      const images = QUICK ? Math.max(batch, 8) : Math.max(batch, 16);
      const rate = await bareRate(s, batch, images);
      sweep.push(`t${threads}/b${batch}: ${fmt(rate, 2)}`);
      log(`  threads ${threads}, batch ${batch}: ${fmt(rate, 2)} img/s`);
    }
  }
  row('sweep, bare base session img/s (threads/batch)', sweep.join(', '));
  const basic = await bareSession(CORES, 'basic');
  const all: number[] = [];
  const lower: number[] = [];
  for (let r = 0; r < Math.max(1, REPS - 1); r++) {
    all.push(await bareRate(session, 32, 32));
    lower.push(await bareRate(basic, 32, 32));
  }
  row('graph optimisation all ÷ basic (base, batch 32)', `${fmt(median(all) / median(lower))}× (${fmt(median(all), 2)} vs ${fmt(median(lower), 2)} img/s)`);
}

// ---------------------------------------------------------------------------------------------
// 4. preprocessing against transformers' PIL image processor, one core each

{
  log('preprocessing, one core each: ours vs SiglipImageProcessorPil');
  const ratios: number[] = [];
  const ourRates: number[] = [];
  const pilRates: number[] = [];
  for (let r = 0; r < REPS; r++) {
    const ours = childJson('taskset', ['-c', '0', TSX, 'bench/probes/preprocess-one-core.ts', PHOTOS, TINY], { UV_THREADPOOL_SIZE: '1' });
    const pil = childJson('taskset', ['-c', '0', join(ROOT, '.venv/bin/python'), 'bench/probes/pil-preprocess.py', PHOTOS, TINY], { OMP_NUM_THREADS: '1' });
    sampleLoad();
    ourRates.push(ours['rate'] as number);
    pilRates.push(pil['rate'] as number);
    ratios.push((ours['rate'] as number) / (pil['rate'] as number));
    log(`  rep ${r + 1}: ours ${fmt(ours['rate'] as number, 1)} img/s, PIL ${fmt(pil['rate'] as number, 1)} img/s`);
  }
  const ratio = median(ratios);
  row('preprocessing ÷ transformers PIL processor (1 core each)', `${fmt(ratio)}× (${fmt(median(ourRates), 1)} ÷ ${fmt(median(pilRates), 1)} img/s)`, '≥ 2', ratio >= 2);
}

// ---------------------------------------------------------------------------------------------
// 5. Parquet write rate

{
  log('Parquet: 10,000 rows × 1,152-d, 12 scores, zstd');
  const input = partInput(10_000, 1152, LABEL_NAMES.length);
  encodePartFile(partInput(500, 1152, LABEL_NAMES.length));
  const cpuRates: number[] = [];
  const rates = await repeat(REPS, async () => {
    const t0 = performance.now();
    const cpu0 = process.cpuUsage();
    encodePartFile(input);
    const cpu = process.cpuUsage(cpu0);
    cpuRates.push(10_000 / ((cpu.user + cpu.system) / 1e6));
    return 10_000 / ((performance.now() - t0) / 1000);
  });
  sampleLoad();
  row(
    'Parquet part file rows/s (zstd, 1,152-d): wall (rows per CPU-second)',
    `${fmt(median(rates), 0)} (${fmt(median(cpuRates), 0)})`,
    '≥ 15,000',
    median(rates) >= 15_000,
  );
}

function partInput(count: number, dim: number, labels: number): PartFileInput {
  const embedding = Float32Array.from({ length: count * dim }, () => Math.random() - 0.5);
  return {
    uri: Array.from({ length: count }, (_, i) => `s3://bench/photos/${String(i).padStart(8, '0')}.jpg`),
    etag: Array.from({ length: count }, (_, i) => (i * 2654435761).toString(16).padStart(32, '0')),
    sizeBytes: Array.from({ length: count }, (_, i) => 50_000 + i),
    sha256: Array.from({ length: count }, (_, i) => (i * 40503).toString(16).padStart(64, '0')),
    width: Int32Array.from({ length: count }, () => 640),
    height: Int32Array.from({ length: count }, () => 480),
    embedding,
    dim,
    scores: Float32Array.from({ length: count * labels }, () => Math.random()),
    labels: Array.from({ length: labels }, (_, i) => `label ${i}`),
    tags: Array.from({ length: count }, () => ['label 1']),
    metadata: { bench: '1' },
  };
}

// ---------------------------------------------------------------------------------------------
// 6. producer: listing rate and memory (synthetic ListObjectsV2 endpoint in its own process)
//    at a realistic S3 page time, and with none (the client's own CPU cost)

async function producerRows(pageMs: number): Promise<void> {
  log(`producer: planRun ÷ raw ListObjectsV2, 200,000 objects, ${pageMs} ms per page; RSS growth 10,000 → 200,000`);
  const server = spawn(TSX, ['bench/probes/list-server.ts', '200000', String(pageMs)], { cwd: ROOT, stdio: ['ignore', 'pipe', 'ignore'] });
  const endpoint = await new Promise<string>((resolve, reject) => {
    server.stdout.once('data', (chunk: Buffer) => resolve((JSON.parse(chunk.toString()) as { endpoint: string }).endpoint));
    server.once('exit', (code) => reject(new Error(`list server exited (${code})`)));
  });
  const ratios: number[] = [];
  const growth: number[] = [];
  const heapGrowth: number[] = [];
  const rawRates: number[] = [];
  const producerRates: number[] = [];
  try {
    for (let r = 0; r < REPS; r++) {
      const probe = (mode: string) => childJson(process.execPath, ['--expose-gc', '--import', 'tsx', 'bench/probes/producer-listing.ts', endpoint, mode, join(OUT, 'producer-run')]);
      const raw = probe('raw');
      const producer = probe('producer');
      sampleLoad();
      const n = (x: unknown) => x as number;
      rawRates.push(n(raw['rate']));
      producerRates.push(n(producer['rate']));
      ratios.push(n(producer['rate']) / n(raw['rate']));
      growth.push((n(producer['rssEnd']) - n(producer['rssAt10k'])) / 1e6);
      heapGrowth.push((n(producer['heapEnd']) - n(producer['heapAt10k'])) / 1e6);
      log(
        `  rep ${r + 1}: raw ${fmt(n(raw['rate']), 0)}/s, producer ${fmt(n(producer['rate']), 0)}/s; producer RSS +${fmt(growth[r]!, 1)} MB ` +
          `(at 100k +${fmt((n(producer['rssAt100k']) - n(producer['rssAt10k'])) / 1e6, 1)} MB), heap ${fmt(heapGrowth[r]!, 1)} MB; raw listing RSS +${fmt((n(raw['rssEnd']) - n(raw['rssAt10k'])) / 1e6, 1)} MB`,
      );
    }
  } finally {
    server.kill();
  }
  const ratio = median(ratios);
  const label = pageMs === 0 ? 'no S3 latency: client CPU only' : `${pageMs} ms per 1,000-key page`;
  row(`producer objects/s ÷ raw ListObjectsV2 (200,000 objects, ${label})`, `${fmt(ratio)}× (${fmt(median(producerRates), 0)} ÷ ${fmt(median(rawRates), 0)}/s)`, '≥ 0.9', ratio >= 0.9);
  row(`producer RSS growth 10,000 → 200,000 listed objects (${label})`, `${fmt(median(growth), 1)} MB (JS heap ${fmt(median(heapGrowth), 1)} MB)`, '< 50 MB', median(growth) < 50);
}
await producerRows(50);
await producerRows(0);

// ---------------------------------------------------------------------------------------------
// 7. CPU per image by size, one core, exact and fast; worker peak RSS (cpu-per-image.ts)

log('CPU per image by size (one core) and worker peak RSS: bench/cpu-per-image.ts');
for (const r of cpuPerImageRows(TSX, ROOT, REPS, QUICK, loads)) row(r.measure, r.result);

// ---------------------------------------------------------------------------------------------
// the table

const minutes = (performance.now() - started) / 60_000;
const widths = [Math.max(...rows.map((r) => r.measure.length)), Math.max(...rows.map((r) => r.result.length)), 8];
console.log(`\nsiglip-batch bench — ${CORES} cores, ${REPS} repetition(s) (medians), load average ${fmt(Math.min(...loads))}–${fmt(Math.max(...loads))} during the run, ${fmt(minutes, 1)} min`);
console.log(`${'measure'.padEnd(widths[0]!)}  ${'result'.padEnd(widths[1]!)}  target    met`);
console.log(`${'-'.repeat(widths[0]!)}  ${'-'.repeat(widths[1]!)}  --------  ---`);
for (const r of rows) {
  console.log(`${r.measure.padEnd(widths[0]!)}  ${r.result.padEnd(widths[1]!)}  ${r.target.padEnd(8)}  ${r.met === null ? '' : r.met ? 'yes' : 'NO'}`);
}
