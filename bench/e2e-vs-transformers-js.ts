/**
 * End to end against transformers.js, whole processes with their start-up: one `siglip-batch
 * embed` process (the compiled CLI, `SIGLIP_BATCH_RUN_FROM=bundle`, as installed) over a photo
 * directory with the tiny model and 12 labels, against one plain Node script that runs
 * transformers.js' `pipeline('zero-shot-image-classification')` over the same photos one image
 * per call (`probes/transformers-js-e2e.mjs`, on the transformers.js copy of the same model made
 * by `make-tjs-model.py`). Alternating A B A B, medians; used by `run-all.ts`, or alone:
 *
 *   npx tsx bench/e2e-vs-transformers-js.ts [--reps 3] [--fast] [--cores 1,2]
 *
 * (after run-all made bench/out/photos and bench/out/models). `--cores 1,2` runs the same pairs
 * with both processes pinned to the first 1, then 2 CPUs (`taskset -c 0-<n-1>`) and prints a row
 * per core count: how each side's wall time scales with the cores it is given. Both sides are
 * bound by CPU; the ratio at n cores is ours(1)/ours(n) × the ratio at one core, as long as
 * transformers.js (one image per call) does not get faster with more cores.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const ROOT = fileURLToPath(new URL('../', import.meta.url));

export interface EndToEndResult {
  /** Whole-process wall seconds, per repetition. */
  oursSeconds: number[];
  tjsSeconds: number[];
  /** The same processes on a directory of one photo: start-up and the fixed costs. */
  oursOneSeconds: number[];
  tjsOneSeconds: number[];
  images: number;
  /** 1-minute load averages seen. */
  loads: number[];
}

export interface EndToEndOptions {
  photos: string;
  images: number;
  labels: readonly string[];
  /** `bench/out/models` (holding the transformers.js copy `tiny-siglip-tjs`). */
  tjsModels: string;
  out: string;
  reps: number;
  log(message: string): void;
  /** Extra `embed` flags (e.g. `--decode fast`). */
  embedFlags?: readonly string[];
  /** Pin both processes to these CPUs (`taskset -c`, e.g. `0` or `0-1`); absent: every CPU. */
  cpus?: string;
}

function timed(argv: string[], env: NodeJS.ProcessEnv, cpus?: string): { seconds: number; stdout: string } {
  const started = process.hrtime.bigint();
  const [command, args] = cpus === undefined ? [process.execPath, argv] : ['taskset', ['-c', cpus, process.execPath, ...argv]];
  const result = spawnSync(command, args, { cwd: ROOT, env: { ...process.env, ...env }, encoding: 'utf8', maxBuffer: 1 << 24 });
  if (result.error) throw result.error;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  if (result.status !== 0) throw new Error(`${argv.slice(0, 2).join(' ')} exited ${result.status}: ${result.stderr.slice(-2000)}`);
  return { seconds, stdout: result.stdout };
}

