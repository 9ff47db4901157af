/**
 * `npm run bench:scale` (issue 13, item 7): the control plane at 1e5, 1e6 and 1e7 objects, with a
 * synthetic S3 endpoint (list-endpoint.ts, 50 ms per listing page), synthetic S3 Inventory files
 * and a synthetic shard completer (no model), driving the real producer, finaliser, index update
 * and `latest` (real-code.ts), each in a process of its own (phase.ts). Prints a table per size,
 * the nightly run's index writes, an extrapolation to 2e9 and 5.85e9 objects and the targets,
 * ending with `scale: N of M targets met`. Not in CI.
 *
 *   npm run bench:scale -- --quick            # 1e5 and 1e6 (< 10 min on the 2-core machine)
 *   npm run bench:scale                       # 1e5, 1e6 and 1e7
 *   npm run bench:scale -- --sizes 1e5,3e5 --units 1,4 --page-ms 50 --nightly-size 3e5
 *   npm run bench:scale -- --quick --plan-only  # the planning rows alone, with their ratios
 *
 * Each number of units is planned by one producer process, then (several units) by `--producers`
 * processes (default 2, 0: not measured) sharing the run's planning queue, as the CronJob's pods do.
 *
 * Needs Redis (REDIS_URL, default redis://127.0.0.1:6379; keys under a prefix of its own, deleted
 * at the end). Writes under bench/out/scale/ (deleted at the end unless --keep).
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { bytesUnder, indexBytesOf } from './index-bytes';
import { Redis } from 'ioredis';
import { queueNameForModel } from '@siglip-batch/jobs';
import { writeInventory } from './inventory-files';
import type { PhaseArgs, PhaseResult } from './phase';
import { planRowLine, reportPlans, type PlanRow } from './plan-report';
import { buildSpec, capabilities } from './real-code';

const { values } = parseArgs({
  options: {
    quick: { type: 'boolean', default: false },
    sizes: { type: 'string' },
    units: { type: 'string', default: '1,4,16' },
    'page-ms': { type: 'string', default: '50' },
    'nightly-size': { type: 'string' },
    'inventory-files': { type: 'string', default: '16' },
    concurrency: { type: 'string', default: '4' },
    keep: { type: 'boolean', default: false },
    'no-inventory': { type: 'boolean', default: false },
    'phase-timeout': { type: 'string', default: '15' },
    // Planning rows only (no completer, finaliser, index, latest, nightly run).
    'plan-only': { type: 'boolean', default: false },
    // Producer processes sharing the planning units in the multi-process rows (0: none).
    producers: { type: 'string', default: '2' },
  },
});
const sizes = (values.sizes ?? (values.quick ? '1e5,1e6' : '1e5,1e6,1e7')).split(',').map(Number);
const units = values.units.split(',').map(Number);
const pageMs = Number(values['page-ms']);
const nightlySize = Number(values['nightly-size'] ?? sizes.at(-1));
const producers = Number(values.producers);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const OUT = resolve('bench/out/scale');
const prefixBase = `scalebench-${process.pid}`;
const caps = capabilities();
const loads: number[] = [];
const startedAt = new Date();
const log = (message: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);

process.env['AWS_ACCESS_KEY_ID'] ??= 'scale-bench';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'scale-bench';
process.env['AWS_REGION'] ??= 'us-east-1';

function startEndpoint(): Promise<{ endpoint: string; stop(): void }> {
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('bench/scale/list-endpoint.ts'), String(pageMs), String(pageMs)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done, fail) => {
    child.once('exit', (code) => fail(new Error(`endpoint exited (${code})`)));
    child.stdout.once('data', (data: Buffer) => done({ endpoint: (JSON.parse(String(data)) as { endpoint: string }).endpoint, stop: () => child.kill() }));
  });
}

/** A measured process that had not finished after `--phase-timeout` minutes (it is stopped). */
class PhaseTimeout extends Error {}

