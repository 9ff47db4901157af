/**
 * The two fair feed-rate rows of `run-all.ts` alone (issue 18), for profiling and A/B trials:
 * the worker's shard handler on the photo set from a local directory ÷ the preprocessing pool
 * alone on the same photos from memory, exact and fast, A B A B, with the CPU ms per image of
 * every thread of the process (getrusage) and the shard's own timings.
 *
 *   npx tsx bench/probes/feed-rate.ts [reps] [exact|fast|both] [--e2e N]
 *
 * `--e2e N` then runs N repetitions of the end-to-end row against transformers.js in the same
 * process (`e2e-vs-transformers-js.ts`: builds the bundles, needs bench/out/models from
 * `make-tjs-model.py`), so that the issue-18 rows are measured in one run. `FEED_THREADS=1`
 * prints the CPU ms per image of every thread.
 *   node --cpu-prof --cpu-prof-dir bench/out/prof/feed --import tsx bench/probes/feed-rate.ts 1 exact
 */
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { DecodeSpec, LabelSpec } from '@siglip-batch/jobs';
import { loadModelDir, PreprocessPool } from '@siglip-batch/model';
import { buildRunSpec, createRunContext, loadSiglipModel, planRun, processShard } from '@siglip-batch/pipeline';
import { endToEndVsTransformersJs } from '../e2e-vs-transformers-js';
import { makePhotoSet } from '../photo-set';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const OUT = join(ROOT, 'bench/out');
const PHOTOS = join(OUT, 'photos');
const TINY = join(ROOT, 'fixtures/models/tiny-siglip');
const CORES = availableParallelism();
const REPS = Number(process.argv[2] ?? 3);
const E2E_REPS = process.argv.includes('--e2e') ? Number(process.argv[process.argv.indexOf('--e2e') + 1]) : 0;
const MODES = (process.argv[3] ?? 'both') === 'both' ? ['exact', 'fast'] : [process.argv[3]!];
const LABELS: LabelSpec[] = ['cat', 'dog', 'astronaut', 'rocket', 'coffee', 'moon', 'motorcycle', 'coins', 'camera', 'galaxy', 'person', 'tree'].map((label) => ({ label, prompts: [], threshold: 0.1 }));
const FAST: DecodeSpec = { mode: 'fast', reducingGap: 2 };

const names = await makePhotoSet(join(ROOT, 'fixtures/images'), PHOTOS, 320);
const photos = names.map((name) => readFileSync(join(PHOTOS, name)));
const model = await loadSiglipModel(TINY, { device: 'cpu', variant: 'fp32' });
const config = (await loadModelDir(TINY, { verifyContentHash: false })).preprocess;
const pools = { exact: await PreprocessPool.start(config, { threads: CORES }), fast: await PreprocessPool.start(config, { threads: CORES, decode: FAST }) };
rmSync(join(OUT, 'runs-feed'), { recursive: true, force: true });
const contexts: Record<string, Awaited<ReturnType<typeof createRunContext>>> = {};
for (const mode of MODES) {
  const spec = buildRunSpec({ runId: `feed-${process.pid}-${mode}`, source: PHOTOS, output: join(OUT, 'runs-feed'), model: model.ref, labels: LABELS, ...(mode === 'fast' ? { decode: FAST } : {}) });
  const context = await createRunContext(spec, model);
  await context.folder.writeRunSpec(spec);
  await planRun({ folder: context.folder, spec, onShard: async () => undefined });
  contexts[mode] = context;
}

