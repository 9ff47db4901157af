/**
 * `search`: the k objects of a run closest to a query embedding, over exactly the part files
 * its manifest lists.
 *
 * Engines (measured in bench/search-bench.ts):
 * - `cache` (default): the parts are streamed once, on the first search of a manifest, into a
 *   local flat copy (vector-cache.ts); each query scans its int8 copy on worker threads and
 *   re-ranks the few rows that can still be in the top k exactly (vector-cache-search.ts) —
 *   the only way under 2 s per query for a million rows here;
 * - `duckdb`: DuckDB over the Parquet files (local runs in place; S3 parts fetched one at a
 *   time into a temp dir, queried, merged into a bounded heap and removed);
 * - `scan`: parquet-wasm record batches and a JavaScript dot product (no native dependency).
 * All keep at most one block or part plus k rows in memory. DuckDB is loaded only when its engine
 * is asked for (see duckdb-search.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runFileCounts, runFiles, type RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';
import { duckDbTopK } from './duckdb-search';
import { scanEmbeddings, type SearchHit } from './embedding-scan';
import { TopK } from './top-k';
import { withManifestRetry } from './manifest-retry';
import { ensureVectorCache } from './vector-cache';
import { VectorSearcher, type VectorSearchTimings } from './vector-cache-search';

export type SearchEngine = 'cache' | 'duckdb' | 'scan';

export interface SearchRunOptions {
  folder: RunFolder;
  manifest: RunManifest;
  /** Unit query vector of the run's embedding width. */
  query: Float32Array;
  k: number;
  /** @defaultValue 'cache' */
  engine?: SearchEngine;
  /** Root of the local vector cache (engine `cache`). @defaultValue see defaultSearchCacheRoot */
  cacheRoot?: string;
  /** Called while the vector cache is being built (rows copied so far). */
  onCacheProgress?(rows: number): void;
  /** Scan threads (engine `cache`). @defaultValue one per core */
  threads?: number;
}

export interface SearchRunResult {
  hits: SearchHit[];
  /** Rows searched (from the manifest). */
  rows: number;
  /** Part files the manifest lists. */
  parts: number;
  /** Engine `cache`: true when this call built the cache entry. */
  cacheBuilt?: boolean;
  /** Engine `cache`: time to find (or build) the cache entry, and the query's own timings. */
  timings?: VectorSearchTimings & { cacheMs: number };
}

/** The cache engine made ready for queries: its entry found or built, its scan threads started. */
export interface PreparedRunSearch {
  searcher: VectorSearcher;
  rows: number;
  parts: number;
  /** True when this call built the cache entry (the first search of this manifest). */
  cacheBuilt: boolean;
  /** Time to find or build the entry. */
  cacheMs: number;
}

/**
 * Finds (or builds) the run's vector cache and starts its scan threads, without a query yet, so
 * that a caller can do it while the model loads. Close `searcher` when done.
 */
export async function prepareRunSearch(options: Omit<SearchRunOptions, 'query' | 'k' | 'engine'>): Promise<PreparedRunSearch> {
  const { folder } = options;
  const started = performance.now();
  // A compaction may replace the parts while the cache is built: then it is built once more
  // from the new manifest (see manifest-retry.ts).
  const { entry, manifest } = await withManifestRetry(folder, options.manifest, async (manifest) => ({
    manifest,
    entry: await ensureVectorCache(folder, manifest, {
      ...(options.cacheRoot ? { root: options.cacheRoot } : {}),
      ...(options.onCacheProgress ? { onProgress: options.onCacheProgress } : {}),
    }),
  }));
  // From the manifest alone (a query never walks the file table): the rows of the part files
  // are the run's ok rows, and the files it lists.
  const rows = manifest.counts.ok;
  const files = runFileCounts(manifest).parts;
  const cacheMs = performance.now() - started;
  if (entry.rows !== rows) throw new Error(`the vector cache of ${folder.uriOf('')} has ${entry.rows} rows, the manifest ${rows}`);
  if (entry.dim !== manifest.embeddingDim) throw new Error(`the vector cache of ${folder.uriOf('')} has ${entry.dim} dimensions, the manifest ${manifest.embeddingDim}`);
  const searcher = VectorSearcher.open(entry, options.threads ? { threads: options.threads } : {});
  return { searcher, rows, parts: files, cacheBuilt: entry.built, cacheMs };
}

export async function searchRun(options: SearchRunOptions): Promise<SearchRunResult> {
  if (options.engine === undefined || options.engine === 'cache') return searchRunOnce(options);
  // The other engines read the parts for every query: a compaction meanwhile means reading the
  // new manifest's files instead (see manifest-retry.ts).
  return withManifestRetry(options.folder, options.manifest, (manifest) => searchRunOnce({ ...options, manifest }));
}

async function searchRunOnce(options: SearchRunOptions): Promise<SearchRunResult> {
  const { folder, manifest, query, k } = options;
  if (query.length !== manifest.embeddingDim) {
    throw new Error(`the query has ${query.length} dimensions, run ${manifest.runId} stores ${manifest.embeddingDim}`);
  }
  const rows = manifest.counts.ok;
  const files = runFileCounts(manifest).parts;
  // The part files that hold rows, streamed from the run's file table.
  const keys = async function* (): AsyncGenerator<string> {
    for await (const part of runFiles(folder, manifest, { kind: 'part' })) if (part.rows > 0) yield folder.keyOf(part.key);
  };
  const engine = options.engine ?? 'cache';
  if (engine === 'cache') {
    const prepared = await prepareRunSearch(options);
    try {
      const { hits, timings } = await prepared.searcher.search(query, k);
      return { hits, rows, parts: files, cacheBuilt: prepared.cacheBuilt, timings: { cacheMs: prepared.cacheMs, ...timings } };
    } finally {
      await prepared.searcher.close();
    }
  }
  if (engine === 'scan') {
    const sources = (async function* () {
      for await (const key of keys()) yield await folder.store.openBlob(key);
    })();
    const { hits } = await scanEmbeddings(sources, query, { k });
    return { hits, rows, parts: files };
  }
  const top = new TopK<string>(k);
  if (folder.store.kind === 'file') {
    // Local parts in place, DUCKDB_FILES_PER_QUERY at a time: one query never names the whole run.
    let paths: string[] = [];
    const flush = async () => {
      for (const hit of await duckDbTopK(paths, query, { k })) top.offer(hit.score, () => hit.uri);
      paths = [];
    };
    for await (const key of keys()) {
      paths.push(fileURLToPath(folder.store.uriOf(key)));
      if (paths.length >= DUCKDB_FILES_PER_QUERY) await flush();
    }
    if (paths.length > 0) await flush();
    return { hits: top.sorted().map(({ score, item }) => ({ uri: item, score })), rows, parts: files };
  }
  const dir = await mkdtemp(join(tmpdir(), 'siglip-search-'));
  try {
    let index = 0;
    for await (const key of keys()) {
      const path = join(dir, `${index++}.parquet`);
      await writeFile(path, await folder.store.get(key));
      for (const hit of await duckDbTopK([path], query, { k })) top.offer(hit.score, () => hit.uri);
      await rm(path, { force: true });
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  return { hits: top.sorted().map(({ score, item }) => ({ uri: item, score })), rows, parts: files };
}

/** Local part files one DuckDB query reads at most. */
const DUCKDB_FILES_PER_QUERY = 256;