async function phase(args: PhaseArgs): Promise<PhaseResult> {
  loads.push(loadavg()[0]!);
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('bench/scale/phase.ts'), JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, AWS_ENDPOINT_URL_S3: args.endpoint },
  });
  let stdout = '';
  child.stdout.on('data', (data: Buffer) => (stdout += String(data)));
  const timeoutMs = Number(values['phase-timeout']) * 60_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGTERM');
    setTimeout(() => child.kill('SIGKILL'), 5000).unref();
  }, timeoutMs);
  const code: number = await new Promise((done) => child.once('exit', (c) => done(c ?? 1)));
  clearTimeout(timer);
  loads.push(loadavg()[0]!);
  if (timedOut) throw new PhaseTimeout(`phase ${args.phase} of ${args.runId} had not finished after ${values['phase-timeout']} min`);
  if (code !== 0) throw new Error(`phase ${args.phase} of ${args.runId} failed (exit ${code})`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as PhaseResult;
}

async function endpointStats(endpoint: string, reset = false): Promise<Record<string, number>> {
  const stats = (await (await fetch(`${endpoint}/__stats`)).json()) as Record<string, number>;
  if (reset) await fetch(`${endpoint}/__reset`, { method: 'POST' });
  return stats;
}

/** Bytes Redis holds for a prefix (MEMORY USAGE of each key): the queue's keys, and the rest (run state). */
async function redisBytes(redis: Redis, prefix: string, queue: string): Promise<{ queue: number; run: number; jobs: number }> {
  const totals = { queue: 0, run: 0, jobs: 0 };
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    const pipe = redis.pipeline();
    for (const key of keys) pipe.memory('USAGE', key);
    const sizes = (await pipe.exec()) ?? [];
    keys.forEach((key, i) => {
      const bytes = Number(sizes[i]?.[1] ?? 0);
      if (key.startsWith(`${prefix}:${queue}:`)) {
        totals.queue += bytes;
        if (/:\d+$/.test(key) || /:shard[^:]*$/.test(key)) totals.jobs++;
      } else totals.run += bytes;
    });
  } while (cursor !== '0');
  return totals;
}

async function dropPrefix(redis: Redis, prefix: string): Promise<void> {
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) await redis.unlink(...keys);
  } while (cursor !== '0');
}

const fmt = (n: number, digits = 0) => n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
const mb = (bytes: number) => `${fmt(bytes / 1e6, 1)} MB`;
const gb = (bytes: number) => (bytes >= 1e9 ? `${fmt(bytes / 1e9, bytes >= 1e11 ? 0 : 1)} GB` : mb(bytes));
const label = (n: number) => n.toExponential(0).replace('+', '');

interface SizeResult {
  objects: number;
  plans: PlanRow[];
  complete: PhaseResult;
  finalize: PhaseResult;
  index: PhaseResult;
  latest: PhaseResult;
  manifestBytes: number;
  manifestSideBytes: number;
  indexBytes: { output: number; runs: number; total: number };
  redisAfter: { queue: number; run: number; jobs: number };
  shards: number;
}

