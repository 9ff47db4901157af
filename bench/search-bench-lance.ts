/**
 * `search-bench.ts --lance`: the run's LanceDB table (`siglip-batch index`) built and queried in
 * child processes of their own (bench/lance-child.ts), each reporting its peak RSS; build time
 * and the table's size on disk; per query latency in process, and recall@k against the exact
 * top-k of the cache engine (its int8 scan re-ranks exactly: the same top-k as a brute-force
 * float64 scan, which search-bench.ts checks).
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { normalise, rng } from './search-bench-data';

export interface LanceBenchOptions {
  runDir: string;
  dir: string;
  k: number;
  rows: number;
  /** Query vectors by kind. */
  queries: Array<{ kind: 'image' | 'text'; vector: Float32Array }>;
  /** The exact top-k uris of a query (default: LanceDB's exhaustive float32 scan of the table). */
  exact?(query: Float32Array): Promise<string[]>;
  /** Build again even when the table is there. */
  rebuild: boolean;
  /** Extra (nprobes, refineFactor) pairs to measure besides the table's defaults. */
  sweep: Array<[number, number]>;
}

const TSX = resolve('node_modules/tsx/dist/cli.mjs');
const CHILD = resolve('bench/lance-child.ts');
const load = () => loadavg()[0]!.toFixed(1);

function child(args: string[]): string[] {
  const result = spawnSync(process.execPath, [TSX, CHILD, ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 256 * 1024 * 1024 });
  if (result.status !== 0) throw new Error(`lance-child ${args[0]} failed (exit ${result.status})`);
  return result.stdout.trim().split('\n');
}

function duBytes(path: string): number {
  let total = 0;
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    const full = join(path, entry.name);
    total += entry.isDirectory() ? duBytes(full) : statSync(full).size;
  }
  return total;
}

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
const pct = (values: number[], p: number) => [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))]!;

export async function lanceBench(options: LanceBenchOptions): Promise<void> {
  const tableDir = join(options.dir, 'lancedb');
  console.log(`\n4. LanceDB table (siglip-batch index), ${options.rows.toLocaleString('en')} rows, k = ${options.k}`);
  let exists = false;
  try {
    exists = statSync(join(tableDir, '_index.json')).isFile();
  } catch {
    exists = false;
  }
  if (!exists || options.rebuild) {
    const before = load();
    const built = JSON.parse(child(['build', options.runDir, tableDir]).at(-1)!) as { ms: number; rowsMs: number; indexMs: number; maxRssMb: number; info: { index: unknown } };
    console.log(
      `build: ${(built.ms / 1000).toFixed(1)} s (rows ${(built.rowsMs / 1000).toFixed(1)} s, ANN index ${(built.indexMs / 1000).toFixed(1)} s), ` +
        `peak RSS ${built.maxRssMb} MB, load ${before}→${load()}; index ${JSON.stringify(built.info.index)}`,
    );
  } else console.log(`table kept (${tableDir}); --lance-rebuild builds it again`);
  console.log(`size on disk: ${(duBytes(tableDir) / 1e9).toFixed(2)} GB (${((duBytes(tableDir) / options.rows) | 0).toLocaleString('en')} bytes per row)`);

  const dim = options.queries[0]!.vector.length;
  const all = new Float32Array(options.queries.length * dim);
  options.queries.forEach((query, i) => all.set(query.vector, i * dim));
  const queriesPath = join(options.dir, 'lance-queries.f32');
  writeFileSync(queriesPath, new Uint8Array(all.buffer));
  let truth: string[][] = [];
  if (options.exact) for (const query of options.queries) truth.push(await options.exact(query.vector));
  const before = load();
  const lines = child(['query', tableDir, String(options.k), queriesPath, ...(options.exact ? [] : ['exact']), ...options.sweep.flat().map(String)]);
  const { maxRssMb } = JSON.parse(lines.at(-1)!) as { maxRssMb: number };
  for (const line of lines.slice(0, -1)) {
    const result = JSON.parse(line) as { exact?: boolean; nprobes?: number; refineFactor?: number; latenciesMs: number[]; cpuMs: number[]; hits: string[][] };
    if (result.exact) truth = result.hits;
    for (const kind of ['image', 'text'] as const) {
      const picked = options.queries.map((query, i) => ({ query, i })).filter(({ query }) => query.kind === kind);
      if (picked.length === 0) continue;
      const recalls = picked.map(({ i }) => result.hits[i]!.filter((uri) => truth[i]!.includes(uri)).length / truth[i]!.length);
      const firstOk = picked.filter(({ i }) => result.hits[i]![0] === truth[i]![0]).length;
      const latencies = picked.map(({ i }) => result.latenciesMs[i]!);
      const cpu = picked.map(({ i }) => result.cpuMs[i]!);
      console.log(
        `${kind} queries (${picked.length}), ${result.exact ? 'exhaustive scan (the reference), ' : ''}nprobes ${result.nprobes ?? '-'}, refine ${result.refineFactor ?? '-'}: recall@${options.k} ${(recalls.reduce((a, b) => a + b, 0) / recalls.length).toFixed(3)} ` +
          `(min ${Math.min(...recalls).toFixed(1)}), top-1 right ${firstOk}/${picked.length}, latency p50 ${median(latencies).toFixed(1)} ms, p90 ${pct(latencies, 0.9).toFixed(1)} ms, p95 ${pct(latencies, 0.95).toFixed(1)} ms ` +
          `(CPU time p50 ${median(cpu).toFixed(1)} ms), load ${before}`,
      );
    }
  }
  console.log(`query process peak RSS: ${maxRssMb} MB`);
}

const centreCache = new Map<string, Float32Array>();
/** `clusters` random unit centres (the same for every call with these arguments). */
function centres(clusters: number, dim: number): Float32Array {
  const key = `${clusters}x${dim}`;
  let values = centreCache.get(key);
  if (!values) {
    const next = rng(424242);
    values = new Float32Array(clusters * dim).map(() => next());
    for (let c = 0; c < clusters; c++) normalise(values, c * dim, dim);
    centreCache.set(key, values);
  }
  return values;
}

/** Row `first + r` around centre (first + r) × 7919 mod clusters: centre + noise of norm ~1 (cosine ~0.7 to it). */
export function clusteredVectors(rows: number, seed: number, first: number, clusters: number, dim: number): Float32Array {
  const next = rng(seed);
  const c = centres(clusters, dim);
  const values = new Float32Array(rows * dim);
  const noise = 2 * Math.sqrt(3 / dim); // uniform [−0.5, 0.5) × this: variance 1/dim per coordinate
  for (let r = 0; r < rows; r++) {
    const centre = ((first + r) * 7919) % clusters;
    for (let i = 0; i < dim; i++) values[r * dim + i] = c[centre * dim + i]! + next() * noise;
    normalise(values, r * dim, dim);
  }
  return values;
}

/** A query near one of the centres (as a text query near what the data holds). */
export function nearCentre(seed: number, clusters: number, dim: number): Float32Array {
  return clusteredVectors(1, seed, seed, clusters, dim);
}
