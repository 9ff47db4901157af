/**
 * `--decode fast` against exact (issue 18), per size class of JPEG made from the fixture photos
 * (0.3, 2, 12 and 24 MP, quality 90): mean |Δ| and the share of values within two levels of the
 * exact resize (uint8 RGB at the model's size, 0–255 levels), the scaled-decode factors chosen,
 * and preprocessing time per image (decode + resize + normalise, `ImagePreprocessor.preprocess`)
 * exact and fast, one image at a time. For one core, run it as
 *
 *   taskset -c 0 env UV_THREADPOOL_SIZE=1 npx tsx bench/decode-bench.ts [--images 6] [--reps 3] [--gap 2] [--size 224]
 *
 * (it sets `sharp.concurrency(1)` itself). JPEGs are written to bench/out/sized/ (git-ignored)
 * and reused. `decodeBench` and `makeSizedJpegs` are exported for the by-size bench.
 * Targets on 12 MP: fast ≥ 5× exact per core, mean |Δ| ≤ 1 level.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { ImagePreprocessor, decodeMode, scaledDecodeFactor, type DecodeMode, type ImagePreprocessConfig } from '@siglip-batch/model';

/** The size classes of issue 18, in megapixels. */
export const SIZE_CLASSES_MP = [0.3, 2, 12, 24] as const;

/** SigLIP's processor at `size` px (rescale 1/255, mean = std = 0.5). */
export function siglipConfig(size = 224): ImagePreprocessConfig {
  return { height: size, width: size, doRescale: true, rescaleFactor: 1 / 255, doNormalize: true, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] };
}

/** Real fixture photos (not the synthetic thin / 1×1 / crops, nor CMYK, 16-bit or animations). */
const NOT_PHOTOS = /pixel_1x1|thin_|crop_|animated|grey16|rgb16|cmyk|large_/;

/**
 * `count` JPEGs of about `megapixels` MP each, resized (Lanczos, aspect kept, EXIF orientation
 * applied) from the fixture photos in turn and encoded at `quality`, into `dir` (reused when
 * present). Returns their paths.
 */
export async function makeSizedJpegs(options: { imagesDir: string; dir: string; megapixels: number; count: number; quality?: number }): Promise<string[]> {
  const { imagesDir, dir, megapixels, count, quality = 90 } = options;
  mkdirSync(dir, { recursive: true });
  const sources = readdirSync(imagesDir)
    .filter((f) => /\.(jpe?g|png|webp)$/i.test(f) && !NOT_PHOTOS.test(f))
    .sort();
  const paths: string[] = [];
  for (let i = 0; i < count; i++) {
    const source = sources[i % sources.length]!;
    const path = join(dir, `${megapixels}mp-q${quality}-${String(i).padStart(2, '0')}-${source.replace(/\.\w+$/, '')}.jpg`);
    paths.push(path);
    if (existsSync(path)) continue;
    const oriented = await sharp(readFileSync(join(imagesDir, source)), { pages: 1 }).rotate().removeAlpha().toColourspace('srgb').toBuffer({ resolveWithObject: true });
    const scale = Math.sqrt((megapixels * 1e6) / (oriented.info.width * oriented.info.height));
    const width = Math.max(1, Math.round(oriented.info.width * scale));
    const height = Math.max(1, Math.round(oriented.info.height * scale));
    writeFileSync(path, await sharp(oriented.data).resize(width, height, { fit: 'fill' }).jpeg({ quality }).toBuffer());
  }
  return paths;
}

/** How far fast is from exact, over the uint8 RGB values at the model's size of a set of images. */
export interface DecodeDelta {
  /** Mean |fast − exact| in 0–255 levels. */
  meanAbsDelta: number;
  /** Share of values at most two levels apart. */
  withinTwo: number;
  maxDelta: number;
}

/** Fast against exact on `images`, every uint8 value of the resized images counted once. */
export async function compareDecodeModes(images: readonly Uint8Array[], config: ImagePreprocessConfig, fast: DecodeMode): Promise<DecodeDelta> {
  const exact = new ImagePreprocessor(config);
  const quick = new ImagePreprocessor(config, { decode: fast });
  let sum = 0;
  let within = 0;
  let count = 0;
  let maxDelta = 0;
  for (const bytes of images) {
    const a = exact.resize(await exact.decode(bytes));
    const b = quick.resize(await quick.decode(bytes));
    for (let i = 0; i < a.length; i++) {
      const d = Math.abs(a[i]! - b[i]!);
      sum += d;
      if (d <= 2) within++;
      if (d > maxDelta) maxDelta = d;
    }
    count += a.length;
  }
  return { meanAbsDelta: sum / count, withinTwo: within / count, maxDelta };
}