async function measureSize(objects: number, endpoint: string, redis: Redis): Promise<SizeResult> {
  const root = join(OUT, `n${label(objects)}`);
  rmSync(root, { recursive: true, force: true });
  mkdirSync(root, { recursive: true });
  const bucket = `src-${label(objects)}`;
  await fetch(`${endpoint}/__bucket/${bucket}?objects=${objects}`, { method: 'PUT' });
  const queue = queueNameForModel(buildSpec({ runId: 'x', source: 's3://bucket/', output: root, incremental: false }).model.hash, 'fp32');
  const plans: PlanRow[] = [];
  const sources: Array<{ kind: 'listing' | 'inventory'; uri: string }> = [{ kind: 'listing', uri: `s3://${bucket}/` }];
  if (caps.inventoryKind && !values['no-inventory']) {
    const invRoot = join(OUT, 'inventory');
    mkdirSync(invRoot, { recursive: true });
    await fetch(`${endpoint}/__files/inventory?dir=${encodeURIComponent(invRoot)}`, { method: 'PUT' });
    log(`${label(objects)}: writing the inventory report`);
    const key = await writeInventory(invRoot, 'inventory', bucket, objects, Number(values['inventory-files']));
    sources.push({ kind: 'inventory', uri: `s3://inventory/${key}` });
  }
  // The run the later phases work on (none with --plan-only).
  const pipelineRun = values['plan-only'] ? '' : `run-u${units.at(-1)}`;
  for (const source of sources) {
    for (const u of units) {
      // One producer process planning every unit, then (several units) the units shared by
      // `--producers` processes, as the CronJob's pods share them (--planners each).
      const groups = [1];
      if (u > 1 && producers > 1) groups.push(Math.min(producers, u));
      for (const processes of groups) {
        const runId = `${source.kind === 'listing' ? 'run' : 'inv'}-u${u}${processes > 1 ? `-p${processes}` : ''}`;
        const prefix = `${prefixBase}-${label(objects)}-${runId}`;
        await endpointStats(endpoint, true);
        log(`${label(objects)}: plan (${source.kind}, ${u} unit${u > 1 ? 's' : ''}, ${processes} process${processes > 1 ? 'es' : ''})`);
        const planners = Math.ceil(u / processes);
        const results = await Promise.all(Array.from({ length: processes }, () => phase({ phase: 'plan', root, runId, source: source.uri, units: u, planners, endpoint, redisUrl, prefix })));
        const atEndpoint = await endpointStats(endpoint);
        // Wall time from the first process starting to plan to the last one done.
        const ms = Math.max(...results.map((r) => r.startedAtMs + r.ms)) - Math.min(...results.map((r) => r.startedAtMs));
        const planned = results[0]!.result as { objectsPlanned: number; shardsPlanned: number; unitsSplit: number };
        for (const r of results) {
          const mine = r.result as { objectsPlanned: number };
          if (mine.objectsPlanned !== objects) throw new Error(`${runId}: planned ${mine.objectsPlanned} of ${objects} objects`);
        }
        plans.push({
          source: source.kind,
          units: u,
          processes,
          unitsSplit: planned.unitsSplit,
          objectsPerS: planned.objectsPlanned / (ms / 1000),
          ms,
          cpuMs: results.reduce((sum, r) => sum + r.cpuMs, 0),
          endpointCpuMs: atEndpoint['cpu-ms'] ?? 0,
          peakRss: Math.max(...results.map((r) => r.peakRssBytes)),
          requests: results.reduce((sum, r) => sum + r.counts.requests, 0),
          endpointRequests: Object.entries(atEndpoint).filter(([k]) => !k.includes('keys') && !k.includes('bytes') && !k.includes('cpu')).reduce((a, [, v]) => a + v, 0),
          redis: await redisBytes(redis, prefix, queue),
          shards: planned.shardsPlanned,
        });
        if (runId !== pipelineRun) {
          await dropPrefix(redis, prefix);
          rmSync(join(root, runId), { recursive: true, force: true });
        }
      }
    }
  }
  if (values['plan-only']) return { objects, plans } as SizeResult;
  const prefix = `${prefixBase}-${label(objects)}-${pipelineRun}`;
  const common = { root, runId: pipelineRun, endpoint, redisUrl, prefix };
  log(`${label(objects)}: synthetic shard completer`);
  const complete = await phase({ ...common, phase: 'complete', concurrency: Number(values.concurrency) });
  const redisAfter = await redisBytes(redis, prefix, queue);
  log(`${label(objects)}: finalise`);
  const finalize = await phase({ ...common, phase: 'finalize' });
  const runFolder = join(root, pipelineRun);
  const manifestBytes = bytesUnder(runFolder, (name) => name === '_manifest.json');
  const manifestSideBytes = readdirSync(runFolder, { withFileTypes: true })
    .filter((e) => e.name.includes('manifest') && e.name !== '_manifest.json')
    .reduce((sum, e) => sum + (e.isDirectory() ? bytesUnder(join(runFolder, e.name)) : statSync(join(runFolder, e.name)).size), 0);
  log(`${label(objects)}: index update`);
  const index = caps.separateIndexUpdate ? await phase({ ...common, phase: 'index' }) : finalize;
  log(`${label(objects)}: latest`);
  const latest = await phase({ ...common, phase: 'latest' });
  const indexBytes = indexBytesOf(root);
  return { objects, plans, complete, finalize, index, latest, manifestBytes, manifestSideBytes, indexBytes, redisAfter, shards: plans.at(-1)!.shards };
}