/** Builds the bundles (`npm run build`), then times both processes alternating. */
export function endToEndVsTransformersJs(options: EndToEndOptions): EndToEndResult {
  execFileSync('npm', ['run', 'build', '--silent'], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  const bin = join(ROOT, 'apps/producer/bin/siglip-batch.mjs');
  const tiny = join(ROOT, 'fixtures/models/tiny-siglip');
  const runs = join(options.out, 'e2e-runs');
  const result: EndToEndResult = { oursSeconds: [], tjsSeconds: [], oursOneSeconds: [], tjsOneSeconds: [], images: options.images, loads: [] };
  const one = join(options.out, 'e2e-one-photo');
  rmSync(one, { recursive: true, force: true });
  mkdirSync(one, { recursive: true });
  const first = readdirSync(options.photos).sort()[0]!;
  copyFileSync(join(options.photos, first), join(one, first));
  const ours = (rep: number, photos = options.photos, images = options.images) => {
    rmSync(runs, { recursive: true, force: true });
    const { seconds, stdout } = timed(
      [bin, 'embed', '--source', photos, '--out', runs, '--model', tiny, '--labels', options.labels.join(','), '--run', `e2e-${rep}`, '--json', ...(options.embedFlags ?? [])],
      { SIGLIP_BATCH_RUN_FROM: 'bundle' },
      options.cpus,
    );
    const counts = (JSON.parse(stdout.trim().split('\n').pop()!) as { counts: { ok: number } }).counts;
    if (counts.ok !== images) throw new Error(`embed: ${counts.ok} of ${images} images embedded`);
    return seconds;
  };
  const tjs = (photos = options.photos, expected = options.images) => {
    const { seconds, stdout } = timed(
      [join(ROOT, 'bench/probes/transformers-js-e2e.mjs'), options.tjsModels, 'tiny-siglip-tjs', photos, JSON.stringify(options.labels), join(options.out, 'tjs-e2e.jsonl')],
      {},
      options.cpus,
    );
    const { images } = JSON.parse(stdout.trim().split('\n').pop()!) as { images: number };
    if (images !== expected) throw new Error(`transformers.js: ${images} of ${expected} images classified`);
    return seconds;
  };
  // One warm-up of each (file system cache), not counted.
  ours(-1);
  tjs();
  for (let rep = 0; rep < options.reps; rep++) {
    result.oursSeconds.push(ours(rep));
    result.tjsSeconds.push(tjs());
    result.oursOneSeconds.push(ours(rep, one, 1));
    result.tjsOneSeconds.push(tjs(one, 1));
    result.loads.push(loadavg()[0]!);
    options.log(`  rep ${rep + 1}: siglip-batch embed ${result.oursSeconds[rep]!.toFixed(2)} s, transformers.js script ${result.tjsSeconds[rep]!.toFixed(2)} s (${options.images} photos, start-up included); one photo: ${result.oursOneSeconds[rep]!.toFixed(2)} s vs ${result.tjsOneSeconds[rep]!.toFixed(2)} s`);
  }
  return result;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const { values: args } = parseArgs({ options: { reps: { type: 'string', default: '3' }, fast: { type: 'boolean', default: false }, cores: { type: 'string' } } });
  const reps = Number(args.reps);
  if (!Number.isInteger(reps) || reps < 1) throw new Error(`--reps must be a positive integer, got ${args.reps}`);
  const flags = args.fast ? ['--decode', 'fast'] : [];
  const cores = args.cores === undefined ? [undefined] : args.cores.split(',').map((c) => {
    const n = Number(c);
    if (!Number.isInteger(n) || n < 1 || n > availableParallelism()) throw new Error(`--cores: ${c} is not a core count between 1 and ${availableParallelism()}`);
    return n;
  });
  const out = join(ROOT, 'bench/out');
  const labels = ['cat', 'dog', 'astronaut', 'rocket', 'coffee', 'moon', 'motorcycle', 'coins', 'camera', 'galaxy', 'person', 'tree'];
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  const rows: Array<{ cores: number | undefined; ours: number; tjs: number; ratio: number }> = [];
  for (const n of cores) {
    if (n !== undefined) console.error(`pinned to ${n} core(s): taskset -c 0-${n - 1}`);
    const r = endToEndVsTransformersJs({
      photos: join(out, 'photos'), images: 320, labels, tjsModels: join(out, 'models'), out, reps, log: console.error, embedFlags: flags,
      ...(n === undefined ? {} : { cpus: `0-${n - 1}` }),
    });
    const ratios = r.oursSeconds.map((s, i) => r.tjsSeconds[i]! / s);
    rows.push({ cores: n, ours: median(r.oursSeconds), tjs: median(r.tjsSeconds), ratio: median(ratios) });
    console.log(
      `end to end, start-up included${n === undefined ? '' : `, ${n} core(s)`}: siglip-batch embed ${median(r.oursSeconds).toFixed(2)} s vs transformers.js ${median(r.tjsSeconds).toFixed(2)} s → ${median(ratios).toFixed(2)}× ` +
        `(one photo: ${median(r.oursOneSeconds).toFixed(2)} s vs ${median(r.tjsOneSeconds).toFixed(2)} s) ` +
        `(per rep ${ratios.map((x) => x.toFixed(2)).join(', ')}; load ${Math.min(...r.loads).toFixed(1)}–${Math.max(...r.loads).toFixed(1)})`,
    );
  }
  if (rows.length > 1 && rows[0]!.cores !== undefined) {
    const first = rows[0]!;
    console.log(
      `scaling from ${first.cores} core(s): ` +
        rows.map((row) => `${row.cores}: ours ${(first.ours / row.ours).toFixed(2)}×, transformers.js ${(first.tjs / row.tjs).toFixed(2)}×`).join('; '),
    );
  }
}
