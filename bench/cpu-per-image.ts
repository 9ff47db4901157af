/**
 * `npm run bench:cpu`: CPU per image by image size, and the worker's peak memory by model, to size
 * GPU nodes and pods (bench/README.md, "CPU per image").
 *
 *   npx tsx bench/cpu-per-image.ts [--quick] [--reps N] [--geometries tiny,base,so400m] [--variants fp32,fp16]
 *                                  [--so400m DIR] [--base DIR] [--device cpu|cuda:N] [--no-rss | --rss-only] [--json]
 *
 * 1. One core (`taskset -c 0`, UV_THREADPOOL_SIZE=1, sharp.concurrency(1)): JPEGs of 0.3, 2, 12 and
 *    24 MP and PNG / WebP at 2 MP, made deterministically from the fixture photos
 *    (`sized-images.ts`, into bench/out/sizes/): decode ms, resize ms (Pillow's resampler +
 *    normalisation), total ms per image, and the cores one GPU needs to be fed at 870 and 3,590
 *    images/s (cores = images/s × total ms ÷ 1000), for the exact decode and the fast one
 *    (shrink-on-load) when the preprocessor has it. Exact and fast alternate, medians of `--reps`.
 * 2. Peak RSS of a worker process (`probes/worker-rss.ts`: the worker's model loading and shard
 *    handler, one shard of 32 twelve-megapixel JPEGs at batch 32) per geometry and variant whose
 *    model directory exists (tiny: the fixture; base: models/siglip-base-random; so400m:
 *    models/siglip-so400m-random — tools/export/README.md makes them).
 *
 * `--rss-only` skips part 1 (the RSS rows of one model take minutes of their own: so400m).
 *
 * Tables go to stdout (with `--json`: one JSON line instead, for run-all.ts), progress to stderr.
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { makeSizedImages, SIZE_CLASSES } from './sized-images';

const { values: args } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    reps: { type: 'string' },
    geometries: { type: 'string', default: 'tiny,base,so400m' },
    variants: { type: 'string', default: 'fp32,fp16' },
    base: { type: 'string' },
    so400m: { type: 'string' },
    // The RSS rows' device (`cuda:0` on a GPU node: bench/cuda-bench.sh); the CPU rows stay on one core.
    device: { type: 'string', default: 'cpu' },
    'no-rss': { type: 'boolean', default: false },
    'rss-only': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});
const ROOT = fileURLToPath(new URL('../', import.meta.url));
const OUT = join(ROOT, 'bench/out');
const TSX = join(ROOT, 'node_modules/.bin/tsx');
const TINY = join(ROOT, 'fixtures/models/tiny-siglip');
const QUICK = args.quick!;
const REPS = args['rss-only'] ? 0 : Number(args.reps ?? (QUICK ? 1 : 3));
const IMAGES_PER_CLASS = QUICK ? 4 : 10;
/** Best public so400m-224 figure on one current GPU, and an H200's bf16 limit at 220 GFLOP per image. */
const GPU_RATES = [870, 3590] as const;
const MODELS: Record<string, string> = {
  tiny: TINY,
  base: args.base ?? join(ROOT, 'models/siglip-base-random'),
  so400m: args.so400m ?? join(ROOT, 'models/siglip-so400m-random'),
};
const VISION_FILE = { fp32: 'onnx/vision_model.onnx', fp16: 'onnx/vision_model_fp16.onnx' } as const;

const log = (message: string) => console.error(`[bench:cpu ${new Date().toISOString().slice(11, 19)}] ${message}`);
const loads: number[] = [loadavg()[0]!];
const median = (values: number[]) => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = sorted.length >> 1;
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
};
function childJson<T>(command: string, argv: string[], env: Record<string, string> = {}, timeoutMs?: number): T {
  const stdout = execFileSync(command, argv, {
    cwd: ROOT,
    env: { ...process.env, ...env },
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 24,
    ...(timeoutMs ? { timeout: timeoutMs, killSignal: 'SIGKILL' as const } : {}),
  });
  return JSON.parse(stdout.trim().split('\n').pop()!) as T;
}

// ---------------------------------------------------------------------------------------------
// 1. CPU per image on one core, exact and fast alternating

interface ClassResult {
  name: string;
  images: number;
  decodedMegapixels: number;
  decodeMs: number;
  resizeMs: number;
  totalMs: number;
}
const started = performance.now();
const sized = await makeSizedImages(join(ROOT, 'fixtures/images'), join(OUT, 'sizes'), IMAGES_PER_CLASS);
const classesFile = join(OUT, 'sizes/classes.json');
writeFileSync(classesFile, JSON.stringify(SIZE_CLASSES.map((size) => ({ name: size.name, megapixels: size.megapixels, paths: sized.get(size)! }))));
// Passes over each class at 2 MP (the child makes more over smaller images, fewer over larger).
const passes = QUICK ? 2 : 4;
const oneCore = (mode: 'exact' | 'fast') =>
  childJson<{ results: ClassResult[] }>('taskset', ['-c', '0', TSX, 'bench/probes/cpu-per-image-child.ts', TINY, mode, classesFile, String(passes)], { UV_THREADPOOL_SIZE: '1' }).results;