interface Nightly {
  objects: number;
  added: number;
  indexBytesBefore: { output: number; runs: number; total: number };
  written: number;
  byPhase: Record<string, number>;
  planned: number;
  /** Wall time of the incremental producer (listing + diff against the index). */
  planMs: number;
  /** Set when a phase did not finish within --phase-timeout. */
  unfinished?: string;
}

async function measureNightly(objects: number, endpoint: string): Promise<Nightly> {
  const indexBefore = indexBytesOf(join(OUT, `n${label(objects)}`));
  try {
    return await nightlyRun(objects, endpoint);
  } catch (error) {
    if (!(error instanceof PhaseTimeout)) throw error;
    const listed = (await endpointStats(endpoint))['listed-keys'] ?? 0;
    log(error.message);
    return { objects, added: Math.round(objects * 0.01), indexBytesBefore: indexBefore, written: Number.NaN, byPhase: {}, planned: 0, planMs: Number.NaN, unfinished: `${error.message} (the source listing had reached ${fmt(listed)} keys)` };
  }
}

async function nightlyRun(objects: number, endpoint: string): Promise<Nightly> {
  const root = join(OUT, `n${label(objects)}`);
  const bucket = `src-${label(objects)}`;
  const grown = Math.round(objects * 1.01);
  await fetch(`${endpoint}/__bucket/${bucket}?objects=${grown}`, { method: 'PUT' });
  const indexBytesBefore = indexBytesOf(root);
  const prefix = `${prefixBase}-${label(objects)}-nightly`;
  const common = { root, runId: 'nightly', endpoint, redisUrl, prefix };
  const byPhase: Record<string, number> = {};
  await endpointStats(endpoint, true);
  log(`nightly: plan (incremental, ${grown - objects} new objects)`);
  const plan = await phase({ ...common, phase: 'plan', source: `s3://${bucket}/`, incremental: true, units: units.at(-1)! });
  byPhase['producer'] = plan.counts.indexPutBytes;
  log('nightly: synthetic shard completer');
  byPhase['shard commits'] = (await phase({ ...common, phase: 'complete', concurrency: Number(values.concurrency) })).counts.indexPutBytes;
  log('nightly: finalise');
  const finalize = await phase({ ...common, phase: 'finalize' });
  byPhase['finaliser'] = finalize.counts.indexPutBytes;
  if (caps.separateIndexUpdate) {
    log('nightly: index update');
    byPhase['index update'] = (await phase({ ...common, phase: 'index' })).counts.indexPutBytes;
  }
  const written = Object.values(byPhase).reduce((a, b) => a + b, 0);
  return { objects, added: grown - objects, indexBytesBefore, written, byPhase, planned: (plan.result as { objectsPlanned: number }).objectsPlanned, planMs: plan.ms };
}

/** a + b·x through the two points (flat when only one). */
function linear(x1: number, y1: number, x2: number | undefined, y2: number | undefined): (x: number) => number {
  if (x2 === undefined || y2 === undefined || x2 === x1) return () => y1;
  const b = (y2 - y1) / (x2 - x1);
  return (x) => y2 + b * (x - x2);
}

