/**
 * A query over a {@link VectorCacheEntry}, in two steps:
 *
 * 1. the int8 copy is scanned on worker threads (int8-scan-workers.ts), which keeps every row
 *    whose score bound can still reach the k-th best (int8-quantizer.ts derives the bound);
 * 2. those candidates (typically a few dozen rows) are read from the float32 copy and scored
 *    exactly, in float64 over the stored float32 values, and the best k are returned with the
 *    URIs read through `uris.idx`.
 *
 * The result is the exact top-k (ties broken by URI), with exact scores: the int8 scan only
 * decides which rows are not worth reading. Per query, 1.15 GB are read for a million 1,152-d
 * rows instead of the 4.6 GB of float32.
 */
import { availableParallelism } from 'node:os';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { SearchHit } from './embedding-scan';
import { queryScaleLimit } from './int8-dot-kernel';
import { errorBoundTerms, quantizeQuery } from './int8-quantizer';
import { Int8ScanPool, type Int8ScanTimings } from './int8-scan-workers';
import { VECTOR_CACHE_FILES, type VectorCacheEntry } from './vector-cache';

export interface VectorSearchOptions {
  /** Scan threads. @defaultValue one per core */
  threads?: number;
  /** Rows per read in the scan. @defaultValue 1024 (1.2 MB of int8 at 1,152 dimensions) */
  blockRows?: number;
}

/** Where the time of one query went, in milliseconds. */
export interface VectorSearchTimings {
  /** The int8 scan, waiting for the threads included; `scan` says where it went. */
  scanMs: number;
  scan: Int8ScanTimings;
  rerankMs: number;
  /** Rows scored exactly (the candidates of the int8 scan). */
  candidates: number;
}

/**
 * Searches one cache entry. The scan threads start as soon as it is opened, so open it before
 * the query is embedded; close it when done.
 */
export class VectorSearcher {
  private constructor(
    readonly entry: VectorCacheEntry,
    private readonly pool: Int8ScanPool,
  ) {}

  static open(entry: VectorCacheEntry, options: VectorSearchOptions = {}): VectorSearcher {
    const pool = Int8ScanPool.start({
      codesPath: join(entry.dir, VECTOR_CACHE_FILES.codes),
      scalesPath: join(entry.dir, VECTOR_CACHE_FILES.scales),
      rows: entry.rows,
      stride: entry.stride,
      threads: options.threads ?? availableParallelism(),
      ...(options.blockRows ? { blockRows: options.blockRows } : {}),
    });
    return new VectorSearcher(entry, pool);
  }

  /** The exact top-k rows for a query of the entry's width, best first (ties by URI). */
  async search(query: Float32Array, k: number): Promise<{ hits: SearchHit[]; timings: VectorSearchTimings }> {
    const { entry } = this;
    if (query.length !== entry.dim) throw new Error(`the query has ${query.length} dimensions, the run ${entry.dim}`);
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
    const started = performance.now();
    const quantized = quantizeQuery(query, entry.stride, queryScaleLimit(entry.stride));
    const bound = errorBoundTerms(quantized, entry.maxNorm);
    const scan = await this.pool.scan({
      query: quantized.codes,
      queryScale: quantized.scale,
      boundFixed: bound.fixed,
      boundPerRowError: bound.perRowError,
      k,
    });
    const scanned = performance.now();
    const hits = await rerank(entry, query, scan.rows, k);
    return { hits, timings: { scanMs: scanned - started, scan: scan.timings, rerankMs: performance.now() - scanned, candidates: scan.rows.length } };
  }

  close(): Promise<void> {
    return this.pool.close();
  }
}

/** Exact scores of the candidate rows; the best k, ties by URI. */
async function rerank(entry: VectorCacheEntry, query: Float32Array, candidates: Float64Array, k: number): Promise<SearchHit[]> {
  const { dir, dim } = entry;
  const order = Array.from(candidates).sort((a, b) => a - b);
  const scored: Array<{ row: number; score: number }> = [];
  const vectors = await open(join(dir, VECTOR_CACHE_FILES.vectors), 'r');
  try {
    const values = new Float32Array(dim);
    const bytes = new Uint8Array(values.buffer);
    for (const row of order) {
      await readFully(vectors, bytes, row * dim * 4, VECTOR_CACHE_FILES.vectors);
      scored.push({ row, score: exactDot(values, query) });
    }
  } finally {
    await vectors.close();
  }
  scored.sort((a, b) => b.score - a.score || a.row - b.row);
  // Everything tied with the k-th score competes on URI.
  const last = scored.length > k ? scored[k - 1]!.score : Number.NEGATIVE_INFINITY;
  const finalists = scored.filter((s, i) => i < k || s.score === last);
  const uris = await readUris(dir, finalists.map((s) => s.row));
  return finalists
    .map((s) => ({ uri: uris.get(s.row)!, score: s.score }))
    .sort((a, b) => b.score - a.score || (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0))
    .slice(0, k);
}

/** Σ a_i·b_i in float64, in index order (the reference order of the tests). */
function exactDot(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let i = 0; i < a.length; i++) sum += a[i]! * b[i]!;
  return sum;
}

async function readUris(dir: string, rows: number[]): Promise<Map<number, string>> {
  const out = new Map<number, string>();
  const index = await open(join(dir, VECTOR_CACHE_FILES.uriIndex), 'r');
  const text = await open(join(dir, VECTOR_CACHE_FILES.uris), 'r');
  try {
    const bounds = new Float64Array(2);
    for (const row of rows) {
      await readFully(index, new Uint8Array(bounds.buffer), row * 8, VECTOR_CACHE_FILES.uriIndex);
      const bytes = new Uint8Array(bounds[1]! - bounds[0]! - 1);
      await readFully(text, bytes, bounds[0]!, VECTOR_CACHE_FILES.uris);
      out.set(row, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('utf8'));
    }
  } finally {
    await Promise.all([index.close(), text.close()]);
  }
  return out;
}

async function readFully(file: FileHandle, into: Uint8Array, position: number, what: string): Promise<void> {
  let done = 0;
  while (done < into.length) {
    const { bytesRead } = await file.read(into, done, into.length - done, position + done);
    if (bytesRead === 0) throw new Error(`${what} is shorter than its meta.json says`);
    done += bytesRead;
  }
}