/** Median over `reps` passes of the mean preprocessing time per image (ms), one image at a time. */
export async function preprocessMsPerImage(images: readonly Uint8Array[], config: ImagePreprocessConfig, decode: DecodeMode, reps: number): Promise<number> {
  const preprocessor = new ImagePreprocessor(config, { decode });
  const out = new Float32Array(preprocessor.valuesPerImage);
  await preprocessor.preprocessInto(images[0]!, out, 0); // warm-up (WebAssembly, sharp)
  const passes: number[] = [];
  for (let rep = 0; rep < reps; rep++) {
    const started = performance.now();
    for (const bytes of images) await preprocessor.preprocessInto(bytes, out, 0);
    passes.push((performance.now() - started) / images.length);
  }
  return passes.sort((a, b) => a - b)[Math.floor(passes.length / 2)]!;
}

export interface DecodeBenchRow {
  megapixels: number;
  images: number;
  /** Scaled-decode factors chosen, e.g. `4` or `2,4`. */
  factors: string;
  /** Medians over the repetitions. */
  exactMs: number;
  fastMs: number;
  /** Median over the repetitions of exact ÷ fast. */
  speedup: number;
  delta: DecodeDelta;
}

/**
 * One row per size class: JPEGs made by {@link makeSizedJpegs} (`count` per class), compared
 * and timed exact against fast (`reducingGap`, default 2) at the model's `size` (default 224).
 */
export async function decodeBench(options: {
  imagesDir: string;
  dir: string;
  sizeClasses?: readonly number[];
  count?: number;
  reps?: number;
  reducingGap?: number;
  size?: number;
  onRow?: (row: DecodeBenchRow) => void;
}): Promise<DecodeBenchRow[]> {
  const config = siglipConfig(options.size ?? 224);
  const fast = decodeMode('fast', options.reducingGap);
  const rows: DecodeBenchRow[] = [];
  for (const megapixels of options.sizeClasses ?? SIZE_CLASSES_MP) {
    const paths = await makeSizedJpegs({ imagesDir: options.imagesDir, dir: options.dir, megapixels, count: options.count ?? 6 });
    const images = paths.map((path) => new Uint8Array(readFileSync(path)));
    const factors = new Set<number>();
    for (const bytes of images) {
      const { width, height } = await sharp(bytes).metadata();
      factors.add(fast.mode === 'fast' ? scaledDecodeFactor(width, height, config.width, config.height, fast.reducingGap) : 1);
    }
    const delta = await compareDecodeModes(images, config, fast);
    // Alternate the two sides, so that load from other processes falls on both.
    const exactTimes: number[] = [];
    const fastTimes: number[] = [];
    for (let rep = 0; rep < (options.reps ?? 3); rep++) {
      exactTimes.push(await preprocessMsPerImage(images, config, { mode: 'exact' }, 1));
      fastTimes.push(await preprocessMsPerImage(images, config, fast, 1));
    }
    // The speed-up is the median of each repetition's own ratio (its two sides ran back to back).
    const speedup = median(exactTimes.map((ms, rep) => ms / fastTimes[rep]!));
    const row: DecodeBenchRow = { megapixels, images: images.length, factors: [...factors].sort().join(','), exactMs: median(exactTimes), fastMs: median(fastTimes), speedup, delta };
    rows.push(row);
    options.onRow?.(row);
  }
  return rows;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)]!;
}

/** The table of bench/README.md. */
export function formatDecodeTable(rows: readonly DecodeBenchRow[]): string {
  const header = ['JPEG size', 'images', 'factor', 'exact ms/img', 'fast ms/img', 'speed-up', 'mean \\|Δ\\|', 'within 2', 'max \\|Δ\\|'];
  const cells = rows.map((r) => [
    `${r.megapixels} MP`,
    String(r.images),
    r.factors.split(',').map((f) => `1/${f}`).join(', '),
    r.exactMs.toFixed(1),
    r.fastMs.toFixed(1),
    `${r.speedup.toFixed(1)}×`,
    r.delta.meanAbsDelta.toFixed(3),
    `${(100 * r.delta.withinTwo).toFixed(2)} %`,
    String(r.delta.maxDelta),
  ]);
  return [header, header.map(() => '---'), ...cells].map((row) => `| ${row.join(' | ')} |`).join('\n');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const { values: args } = parseArgs({
    options: {
      images: { type: 'string', default: '6' },
      reps: { type: 'string', default: '3' },
      gap: { type: 'string', default: '2' },
      size: { type: 'string', default: '224' },
    },
  });
  sharp.concurrency(1);
  const root = join(import.meta.dirname, '..');
  const rows = await decodeBench({
    imagesDir: join(root, 'fixtures/images'),
    dir: join(root, 'bench/out/sized'),
    count: Number(args.images),
    reps: Number(args.reps),
    reducingGap: Number(args.gap),
    size: Number(args.size),
    onRow: (row) => process.stderr.write(`${row.megapixels} MP: exact ${row.exactMs.toFixed(1)} ms, fast ${row.fastMs.toFixed(1)} ms, mean |Δ| ${row.delta.meanAbsDelta.toFixed(3)}\n`),
  });
  console.log(`UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? '(default)'}, sharp.concurrency(${sharp.concurrency()}), reducing gap ${args.gap}, model ${args.size} px`);
  console.log(formatDecodeTable(rows));
}
