/**
 * The index update and `latest` of the scale bench alone (issue 13, item 5): for each size, a run
 * planned over the synthetic listing (16 planners), completed and finalised once, then the index
 * update and `latest` measured, each in a process of its own (phase.ts), as in scale-bench.ts.
 * With `--reuse`, a size whose run is already there (kept by an earlier `--keep`) only has its
 * output index and `_latest/` deleted and the two phases measured again.
 *
 *   npx tsx bench/scale/index-phases.ts --sizes 1e5,1e6 --keep
 *   npx tsx bench/scale/index-phases.ts --sizes 1e5,1e6 --reuse --keep
 *   npx tsx bench/scale/index-phases.ts --sizes 1e7 --nightly-only --keep   # after a run that kept 1e7
 *   npx tsx bench/scale/index-phases.ts --sizes 1e5,1e6 --reuse --keep --only index --node-flags=--max-semi-space-size=16
 *
 * Without `--reuse`, the producer (planning the run, 16 units) and the finaliser get rows too.
 * `--only index` (or `latest`) measures one of the two; `--node-flags` are given to node for the
 * measured phases (V8 flags, space-separated). Beside each peak RSS, the largest young generation,
 * old generation, buffers outside the heap and the rest of the RSS seen (phase.ts `memory`).
 *
 * Writes under bench/out/scale-index/ (or `--out`; deleted at the end unless --keep). Needs Redis.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Redis } from 'ioredis';
import { indexBytesOf } from './index-bytes';
import type { PhaseArgs, PhaseResult } from './phase';

const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1e5,1e6' },
    keep: { type: 'boolean', default: false },
    reuse: { type: 'boolean', default: false },
    'page-ms': { type: 'string', default: '5' },
    only: { type: 'string' },
    'node-flags': { type: 'string', default: '' },
    out: { type: 'string', default: 'bench/out/scale-index' },
    'nightly-only': { type: 'boolean', default: false },
  },
});
const sizes = values.sizes.split(',').map(Number);
const redisUrl = process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
const OUT = resolve(values.out);
const label = (n: number) => n.toExponential(0).replace('+', '');
const log = (message: string) => process.stderr.write(`[${new Date().toISOString().slice(11, 19)}] ${message}\n`);
const mb = (bytes: number) => `${(bytes / 1e6).toFixed(1)} MB`;

process.env['AWS_ACCESS_KEY_ID'] ??= 'scale-bench';
process.env['AWS_SECRET_ACCESS_KEY'] ??= 'scale-bench';
process.env['AWS_REGION'] ??= 'us-east-1';

function startEndpoint(): Promise<{ endpoint: string; stop(): void }> {
  const pageMs = values['page-ms'];
  const child = spawn(process.execPath, ['--import', 'tsx', resolve('bench/scale/list-endpoint.ts'), pageMs, pageMs], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((done, fail) => {
    child.once('exit', (code) => fail(new Error(`endpoint exited (${code})`)));
    child.stdout.once('data', (data: Buffer) => done({ endpoint: (JSON.parse(String(data)) as { endpoint: string }).endpoint, stop: () => child.kill() }));
  });
}

const nodeFlags = values['node-flags'].split(' ').filter((flag) => flag !== '');
const measured = new Set(values.only ? [values.only] : ['index', 'latest']);

async function phase(args: PhaseArgs): Promise<PhaseResult> {
  const flags = args.phase === 'index' || args.phase === 'latest' ? nodeFlags : [];
  const child = spawn(process.execPath, [...flags, '--import', 'tsx', resolve('bench/scale/phase.ts'), JSON.stringify(args)], {
    stdio: ['ignore', 'pipe', 'inherit'],
    env: { ...process.env, AWS_ENDPOINT_URL_S3: args.endpoint },
  });
  let stdout = '';
  child.stdout.on('data', (data: Buffer) => (stdout += String(data)));
  const code: number = await new Promise((done) => child.once('exit', (c) => done(c ?? 1)));
  if (code !== 0) throw new Error(`phase ${args.phase} of ${args.runId} failed (exit ${code})`);
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as PhaseResult;
}

async function main(): Promise<void> {
  const { endpoint, stop } = await startEndpoint();
  const rows: string[] = [];
  const setup: Array<[string, PhaseResult]> = [];
  try {
    const baseline = await phase({ phase: 'baseline', root: OUT, runId: 'baseline', endpoint, redisUrl, prefix: `scaleindex-${process.pid}` });
    for (const objects of values['nightly-only'] ? [] : sizes) {
      const root = join(OUT, `n${label(objects)}`);
      const common = { root, runId: 'run', endpoint, redisUrl, prefix: `scaleindex-${process.pid}-${label(objects)}` };
      if (values.reuse && existsSync(join(root, 'run', '_manifest.json'))) {
        for (const dir of ['_index', '_latest', 'run/_index/tmp']) rmSync(join(root, dir), { recursive: true, force: true });
      } else {
        rmSync(root, { recursive: true, force: true });
        mkdirSync(root, { recursive: true });
        const bucket = `src-${label(objects)}`;
        await fetch(`${endpoint}/__bucket/${bucket}?objects=${objects}`, { method: 'PUT' });
        log(`${label(objects)}: plan`);
        setup.push(['producer (listing, 16 units)', await phase({ ...common, phase: 'plan', source: `s3://${bucket}/`, units: 16 })]);
        log(`${label(objects)}: complete`);
        await phase({ ...common, phase: 'complete', concurrency: 4 });
        log(`${label(objects)}: finalise`);
        setup.push(['finaliser', await phase({ ...common, phase: 'finalize' })]);
      }
      // The producer and the finaliser are measured too when this run made the run (not --reuse).
      const results: Array<[string, PhaseResult]> = setup.splice(0);
      if (measured.has('index')) {
        log(`${label(objects)}: index update`);
        results.push(['index update', await phase({ ...common, phase: 'index' })]);
      }
      if (measured.has('latest')) {
        log(`${label(objects)}: latest`);
        results.push(['latest', await phase({ ...common, phase: 'latest' })]);
      }
      for (const [name, r] of results) {
        const m = r.memory;
        rows.push(
          `| ${label(objects)} | ${name} | ${(r.ms / 1000).toFixed(1)} s | ${(r.cpuMs / 1000).toFixed(1)} s | ${mb(r.peakRssBytes)} | ${mb(m.newSpace)} | ${mb(m.oldSpace)} | ${mb(m.external)} | ${mb(m.otherRss)} | ${mb(m.wasm)} | ${r.counts.requests} | ${mb(r.counts.indexPutBytes)} |`,
        );
      }
    }
    const nightly = values['nightly-only'] ? await nightlyRun(sizes.at(-1)!, endpoint) : '';
    const load = loadavg().map((x) => x.toFixed(1)).join(' ');
    process.stdout.write(
      `${nightly}idle process: ${mb(baseline.peakRssBytes)}; node flags: ${nodeFlags.join(' ') || 'none'}; load at the end: ${load}\n\n| objects | process | wall | CPU | peak RSS | young gen | old gen | external | other RSS | wasm | store requests | index bytes put |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n${rows.join('\n')}\n`,
    );
  } finally {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 3 });
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `scaleindex-${process.pid}-*`, 'COUNT', 1000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
    redis.disconnect();
    stop();
    if (!values.keep) rmSync(OUT, { recursive: true, force: true });
  }
}

/**
 * `--nightly-only`: a nightly incremental run adding 1 % new objects to the source of the largest
 * size, on the run and index an earlier run of this bench left there (`--keep`): planned with
 * `--incremental` (16 units), completed, finalised and indexed. Returns its line: the bytes put
 * under any `_index/` against the index's size before.
 */