const runs: Record<'exact' | 'fast', ClassResult[][]> = { exact: [], fast: [] };
for (let r = 0; r < REPS; r++) {
  // A B, then B A: neither mode always runs second.
  for (const mode of r % 2 === 0 ? (['exact', 'fast'] as const) : (['fast', 'exact'] as const)) {
    runs[mode].push(oneCore(mode));
    loads.push(loadavg()[0]!);
  }
  log(`rep ${r + 1}: exact total ${runs.exact[r]!.map((c) => c.totalMs.toFixed(1)).join(' / ')} ms; fast ${runs.fast[r]!.map((c) => c.totalMs.toFixed(1)).join(' / ')} ms`);
}
const summarise = (mode: 'exact' | 'fast') =>
  SIZE_CLASSES.map((size, i) => {
    const of = (key: 'decodeMs' | 'resizeMs' | 'totalMs' | 'decodedMegapixels') => median(runs[mode].map((run) => run[i]![key]));
    return { name: size.name, decodedMegapixels: of('decodedMegapixels'), decodeMs: of('decodeMs'), resizeMs: of('resizeMs'), totalMs: of('totalMs') };
  });
const exact = summarise('exact');
const fast = summarise('fast');
// The fast decode is real only when it decoded fewer pixels than the exact one somewhere.
const fastAvailable = fast.some((f, i) => f.decodedMegapixels < exact[i]!.decodedMegapixels * 0.9);

// ---------------------------------------------------------------------------------------------
// 2. peak RSS of a worker by geometry and variant, one shard of 32 twelve-megapixel JPEGs at batch 32

interface RssResult {
  geometry: string;
  variant: string;
  loadMs?: number;
  shardMs?: number;
  rssAfterLoad?: number;
  peakRss?: number;
  skipped?: string;
}
const rss: RssResult[] = [];
if (!args['no-rss']) {
  const photoDir = join(OUT, 'rss-photos');
  mkdirSync(photoDir, { recursive: true });
  const twelve = sized.get(SIZE_CLASSES.find((s) => s.megapixels === 12 && s.format === 'jpeg')!)!;
  for (let i = 0; i < 32; i++) {
    const target = join(photoDir, `${String(i).padStart(2, '0')}.jpg`);
    if (!existsSync(target)) copyFileSync(twelve[i % twelve.length]!, target);
  }
  for (const geometry of args.geometries!.split(',')) {
    for (const variant of args.variants!.split(',') as Array<'fp32' | 'fp16'>) {
      const dir = MODELS[geometry];
      if (!dir || !existsSync(join(dir, VISION_FILE[variant]))) {
        rss.push({ geometry, variant, skipped: `no ${dir ? join(dir, VISION_FILE[variant]).slice(ROOT.length) : geometry}` });
        log(`rss ${geometry} ${variant}: skipped (no model file)`);
        continue;
      }
      log(`rss ${geometry} ${variant}: worker shard of 32 × 12 MP at batch 32`);
      try {
        const result = childJson<Omit<RssResult, 'geometry'>>(TSX, ['bench/probes/worker-rss.ts', dir, variant, photoDir, '32', join(OUT, 'rss-runs'), args.device!], {}, 30 * 60_000);
        rss.push({ ...result, geometry });
      } catch (error) {
        rss.push({ geometry, variant, skipped: `failed: ${(error as Error).message.split('\n')[0]}` });
      }
      loads.push(loadavg()[0]!);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// the tables

const minutes = (performance.now() - started) / 60_000;
const load = `load average ${Math.min(...loads).toFixed(2)}–${Math.max(...loads).toFixed(2)}`;
if (args.json) {
  console.log(JSON.stringify({ reps: REPS, load: [Math.min(...loads), Math.max(...loads)], minutes, exact, fast, fastAvailable, rss }));
} else {
  const f1 = (x: number) => x.toFixed(1);
  const cores = (ms: number) => GPU_RATES.map((rate) => f1((rate * ms) / 1000)).join(' / ');
  if (REPS > 0) {
    console.log(`\nCPU per image, one core — ${REPS} repetition(s) (medians), ${load}, ${f1(minutes)} min`);
    console.log(`fast: ${fastAvailable ? 'shrink-on-load (decode: fast)' : 'NOT AVAILABLE in this build (the preprocessor decoded at full size): fast columns repeat exact'}`);
    console.log('| image | decoded MP exact / fast | decode ms | resize ms | total ms | cores per GPU at 870 / 3,590 img/s | fast total ms | fast cores at 870 / 3,590 | fast speed-up |');
    console.log('|---|---|---:|---:|---:|---:|---:|---:|---:|');
  }
  if (REPS > 0) exact.forEach((e, i) => {
    const q = fast[i]!;
    console.log(
      `| ${e.name} | ${e.decodedMegapixels.toFixed(2)} / ${q.decodedMegapixels.toFixed(2)} | ${e.decodeMs.toFixed(2)} | ${e.resizeMs.toFixed(2)} | ${e.totalMs.toFixed(2)} | ${cores(e.totalMs)} | ${q.totalMs.toFixed(2)} | ${cores(q.totalMs)} | ${(e.totalMs / q.totalMs).toFixed(2)}× |`,
    );
  });
  if (rss.length > 0) {
    const mb = (bytes?: number) => (bytes === undefined ? '' : `${(bytes / 1024 ** 2).toFixed(0)} MB`);
    console.log(`\nWorker peak RSS (one shard of 32 × 12 MP JPEGs, batch 32, ${args.device}), ${load}, ${f1(minutes)} min`);
    console.log('| geometry | variant | load s | shard s | RSS after load | peak RSS |');
    console.log('|---|---|---:|---:|---:|---:|');
    for (const r of rss) {
      if (r.skipped) console.log(`| ${r.geometry} | ${r.variant} | ${r.skipped} | | | |`);
      else console.log(`| ${r.geometry} | ${r.variant} | ${f1(r.loadMs! / 1000)} | ${f1(r.shardMs! / 1000)} | ${mb(r.rssAfterLoad)} | ${mb(r.peakRss)} |`);
    }
  }
}
