/**
 * The LanceDB part of the search bench in a process of its own, so that its peak RSS is its own
 * (`process.resourceUsage().maxRSS`), not the cache engine's (search-bench-lance.ts runs it):
 *
 *   npx tsx bench/lance-child.ts build|reindex <run dir> <table dir> [index type]
 *   npx tsx bench/lance-child.ts query <table dir> <k> <queries.f32> [exact] [nprobes refineFactor]…
 *
 * `reindex` builds only the ANN index of a table whose rows were written. `build` prints one JSON line {ms, rowsMs, indexMs, maxRssMb, info}; `query` reads the query
 * vectors (rows × dim float32, little-endian) and prints one JSON line per parameter set
 * {nprobes, refineFactor, latenciesMs, cpuMs, hits: uri[][]} (`exact`: first an exhaustive float32 scan, {exact: true, …}) and a last one {maxRssMb}.
 */
import { readFileSync } from 'node:fs';
import { buildLanceIndex, LanceSearcher, openLanceTarget, readFinishedManifest, type LanceIndexType } from '@siglip-batch/retrieval';
import { openRunFolder } from '@siglip-batch/run-format';

const [mode, ...rest] = process.argv.slice(2);
const maxRssMb = () => Math.round(process.resourceUsage().maxRSS / 1024);

if (mode === 'build' || mode === 'reindex') {
  const [runDir, tableDir, indexType] = rest as [string, string, string | undefined];
  const folder = openRunFolder(runDir);
  const manifest = await readFinishedManifest(folder);
  const target = await openLanceTarget(tableDir);
  const started = performance.now();
  let last = 0;
  const { info } = await buildLanceIndex({
    folder,
    manifest,
    target,
    overwrite: true,
    indexOnly: mode === 'reindex',
    ...(indexType ? { indexType: indexType as LanceIndexType } : {}),
    onProgress: (rows) => {
      if (rows - last >= 100_000) console.error(`  lance: ${rows} rows written, ${Math.round((performance.now() - started) / 1000)} s, rss ${Math.round(process.memoryUsage().rss / 1e6)} MB`);
      last = rows - (rows % 100_000);
    },
  });
  console.log(JSON.stringify({ ms: performance.now() - started, rowsMs: info.buildMs.rows, indexMs: info.buildMs.index, maxRssMb: maxRssMb(), info }));
  target.close();
  folder.store.close();
} else if (mode === 'query') {
  const [tableDir, kText, queriesPath, ...paramText] = rest as [string, string, string, ...string[]];
  const k = Number(kText);
  const target = await openLanceTarget(tableDir);
  const searcher = await LanceSearcher.open(target);
  if (!searcher) throw new Error(`no table at ${tableDir}`);
  const bytes = readFileSync(queriesPath);
  const queries = new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const dim = searcher.info.embeddingDim;
  const exactFirst = paramText[0] === 'exact';
  if (exactFirst) paramText.shift();
  const sets: Array<{ nprobes?: number; refineFactor?: number; exact?: boolean }> = exactFirst ? [{ exact: true }, {}] : [{}];
  for (let i = 0; i + 1 < paramText.length; i += 2) sets.push({ nprobes: Number(paramText[i]), refineFactor: Number(paramText[i + 1]) });
  // One warm-up query (opens the index files), not timed.
  await searcher.search(queries.subarray(0, dim), k);
  for (const params of sets) {
    const latenciesMs: number[] = [];
    const cpuMs: number[] = [];
    const hits: string[][] = [];
    for (let q = 0; q < queries.length / dim; q++) {
      const started = performance.now();
      const cpu = process.cpuUsage();
      const found = await searcher.search(queries.subarray(q * dim, (q + 1) * dim), k, params);
      latenciesMs.push(performance.now() - started);
      // CPU time of the whole process (LanceDB's threads included): what the query costs
      // whatever else the machine runs.
      const used = process.cpuUsage(cpu);
      cpuMs.push((used.user + used.system) / 1000);
      hits.push(found.map((hit) => hit.uri));
    }
    const used = params.exact
      ? { exact: true }
      : { nprobes: params.nprobes ?? searcher.info.index.search.nprobes, refineFactor: params.refineFactor ?? searcher.info.index.search.refineFactor };
    console.log(JSON.stringify({ ...used, latenciesMs, cpuMs, hits }));
  }
  console.log(JSON.stringify({ maxRssMb: maxRssMb() }));
  searcher.close();
  target.close();
} else {
  throw new Error('usage: lance-child.ts build <run dir> <table dir> [type] | query <table dir> <k> <queries.f32> [nprobes refine]…');
}
