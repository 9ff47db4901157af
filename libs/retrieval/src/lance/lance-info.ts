/**
 * `_index.json` beside a LanceDB table built by `siglip-batch index`: which runs it holds, its
 * row count and width, and the ANN index with the parameters it was built with and the ones a
 * search uses by default. Written after the table; `search` reads it to find the table.
 */
import { z } from 'zod';
import { getJson, putJson } from '@siglip-batch/io';
import type { LanceTarget } from './lance-target';

export const LANCE_INDEX_TYPES = ['none', 'ivf_pq', 'ivf_hnsw_sq'] as const;
export type LanceIndexType = (typeof LANCE_INDEX_TYPES)[number];

const lanceIndexParamsSchema = z.object({
  type: z.enum(LANCE_INDEX_TYPES),
  /** Always cosine: the embeddings are L2-normalised, score = 1 − distance. */
  distance: z.literal('cosine'),
  numPartitions: z.number().int().positive().optional(),
  numSubVectors: z.number().int().positive().optional(),
  numBits: z.number().int().positive().optional(),
  sampleRate: z.number().int().positive().optional(),
  maxIterations: z.number().int().positive().optional(),
  m: z.number().int().positive().optional(),
  efConstruction: z.number().int().positive().optional(),
  /** Search defaults: partitions probed, candidates re-ranked exactly (× k), HNSW beam width. */
  search: z.object({
    nprobes: z.number().int().positive().optional(),
    refineFactor: z.number().int().positive().optional(),
    ef: z.number().int().positive().optional(),
  }),
});
export type LanceIndexParams = z.infer<typeof lanceIndexParamsSchema>;

const lanceInfoSchema = z.object({
  schemaVersion: z.literal(1),
  table: z.string(),
  rows: z.number().int().nonnegative(),
  embeddingDim: z.number().int().positive(),
  /** The model the embeddings come from: runs of another model cannot be added. */
  modelHash: z.string(),
  /** The run the table was built from, and the last one added to it. */
  firstRun: z.object({ runId: z.string(), finalizedAt: z.string() }),
  lastRun: z.object({ runId: z.string(), finalizedAt: z.string() }),
  /** How many runs were added (the first included). */
  runsAdded: z.number().int().positive(),
  index: lanceIndexParamsSchema,
  /** Time to stream the rows in and to build the ANN index, in ms (the last build or add). */
  buildMs: z.object({ rows: z.number().nonnegative(), index: z.number().nonnegative() }),
  updatedAt: z.string(),
});
export type LanceInfo = z.infer<typeof lanceInfoSchema>;

export function readLanceInfo(target: LanceTarget): Promise<LanceInfo | undefined> {
  return getJson(target.store, target.infoKey, lanceInfoSchema);
}

export function writeLanceInfo(target: LanceTarget, info: LanceInfo): Promise<void> {
  return putJson(target.store, target.infoKey, info, lanceInfoSchema);
}

/**
 * The record of a build: a new table (`previous` undefined) starts its run history at `added`;
 * an incremental add keeps the first run and counts one more.
 */
export function nextLanceInfo(
  previous: LanceInfo | undefined,
  build: Pick<LanceInfo, 'table' | 'rows' | 'embeddingDim' | 'modelHash' | 'index'> & {
    added: LanceInfo['lastRun'];
    rowsMs: number;
    indexMs: number;
  },
): LanceInfo {
  return {
    schemaVersion: 1,
    table: build.table,
    rows: build.rows,
    embeddingDim: build.embeddingDim,
    modelHash: build.modelHash,
    firstRun: previous ? previous.firstRun : build.added,
    lastRun: build.added,
    runsAdded: previous ? previous.runsAdded + 1 : 1,
    index: build.index,
    buildMs: { rows: Math.round(build.rowsMs), index: Math.round(build.indexMs) },
    updatedAt: new Date().toISOString(),
  };
}