function report(results: SizeResult[], nightly: Nightly | undefined, endpointLists: number, baseline: PhaseResult): void {
  const out: string[] = [];
  const minutes = (Date.now() - startedAt.getTime()) / 60_000;
  out.push(`## scale bench — ${startedAt.toISOString().slice(0, 16)}Z, ${fmt(minutes, 1)} min, load average ${fmt(Math.min(...loads), 2)}–${fmt(Math.max(...loads), 2)}, ${pageMs} ms per listing page`);
  out.push('');
  out.push(`capabilities found: planning units ${caps.planningUnits ? 'yes' : 'NO (every unit count runs the one listing)'}; index update separate from the finaliser ${caps.separateIndexUpdate ? 'yes' : 'no'}; S3 Inventory source ${caps.inventoryKind ? `yes (${caps.inventoryKind})` : 'NO (listing only)'}`);
  out.push('');
  out.push(`An idle process with the same modules loaded (the floor of every peak RSS below): ${mb(baseline.peakRssBytes)}.`);
  for (const r of results) {
    out.push('');
    out.push(`### ${fmt(r.objects)} objects (${fmt(r.shards)} shards)`);
    out.push('');
    out.push('| process | wall | objects/s | CPU | peak RSS | store requests | notes |');
    out.push('|---|---:|---:|---:|---:|---:|---|');
    for (const p of r.plans) out.push(planRowLine(p));
    const row = (name: string, x: PhaseResult, notes: string) => out.push(`| ${name} | ${fmt(x.ms / 1000, 1)} s | ${fmt(r.objects / (x.ms / 1000))} | ${fmt(x.cpuMs / 1000, 1)} s | ${mb(x.peakRssBytes)} | ${fmt(x.counts.requests)} | ${notes} |`);
    row('synthetic shard completer (not a target)', r.complete, `writes ${mb(r.complete.counts.putBytes)} (index ${mb(r.complete.counts.indexPutBytes)})`);
    row('finaliser', r.finalize, `_manifest.json ${fmt(r.manifestBytes)} B; side file(s) ${fmt(r.manifestSideBytes)} B`);
    if (r.index !== r.finalize) row('index update', r.index, `index on disk ${mb(r.indexBytes.total)} (output \`_index/\` ${mb(r.indexBytes.output)}, runs' contributions ${mb(r.indexBytes.runs)}); written ${mb(r.index.counts.indexPutBytes)}`);
    else out.push(`| index update | (inside the finaliser) | | | | | index on disk ${mb(r.indexBytes.total)} |`);
    row('latest', r.latest, `rows ${fmt((r.latest.result as { rows: number }).rows)}`);
    out.push(`| Redis after the shards are done | | | | | | queue ${mb(r.redisAfter.queue)}, run state ${mb(r.redisAfter.run)} |`);
  }
  if (nightly) {
    out.push('');
    out.push(`### nightly incremental run: +${fmt(nightly.added)} new objects (1 %) on an index of ${fmt(nightly.objects)}`);
    out.push('');
    if (nightly.unfinished) out.push(`NOT MEASURED: ${nightly.unfinished}; index ${mb(nightly.indexBytesBefore.total)} before.`);
    else out.push(`planned ${fmt(nightly.planned)} objects in ${fmt(nightly.planMs / 1000, 1)} s (listing + diff against the index, ${units.at(-1)} planners); index ${mb(nightly.indexBytesBefore.total)} before (output \`_index/\` ${mb(nightly.indexBytesBefore.output)}, runs' contributions ${mb(nightly.indexBytesBefore.runs)}); bytes put under any \`_index/\`: ${mb(nightly.written)} = ${fmt((100 * nightly.written) / Math.max(1, nightly.indexBytesBefore.total), 1)} % of the index (${Object.entries(nightly.byPhase).map(([k, v]) => `${k} ${mb(v)}`).join(', ')})`);
  }
  // Extrapolation from the two largest sizes (per-object and per-shard costs).
  const last = results.at(-1)!;
  const prev = results.length > 1 ? results.at(-2) : undefined;
  const u1 = (r: SizeResult) => r.plans.find((p) => p.source === 'listing' && p.units === 1);
  const uMax = (r: SizeResult) => r.plans.filter((p) => p.source === 'listing' && p.processes === 1).at(-1)!;
  const perObject = (pick: (r: SizeResult) => number) => pick(last) / last.objects;
  out.push('');
  out.push(`### extrapolation (from the measured per-object costs at ${fmt(last.objects)}${prev ? `, memory and Redis fitted through ${fmt(prev.objects)} and ${fmt(last.objects)}` : ''}; shard size 1,000; one process of each kind)`);
  out.push('');
  out.push('| objects | planning, 1 unit | planning, max units | finaliser | index update | latest | store requests (every process, the workers’ commits included) | source requests | Redis (jobs bounded by backpressure: 200 waiting + 10,000 kept) | peak RSS producer / finaliser / index / latest |');
  out.push('|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|');
  const hours = (ms: number) => `${fmt(ms / 3.6e6, 1)} h`;
  const perJob = last.plans.length > 0 ? uMax(last).redis.queue / Math.max(1, uMax(last).shards) : 0;
  const runState = linear(prev?.shards ?? last.shards, prev?.redisAfter.run ?? last.redisAfter.run, prev ? last.shards : undefined, prev ? last.redisAfter.run : undefined);
  // Peak memory: the largest measurement plus its growth per object between the two largest sizes (none when it shrank).
  const rss = (pick: (r: SizeResult) => number) => (n: number) => pick(last) + (prev ? Math.max(0, (pick(last) - pick(prev)) / (last.objects - prev.objects)) * (n - last.objects) : 0);
  const rssFns = [(r: SizeResult) => uMax(r).peakRss, (r: SizeResult) => r.finalize.peakRssBytes, (r: SizeResult) => r.index.peakRssBytes, (r: SizeResult) => r.latest.peakRssBytes].map(rss);
  for (const n of [2e9, 5.85e9]) {
    const shards = n / 1000;
    const requests = n * perObject((r) => uMax(r).requests + r.complete.counts.requests + r.finalize.counts.requests + (r.index === r.finalize ? 0 : r.index.counts.requests) + r.latest.counts.requests);
    const redisBytes = runState(shards) + Math.min(shards, 10_200) * perJob;
    out.push(
      `| ${n.toExponential(2)} | ${u1(last) ? hours((n / u1(last)!.objectsPerS) * 1000) : '–'} | ${hours((n / uMax(last).objectsPerS) * 1000)} | ${hours(n * perObject((r) => r.finalize.ms))} | ${r0(last) ? hours(n * perObject((r) => r.index.ms)) : '(in finaliser)'} | ${hours(n * perObject((r) => r.latest.ms))} | ${fmt(requests / 1e6, 1)} M | ${fmt((n * endpointLists) / last.objects / 1e6, 2)} M | ${mb(redisBytes)} | ${rssFns.map((f) => gb(f(n))).join(' / ')} |`,
    );
  }
  function r0(r: SizeResult) {
    return r.index !== r.finalize;
  }
  // Targets.
  const targets: Array<{ name: string; value: string; met: boolean }> = [];
  for (const source of ['listing', 'inventory'] as const) {
    const one = last.plans.find((p) => p.source === source && p.units === 1);
    // 4 units as users run them: shared by several producer processes when the bench ran that, and in one process.
    const fours = last.plans.filter((p) => p.source === source && p.units === 4).sort((a, b) => b.processes - a.processes);
    if (one && fours.length > 0) {
      const ratios = fours.map((four) => `${fmt(four.objectsPerS / one.objectsPerS, 2)}× in ${four.processes} process${four.processes > 1 ? 'es' : ''} (${fmt(four.objectsPerS)} ÷ ${fmt(one.objectsPerS)} objects/s)`);
      const ratio = fours[0]!.objectsPerS / one.objectsPerS;
      targets.push({ name: `planning (${source}) at ${fmt(last.objects)}: 4 units ≥ 3.5× one unit`, value: ratios.join('; '), met: ratio >= 3.5 });
    }
  }
  if (prev) {
    const pairs: Array<[string, (r: SizeResult) => number]> = [
      ['producer', (r) => uMax(r).peakRss],
      ['finaliser', (r) => r.finalize.peakRssBytes],
      ['index update', (r) => r.index.peakRssBytes],
      ['latest', (r) => r.latest.peakRssBytes],
    ];
    for (const [name, pick] of pairs) {
      const ratio = pick(last) / pick(prev);
      targets.push({ name: `peak RSS of ${name}: ${label(last.objects)} ≤ 1.3× ${label(prev.objects)}`, value: `${fmt(ratio, 2)}× (${mb(pick(last))} ÷ ${mb(pick(prev))})`, met: ratio <= 1.3 });
    }
  }
  if (nightly) {
    const share = nightly.written / Math.max(1, nightly.indexBytesBefore.total);
    const name = `nightly +1 % on an index of ${fmt(nightly.objects)}: index bytes written ≤ 5 % of the index`;
    if (nightly.unfinished) targets.push({ name, value: `not measured: ${nightly.unfinished}`, met: false });
    else targets.push({ name, value: `${fmt(100 * share, 1)} % (${mb(nightly.written)} of ${mb(nightly.indexBytesBefore.total)})`, met: share <= 0.05 });
  }
  out.push('');
  out.push('### targets');
  out.push('');
  out.push('| target | measured | met |');
  out.push('|---|---|---|');
  for (const t of targets) out.push(`| ${t.name} | ${t.value} | ${t.met ? 'yes' : 'NO'} |`);
  out.push('');
  out.push(`scale: ${targets.filter((t) => t.met).length} of ${targets.length} targets met`);
  process.stdout.write(`${out.join('\n')}\n`);
}