async function nightlyRun(objects: number, endpoint: string): Promise<string> {
  const root = join(OUT, `n${label(objects)}`);
  if (!existsSync(join(root, '_index'))) throw new Error(`--nightly-only needs the index of an earlier run of ${label(objects)} under ${root} (--keep)`);
  const grown = Math.round(objects * 1.01);
  await fetch(`${endpoint}/__bucket/src-${label(objects)}?objects=${grown}`, { method: 'PUT' });
  const before = indexBytesOf(root);
  const common = { root, runId: 'nightly', endpoint, redisUrl, prefix: `scaleindex-${process.pid}-nightly` };
  rmSync(join(root, 'nightly'), { recursive: true, force: true });
  const byPhase: Array<[string, PhaseResult]> = [];
  log(`nightly: plan (incremental, ${grown - objects} new objects)`);
  byPhase.push(['producer', await phase({ ...common, phase: 'plan', source: `s3://src-${label(objects)}/`, incremental: true, units: 16 })]);
  log('nightly: complete');
  byPhase.push(['shard commits', await phase({ ...common, phase: 'complete', concurrency: 4 })]);
  log('nightly: finalise');
  byPhase.push(['finaliser', await phase({ ...common, phase: 'finalize' })]);
  log('nightly: index update');
  byPhase.push(['index update', await phase({ ...common, phase: 'index' })]);
  const written = byPhase.reduce((sum, [, r]) => sum + r.counts.indexPutBytes, 0);
  const planned = (byPhase[0]![1].result as { objectsPlanned: number }).objectsPlanned;
  return (
    `nightly run: +${grown - objects} new objects (1 %) on an index of ${objects}: planned ${planned} in ${(byPhase[0]![1].ms / 1000).toFixed(1)} s; ` +
    `index ${mb(before.total)} before (output ${mb(before.output)}, runs' contributions ${mb(before.runs)}); bytes put under any _index/: ${mb(written)} = ` +
    `${((100 * written) / Math.max(1, before.total)).toFixed(2)} % of the index (${byPhase.map(([name, r]) => `${name} ${mb(r.counts.indexPutBytes)} in ${(r.ms / 1000).toFixed(1)} s, peak RSS ${mb(r.peakRssBytes)}`).join('; ')})\n\n`
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
