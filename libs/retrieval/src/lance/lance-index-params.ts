/**
 * Which ANN index a table of `rows` vectors gets, and with what parameters (measured in
 * bench/search-bench.ts `--lance`):
 *
 * - below {@link ANN_MIN_ROWS} rows, none: LanceDB scans the vectors exactly (a few ms);
 * - above, IVF_PQ: a partition per 4,096 rows (244 at 1M), one byte per 8 dimensions (1/32 of the
 *   float32 vectors), trained on a sample; a query probes 16 % of the partitions and re-ranks
 *   `refineFactor × k` = 100 candidates on their float32 vectors. On 1M × 1,152 rows shaped like
 *   image embeddings (the search bench's default data, `--data mixture`) that gives recall@10
 *   1.000 for image queries and 0.950 for text queries at p50 34 / 38 ms in process; probing 10 % gave 0.963 / 0.920, and
 *   re-ranking 20 × k or 40 × k did not help and cost time (the neighbours missed are in
 *   partitions not probed). Fewer, larger partitions than √rows: k-means
 *   over numPartitions × 64 samples costs numPartitions² — 16× less than 1,000 partitions — and
 *   the share of rows a query reads is what sets its recall and latency.
 *
 * IVF_HNSW_SQ (`--index-type ivf_hnsw_sq`) is never chosen by itself: its graphs took 230 s to
 * build for 20,000 rows on the bench machine (two shared cores); a million rows would take hours.
 */
import type { LanceIndexParams, LanceIndexType } from './lance-info';

export const ANN_MIN_ROWS = 10_000;
const ROWS_PER_PARTITION = 4096;
/** Search defaults: 16 % of the partitions probed (40 of 244 at 1M rows), 10 × k re-ranked. */
const NPROBES_SHARE = 0.16;
const NPROBES_MIN = 8;
const REFINE_FACTOR = 10;

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
  const numPartitions = Math.max(1, Math.min(4096, Math.round(rows / ROWS_PER_PARTITION)));
  return {
    type,
    distance: 'cosine',
    numPartitions,
    numSubVectors: subVectorsOf(dim),
    numBits: 8,
    // k-means over numPartitions × 64 sampled rows, 20 rounds: minutes for 1M × 1,152 on two cores.
    sampleRate: 64,
    maxIterations: 20,
    search: { nprobes: Math.min(numPartitions, Math.max(NPROBES_MIN, Math.ceil(numPartitions * NPROBES_SHARE))), refineFactor: REFINE_FACTOR },
  };
}

/** dim / 8 sub-vectors when it divides, else the largest divisor of dim up to that. */
function subVectorsOf(dim: number): number {
  for (let n = Math.max(1, Math.floor(dim / 8)); n > 1; n--) if (dim % n === 0) return n;
  return 1;
}