async function main(): Promise<void> {
  log(`sizes ${sizes.map(label).join(', ')}; units ${units.join(', ')}; ${pageMs} ms per page; capabilities ${JSON.stringify(caps)}`);
  const { endpoint, stop } = await startEndpoint();
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
  const results: SizeResult[] = [];
  let nightly: Nightly | undefined;
  let endpointLists = 0;
  try {
    mkdirSync(OUT, { recursive: true });
    const baseline = await phase({ phase: 'baseline', root: OUT, runId: 'baseline', endpoint, redisUrl, prefix: prefixBase });
    for (const objects of sizes) {
      results.push(await measureSize(objects, endpoint, redis));
      if (values['plan-only']) continue;
      // What is measured so far, in case a later size does not finish.
      writeFileSync(join(OUT, 'results.json'), JSON.stringify({ results, baseline }, null, 1));
      const last = results.at(-1)!;
      const listing = last.plans.find((p) => p.source === 'listing' && p.units === units.at(-1) && p.processes === 1);
      endpointLists = listing?.endpointRequests ?? 0;
      if (objects === nightlySize) {
        nightly = await measureNightly(objects, endpoint);
        writeFileSync(join(OUT, 'results.json'), JSON.stringify({ results, baseline, nightly }, null, 1));
      }
    }
    if (values['plan-only']) reportPlans(results, { startedAt, loads, pageMs });
    else report(results, nightly, endpointLists, baseline);
  } finally {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefixBase}-*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    stop();
    if (!values.keep) for (const objects of sizes) rmSync(join(OUT, `n${label(objects)}`), { recursive: true, force: true });
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
