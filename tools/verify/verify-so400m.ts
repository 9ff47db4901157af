/**
 * `npm run verify:so400m` (not in CI: the export peaks at ~8.4 GiB, the reference step at ~5.6 GiB, and it takes many minutes on two cores).
 *
 * Exports the random so400m geometry (google/siglip-so400m-patch14-224's sizes: 27 layers,
 * width 1152) with tools/export into the git-ignored `models/so400m-verify/`, computes the
 * transformers reference for the fixture images, texts and labels (`--reference`), then checks
 * our pipeline against it exactly as the tiny fixture is checked (libs/model's parity
 * measurement, the bounds of siglip-parity.spec.ts) for fp32 and fp16, and prints wall time and
 * peak RSS of the export, the reference, loading and embedding — the memory a worker needs.
 *
 *   npm run verify:so400m -- [--reuse-export] [--fp32-only] [--python .venv/bin/python] [--geometry tiny|base|so400m]
 *
 * `--reuse-export` keeps an export this script made before (its figures are in
 * `models/so400m-verify/export-figures.json`) and starts at the reference step. `--geometry tiny`
 * runs the same steps on the tiny geometry in about a minute (a check of this script).
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ParityReport } from '../../libs/model/src/testing/parity';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const args = process.argv.slice(2);
const geometry = args.includes('--geometry') ? args[args.indexOf('--geometry') + 1]! : 'so400m';
const WORK = join(ROOT, `models/${geometry}-verify`);
const MODEL = join(WORK, `siglip-${geometry}-random`);
const CHECKPOINT = join(WORK, 'checkpoint');
const REFERENCE = join(WORK, 'reference');
const python = args.includes('--python') ? args[args.indexOf('--python') + 1]! : join(ROOT, '.venv/bin/python');
const reuse = args.includes('--reuse-export');
// fp32 and fp16 are both exported, checked and part of the verdict. `--fp32-only` exports
// fp32 alone and measures an fp16 copy converted without the export's check (figures, no verdict).
const variants = args.includes('--fp32-only') ? (['fp32'] as const) : (['fp32', 'fp16'] as const);
const GiB = 1024 ** 3;

interface Figures {
  seconds: number;
  peak_rss_bytes: number;
  exit_code: number;
}

const pyEnv = { ...process.env, PYTHONHASHSEED: '0', TOKENIZERS_PARALLELISM: 'false', HF_HUB_OFFLINE: '1', TRANSFORMERS_VERBOSITY: 'error', PYTHONWARNINGS: 'ignore' };

function measuredPython(name: string, script: string[]): Figures {
  const out = join(WORK, `${name}-figures.json`);
  console.error(`\n== ${name}: ${['python', ...script].join(' ')}`);
  const r = spawnSync(python, [join(ROOT, 'tools/verify/measured.py'), out, ...script], { cwd: ROOT, env: pyEnv, stdio: 'inherit' });
  if (r.error) throw r.error;
  const figures = JSON.parse(readFileSync(out, 'utf8')) as Figures;
  if (figures.exit_code !== 0) throw new Error(`${name} failed (exit ${figures.exit_code})`);
  return figures;
}

function child<T>(argv: string[]): T {
  const r = spawnSync(join(ROOT, 'node_modules/.bin/tsx'), [join(ROOT, 'tools/verify/so400m-child.ts'), ...argv], {
    cwd: ROOT,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`so400m-child ${argv.join(' ')} failed (exit ${r.status})`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as T;
}

const exportArgs = [
  'tools/export/siglip_export.py', '--random', geometry, '--seed', '1', '--out', MODEL, ...(variants.length > 1 ? ['--fp16'] : []),
  '--calibrate-images', 'fixtures/images', '--calibrate-labels', 'fixtures/reference/labels.json',
  '--verify-texts', 'fixtures/reference/texts.json', '--save-checkpoint', CHECKPOINT,
];
mkdirSync(WORK, { recursive: true });
const exported =
  reuse && existsSync(join(MODEL, 'siglip-batch.json')) && existsSync(join(WORK, 'export-figures.json'))
    ? (JSON.parse(readFileSync(join(WORK, 'export-figures.json'), 'utf8')) as Figures)
    : measuredPython('export', exportArgs);
const reference = measuredPython('reference', [
  'tools/export/siglip_export.py', '--reference', '--checkpoint', CHECKPOINT, '--checkpoint-id', `random:${geometry}:seed=1`,
  // The 10-image subset the other families' fixtures use (EXIF orientations, grey, alpha, 1×1,
  // TIFF, extreme aspect): pixels are the model-independent part and are checked on all 29
  // images by the tiny fixture; so400m's cost on two cores is in the embeddings.
  '--model-dir', MODEL, '--images', 'fixtures/images', '--image-list', 'fixtures/reference/images-subset.json', '--texts', 'fixtures/reference/texts.json',
  '--labels', 'fixtures/reference/labels.json', '--out', REFERENCE,
]);

interface Bench { loadMs: number; rssAfterLoad: number; embedMs: number; textMs: number; peakRss: number; images: number }
interface Parity { ms: number; peakRss: number; report: ParityReport }
const rows: string[] = [];
const failures: string[] = [];
for (const variant of variants) {
  console.error(`\n== ${variant}: load + embed 16 images, then parity against the reference`);
  const bench = child<Bench>(['bench', MODEL, variant, join(ROOT, 'fixtures/images'), '16']);
  const parity = child<Parity>(['parity', MODEL, variant, REFERENCE]);
  failures.push(...checkBounds(variant, parity.report));
  const r = parity.report;
  const notCmyk = r.images.filter((i) => !i.file.includes('cmyk'));
  rows.push(
    `| ${variant} | ${(bench.loadMs / 1000).toFixed(1)} s | ${(bench.rssAfterLoad / GiB).toFixed(2)} GiB | ` +
      `${(bench.embedMs / 1000).toFixed(1)} s (${bench.images} images) | ${(bench.peakRss / GiB).toFixed(2)} GiB | ${(parity.peakRss / GiB).toFixed(2)} GiB | ` +
      `${Math.min(...notCmyk.map((i) => i.embeddingCosine)).toFixed(6)} | ${Math.min(...[...r.texts, ...r.labels].map((t) => t.embeddingCosine)).toFixed(6)} | ` +
      `${Math.max(...notCmyk.map((i) => i.probMaxAbs)).toExponential(2)} | ${r.texts.filter((t) => t.idsMatch).length}/${r.texts.length} + ${r.labels.filter((t) => t.idsMatch).length}/${r.labels.length} | ` +
      `${Math.max(...r.images.filter((i) => !i.file.includes('cmyk')).map((i) => i.pixelMaxLevels))} |`,
  );
}

// With --fp32-only: the fp16 variant measured anyway (time, memory, parity figures), converted as
// the export converts it but without its check, and reported without pass/fail.
let unchecked: string | undefined;
if (variants.length === 1) {
  const dir = join(WORK, 'fp16-unchecked');
  const converted = measuredPython('fp16-convert', ['tools/verify/fp16_copy.py', MODEL, dir]);
  console.error('\n== fp16 (unchecked): load + embed 16 images, then parity figures');
  const bench = child<Bench>(['bench', dir, 'fp16', join(ROOT, 'fixtures/images'), '16']);
  const parity = child<Parity>(['parity', dir, 'fp16', REFERENCE]);
  const r = parity.report;
  const notCmyk = r.images.filter((i) => !i.file.includes('cmyk'));
  unchecked =
    `fp16 (converted in ${converted.seconds.toFixed(0)} s, peak RSS ${(converted.peak_rss_bytes / GiB).toFixed(2)} GiB; not checked): ` +
    `load ${(bench.loadMs / 1000).toFixed(1)} s, RSS after load ${(bench.rssAfterLoad / GiB).toFixed(2)} GiB, embed ${(bench.embedMs / 1000).toFixed(1)} s ` +
    `(${bench.images} images), peak RSS ${(bench.peakRss / GiB).toFixed(2)} GiB (parity run ${(parity.peakRss / GiB).toFixed(2)} GiB); ` +
    `min image cos ${Math.min(...notCmyk.map((i) => i.embeddingCosine)).toFixed(6)}, min text cos ${Math.min(...[...r.texts, ...r.labels].map((t) => t.embeddingCosine)).toFixed(6)}, ` +
    `max prob Δ ${Math.max(...notCmyk.map((i) => i.probMaxAbs)).toExponential(2)}; parity bounds violated: ${checkBounds('fp16', r).length}`;
}

console.log(`\n${geometry} geometry, random weights (seed 1), ${new Date().toISOString()}`);
console.log(`export (${variants.join(' + ')}, with --save-checkpoint): ${exported.seconds.toFixed(0)} s, peak RSS ${(exported.peak_rss_bytes / GiB).toFixed(2)} GiB${reuse ? ' (reused)' : ''}`);
console.log(`reference (transformers + ONNX checks in Python): ${reference.seconds.toFixed(0)} s, peak RSS ${(reference.peak_rss_bytes / GiB).toFixed(2)} GiB`);
console.log(
  '\n| variant | load (incl. content hash) | RSS after load | embed | peak RSS load+embed | peak RSS parity run | min image cos | min text cos | max prob Δ | ids identical | max pixel Δ (levels) |',
);
console.log('|---|---|---|---|---|---|---|---|---|---|---|');
for (const row of rows) console.log(row);
if (unchecked) console.log(`\n${unchecked}`);
if (failures.length) {
  console.log(`\nFAILED:\n  ${failures.join('\n  ')}`);
  process.exitCode = 1;
} else console.log('\nall parity bounds hold');

/** The bounds of libs/model/src/siglip-parity.spec.ts (CMYK: its stated deliberate difference). */
function checkBounds(variant: 'fp32' | 'fp16', r: ParityReport): string[] {
  const bad: string[] = [];
  const isCmyk = (file: string) => file.includes('cmyk');
  for (const i of r.images) {
    if (!i.sizeMatches) bad.push(`${variant} ${i.file}: size differs`);
    if (isCmyk(i.file)) {
      if (!(i.pixelMeanAbs <= 0.1 && i.embeddingCosine >= 0.99 && i.probMaxAbs <= 0.1)) bad.push(`${variant} ${i.file}: CMYK bounds`);
      continue;
    }
    if (!(i.pixelMeanAbs <= 0.01 && i.within2 >= 0.99)) bad.push(`${variant} ${i.file}: pixels mean ${i.pixelMeanAbs}, within2 ${i.within2}`);
    const cos = variant === 'fp32' ? 0.999 : 0.9999;
    if (!(i.embeddingCosine >= cos)) bad.push(`${variant} ${i.file}: image cosine ${i.embeddingCosine} < ${cos}`);
    const prob = variant === 'fp32' ? 1e-3 : 0.02;
    if (!(i.probMaxAbs <= prob)) bad.push(`${variant} ${i.file}: prob Δ ${i.probMaxAbs} > ${prob}`);
  }
  for (const t of [...r.texts, ...r.labels]) {
    if (!t.idsMatch) bad.push(`${variant} ${JSON.stringify(t.text)}: input ids differ`);
    if (!(t.embeddingCosine >= 0.9999)) bad.push(`${variant} ${JSON.stringify(t.text)}: text cosine ${t.embeddingCosine}`);
  }
  return bad;
}
