/**
 * Which ANN index a table of `rows` vectors gets, and with what parameters (measured in
 * bench/search-bench.ts `--lance`):
 *
 * - below {@link ANN_MIN_ROWS} rows, none: LanceDB scans the vectors exactly (a few ms);
 * - above, IVF_PQ: √rows partitions, one byte per 8 dimensions (1/32 of the float32 vectors),
 *   trained on a sample; a query probes some of the partitions and re-ranks
 *   `refineFactor × k` candidates on their float32 vectors.
 *
 * IVF_HNSW_SQ (`--index-type ivf_hnsw_sq`) is never chosen by itself: its graphs took 230 s to
 * build for 20,000 rows on the bench machine (two shared cores), where IVF_PQ takes seconds.
 */
import type { LanceIndexParams, LanceIndexType } from './lance-info';

export const ANN_MIN_ROWS = 10_000;

export function chooseIndexType(rows: number): LanceIndexType {
  return rows < ANN_MIN_ROWS ? 'none' : 'ivf_pq';
}

export function indexParams(type: LanceIndexType, rows: number, dim: number): LanceIndexParams {
  if (type === 'none') return { type, distance: 'cosine', search: {} };
  if (type === 'ivf_hnsw_sq') {
    // One graph per ~250k rows; every partition is probed.
    const numPartitions = Math.max(1, Math.round(rows / 250_000));
    return { type, distance: 'cosine', numPartitions, m: 16, efConstruction: 100, sampleRate: 256, maxIterations: 20, search: { nprobes: numPartitions, ef: 200 } };
  }
  const numPartitions = Math.max(1, Math.min(4096, Math.round(Math.sqrt(rows))));
  return {
    type,
    distance: 'cosine',
    numPartitions,
    numSubVectors: subVectorsOf(dim),
    numBits: 8,
    // k-means over numPartitions × 64 sampled rows, 20 rounds: minutes for 1M × 1,152 on two cores.
    sampleRate: 64,
    maxIterations: 20,
    // 2 % of the partitions (20 of 1,000 at 1M rows): recall@10 0.95–0.975 at 36–44 ms there.
    search: { nprobes: Math.max(20, Math.ceil(numPartitions / 50)), refineFactor: 20 },
  };
}

/** dim / 8 sub-vectors when it divides, else the largest divisor of dim up to that. */
function subVectorsOf(dim: number): number {
  for (let n = Math.max(1, Math.floor(dim / 8)); n > 1; n--) if (dim % n === 0) return n;
  return 1;
}
