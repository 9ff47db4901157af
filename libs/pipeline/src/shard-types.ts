import type { RunFolder } from '@siglip-batch/run-format';
import type { PlanFile, RunSpec } from '@siglip-batch/jobs';
import type { ImageEmbedder, ShardScorer } from './embedder';
import type { StoreResolver } from './store-resolver';
import type { SourceAccess } from './source-access';

/** Options of the shard processor, with the defaults the benchmarks justify. */
export interface ShardProcessorOptions {
  /** Objects fetched at once. @defaultValue 16 */
  fetchConcurrency?: number;
  /** Images decoded and preprocessed at once. @defaultValue 4 */
  decodeConcurrency?: number;
  /** Images per inference batch. @defaultValue 32 */
  batchSize?: number;
  /**
   * Share of a shard's objects that may fail transiently and still be retried in place; above
   * it the shard fails at once and is retried later by the queue. @defaultValue 0.1
   */
  maxTransientShare?: number;
  /** In-place retry rounds for transient fetch failures. @defaultValue 3 */
  transientRetries?: number;
  /** Delay before the first in-place retry round; doubles each round. @defaultValue 1000 */
  transientRetryDelayMs?: number;
  /** The shard's plan when the caller has read it already (it is then not read again). */
  plan?: PlanFile;
  /** Who processes the shard (for the stats object). */
  workerId: string;
  /** Attempt number (1 for the first). */
  attempt: number;
  signal?: AbortSignal;
  /** Called after each inference batch (metrics, progress, lock extension). */
  onBatch?(info: { images: number; inferMs: number }): void;
  /** Runs with `writeS3Tags`: objects that could not be tagged (a few examples), for the log. */
  onS3TagFailures?(info: { failed: number; examples: string[] }): void;
  /**
   * Test seam: called at the commit's two points — the part file is in the store, the stats are
   * — for the fault suite's crashes there (test/fault-crash.test.ts). Unset in production.
   */
  onCommitPoint?(point: 'after-part-put' | 'after-stats'): void;
}

export interface ShardContext {
  spec: RunSpec;
  folder: RunFolder;
  resolver: StoreResolver;
  /** What may be read: every object passes it before its store is touched (see source-access.ts). */
  access: SourceAccess;
  embedder: ImageEmbedder;
  /**
   * The run's label scorer, or null for a run without labels. May still be computing (a promise):
   * one-process mode starts fetching and decoding while the label embeddings are computed, and
   * the shard's commit is the first to need them.
   */
  scorer: ShardScorer | null | Promise<ShardScorer | null>;
  /** Key-value metadata written into both Parquet files (run, model, labels …). */
  fileMetadata: Record<string, string>;
}

/** What became of one planned object in a pass: a row of the part file, an error row, or (not yet) nothing. */
export type Outcome =
  | { kind: 'ok'; etag: string; size: number; sha256: string; width: number; height: number }
  | { kind: 'error'; code: string; message: string; etag: string | null; size: number | null }
  | { kind: 'transient'; message: string };
