/**
 * Retrieval benchmark (issue 8): time of one `search` query over a run of 1,000,000 rows of
 * 1,152-d L2-normalised embeddings, the engines of libs/pipeline `searchRun` side by side on the
 * same part files:
 *
 * - cache — the run's parts streamed once (parquet-wasm record batches) into a flat local copy,
 *   then per query: blocks read into one buffer, scored by onnxruntime MatMul, top-k heap
 *   (the first query pays the build; it is timed on its own);
 * - duckdb — `array_inner_product(…) ORDER BY … LIMIT k` over the Parquet files (`--duckdb`);
 * - scan — parquet-wasm record batches + a JavaScript dot product (`--scan`).
 *
 *   npx tsx bench/search-bench.ts [--rows 1000000] [--files 8] [--k 10] [--reps 5] [--dir DIR] [--keep] [--keep-cache] [--duckdb] [--scan]
 *
 * Generates random unit vectors into `--files` part files (libs/io `encodePartFile`, zstd) of a
 * local run folder in a temp dir (reused with `--dir` when it already holds them); the query is
 * a stored row, so its URI must come first. Acceptance: ≤ 2 s per query (cache engine).
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { encodePartFile } from '@siglip-batch/io';
import type { RunManifest } from '@siglip-batch/jobs';
import { openRunFolderUri, searchRun, type SearchEngine } from '@siglip-batch/pipeline';

const { values: args } = parseArgs({
  options: {
    rows: { type: 'string', default: '1000000' },
    files: { type: 'string', default: '8' },
    k: { type: 'string', default: '10' },
    reps: { type: 'string', default: '5' },
    dir: { type: 'string' },
    keep: { type: 'boolean', default: false },
    'keep-cache': { type: 'boolean', default: false },
    duckdb: { type: 'boolean', default: false },
    scan: { type: 'boolean', default: false },
  },
});
const ROWS = Number(args.rows);
const FILES = Number(args.files);
const K = Number(args.k);
const REPS = Number(args.reps);
const DIM = 1152;
const dir = args.dir ?? join(tmpdir(), `siglip-search-bench-${ROWS}`);
const runDir = join(dir, 'bench-run');
const cacheRoot = join(dir, 'cache');

/** xorshift32: fast, seedable, good enough for random directions. */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296 - 0.5;
  };
}

function unitVectors(rows: number, seed: number): Float32Array {
  const next = rng(seed);
  const values = new Float32Array(rows * DIM);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let i = 0; i < DIM; i++) {
      const v = next();
      values[r * DIM + i] = v;
      sum += v * v;
    }
    const scale = 1 / Math.sqrt(sum);
    for (let i = 0; i < DIM; i++) values[r * DIM + i]! *= scale;
  }
  return values;
}

function fileName(f: number): string {
  return join(runDir, `part-${String(f).padStart(8, '0')}.parquet`);
}

async function generate(): Promise<void> {
  mkdirSync(runDir, { recursive: true });
  const started = performance.now();
  let first = 0;
  for (let f = 0; f < FILES; f++) {
    const rows = Math.floor(ROWS / FILES) + (f < ROWS % FILES ? 1 : 0);
    if (!existsSync(fileName(f))) {
      const uri = Array.from({ length: rows }, (_, r) => `s3://bench/images/${String(first + r).padStart(8, '0')}.jpg`);
      const bytes = encodePartFile({
        uri,
        etag: uri.map(() => 'e'),
        sizeBytes: new Array<number>(rows).fill(1000),
        sha256: uri.map(() => '0'.repeat(64)),
        width: new Array<number>(rows).fill(640),
        height: new Array<number>(rows).fill(480),
        embedding: unitVectors(rows, f + 1),
        dim: DIM,
        metadata: {},
      });
      writeFileSync(fileName(f), bytes);
      console.log(`wrote ${fileName(f)}: ${rows} rows, ${(bytes.length / 1e6).toFixed(0)} MB`);
    }
    first += rows;
  }
  console.log(`data ready in ${((performance.now() - started) / 1000).toFixed(1)} s (${dir})`);
}

function manifestOf(): RunManifest {
  const parts = Array.from({ length: FILES }, (_, f) => ({
    shard: f,
    key: `part-${String(f).padStart(8, '0')}.parquet`,
    rows: Math.floor(ROWS / FILES) + (f < ROWS % FILES ? 1 : 0),
  }));
  return {
    schemaVersion: 1,
    runId: 'bench-run',
    source: 's3://bench/images/',
    model: { hash: '0'.repeat(64), variant: 'fp32', checkpoint: 'bench', embedDim: DIM, textLength: 16, imageSize: { height: 224, width: 224 } },
    labels: null,
    templates: ['This is a photo of {}.'],
    embeddingDim: DIM,
    shards: FILES,
    parts,
    errors: [],
    labelsFile: null,
    counts: { planned: ROWS, ok: ROWS, error: 0, byErrorCode: {} },
    timings: { createdAt: '2026-11-28T00:00:00.000Z', listedAt: null, finalizedAt: '2026-11-28T00:00:00.000Z', shardMs: {} },
  };
}

await generate();
const folder = openRunFolderUri(runDir);
const manifest = manifestOf();
// The query is stored row `target` (file 3 was generated with seed 4: its first row), so the right answer is that row first.
const target = Array.from({ length: 3 }, (_, f) => manifest.parts[f]!.rows).reduce((a, b) => a + b, 0);
const query = unitVectors(1, 4);
const expected = `s3://bench/images/${String(target).padStart(8, '0')}.jpg`;
const results: Array<[string, number, number, string]> = [];
async function time(engine: SearchEngine, label: string, rep: number): Promise<number> {
  const started = performance.now();
  const result = await searchRun({ folder, manifest, query, k: K, engine, cacheRoot });
  const ms = performance.now() - started;
  const top = result.hits[0]!.uri;
  if (top !== expected) throw new Error(`${label}: best hit ${top}, expected ${expected}`);
  results.push([label, rep, Math.round(ms), `${Math.round(ROWS / (ms / 1000)).toLocaleString('en')}`]);
  console.log(`${label} run ${rep}: ${(ms / 1000).toFixed(2)} s/query, ${Math.round(ROWS / (ms / 1000)).toLocaleString('en')} rows/s, best ${top} (score ${result.hits[0]!.score.toFixed(4)})`);
  return ms;
}
if (!args['keep-cache']) rmSync(cacheRoot, { recursive: true, force: true });
await time('cache', args['keep-cache'] ? 'cache: first query (cache kept)' : 'cache: build + first query', 1);
const perQuery: number[] = [];
for (let rep = 1; rep <= REPS; rep++) perQuery.push(await time('cache', 'cache: query', rep));
if (args.duckdb) await time('duckdb', 'duckdb over Parquet', 1);
if (args.scan) await time('scan', 'parquet-wasm scan', 1);
console.log('\nmethod | run | ms/query | rows/s');
for (const row of results) console.log(row.join(' | '));
perQuery.sort((a, b) => a - b);
console.log(
  `\ncache engine: median ${Math.round(perQuery[Math.floor(perQuery.length / 2)]!)} ms/query, best ${Math.round(perQuery[0]!)} ms ` +
    `over ${ROWS.toLocaleString('en')} rows × ${DIM} (acceptance ≤ 2000 ms)`,
);
folder.store.close();
if (!args.keep && !args.dir) rmSync(dir, { recursive: true, force: true });