/** CPU ticks (user + system, 1/100 s) of every thread of this process, by thread name. */
const threadTicks = (): Map<string, number> => {
  const ticks = new Map<string, number>();
  for (const tid of readdirSync('/proc/self/task')) {
    try {
      const stat = readFileSync(`/proc/self/task/${tid}/stat`, 'utf8');
      const name = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      ticks.set(`${name}#${tid}`, Number(fields[11]) + Number(fields[12]));
    } catch {
      // the thread ended
    }
  }
  return ticks;
};
const byThread = (before: Map<string, number>, after: Map<string, number>): string => {
  const groups = new Map<string, number>();
  for (const [key, value] of after) {
    const delta = value - (before.get(key) ?? 0);
    if (delta > 0) groups.set(key, (groups.get(key) ?? 0) + delta);
  }
  return [...groups].sort((a, b) => b[1] - a[1]).map(([k, v]) => `${k}:${((v * 10) / photos.length).toFixed(1)}`).join(' ');
};
const cpu = async (run: () => Promise<unknown>) => {
  const t0s = threadTicks();
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  const extra = await run();
  const c = process.cpuUsage(c0);
  const threads = byThread(t0s, threadTicks());
  return { rate: photos.length / ((performance.now() - t0) / 1000), cpuMs: (c.user + c.system) / 1000 / photos.length, extra, threads };
};
const bare = (pool: PreprocessPool) => cpu(async () => {
  let next = 0;
  await Promise.all(Array.from({ length: CORES * 2 }, async () => {
    while (next < photos.length) await pool.preprocess(photos[next++]!);
  }));
});
const worker = (mode: string) => cpu(async () => (await processShard(contexts[mode]!, 0, { workerId: 'feed', attempt: 1 })).timingsMs);

for (const mode of MODES) await worker(mode); // warm-up
for (let r = 0; r < REPS; r++) {
  for (const mode of MODES) {
    const pool = pools[mode as 'exact' | 'fast'];
    const b1 = await bare(pool);
    const a = await worker(mode);
    const b2 = await bare(pool);
    const b = (b1.rate + b2.rate) / 2;
    const t = a.extra as Record<string, number>;
    console.log(
      `${mode} rep ${r + 1}: ${(a.rate / b).toFixed(2)}× (${a.rate.toFixed(1)} ÷ ${b.toFixed(1)} img/s), CPU ms/img ${a.cpuMs.toFixed(1)} ÷ ${((b1.cpuMs + b2.cpuMs) / 2).toFixed(1)}, ` +
        `shard ms/img fetch ${(t['fetchMs']! / 320).toFixed(1)} decode ${(t['decodeMs']! / 320).toFixed(1)} infer ${(t['inferMs']! / 320).toFixed(2)} write ${(t['writeMs']! / 320).toFixed(2)}, load ${loadavg()[0]!.toFixed(1)}`,
    );
    if (process.env['FEED_THREADS']) console.log(`  CPU ms/img by thread: worker ${a.threads}\n  bare ${b1.threads}`);
  }
}
for (const context of Object.values(contexts)) context.close();
await Promise.all([pools.exact.close(), pools.fast.close(), model.close()]);

if (E2E_REPS > 0) {
  const labels = LABELS.map((l) => l.label);
  const r = endToEndVsTransformersJs({ photos: PHOTOS, images: photos.length, labels, tjsModels: join(OUT, 'models'), out: OUT, reps: E2E_REPS, log: console.error });
  const ratios = r.oursSeconds.map((s, i) => r.tjsSeconds[i]! / s);
  const median = (v: number[]) => [...v].sort((a, b) => a - b)[v.length >> 1]!;
  console.log(
    `end to end, start-up included: siglip-batch embed ${median(r.oursSeconds).toFixed(2)} s vs transformers.js ${median(r.tjsSeconds).toFixed(2)} s → ${median(ratios).toFixed(2)}× ` +
      `(per rep ${ratios.map((x) => x.toFixed(2)).join(', ')}; ours ${r.oursSeconds.map((x) => x.toFixed(2)).join(' / ')} s, transformers.js ${r.tjsSeconds.map((x) => x.toFixed(2)).join(' / ')} s; ` +
      `one photo ${r.oursOneSeconds.map((x) => x.toFixed(2)).join(' / ')} s vs ${r.tjsOneSeconds.map((x) => x.toFixed(2)).join(' / ')} s; load ${r.loads.map((x) => x.toFixed(1)).join(', ')})`,
  );
}
