import { z } from 'zod';
import { RUN_ID_PATTERN } from './run-id';
import { decodeSpecSchema, labelSpecSchema, modelRefSchema } from './run-spec';
import { s3TagCountsSchema } from './shard-stats';

const fileEntrySchema = z.object({
  shard: z.number().int().nonnegative(),
  key: z.string(),
  rows: z.number().int().nonnegative(),
});
export type ManifestFileEntry = z.infer<typeof fileEntrySchema>;

/**
 * `_manifest.json`: written once every planned shard has stats. Readers trust a run only through
 * its manifest and read exactly the files it lists.
 */
export const runManifestSchema = z.object({
  schemaVersion: z.literal(1),
  runId: z.string().regex(RUN_ID_PATTERN),
  source: z.string(),
  model: modelRefSchema,
  labels: z.array(labelSpecSchema).nullable(),
  templates: z.array(z.string()),
  embeddingDim: z.number().int().positive(),
  /** Storage type of the part files' `embedding` items (absent: float32, as before the option). */
  embeddingDtype: z.enum(['float32', 'float16']).optional(),
  /** The run's decode mode when it was not exact (`--decode fast`). */
  decode: decodeSpecSchema.optional(),
  shards: z.number().int().nonnegative(),
  parts: z.array(fileEntrySchema),
  errors: z.array(fileEntrySchema),
  labelsFile: z.string().nullable(),
  /** Incremental runs: `deletions-<shard>.parquet` files (objects the index knew that the listing no longer has). */
  deletions: z.array(z.object({ key: z.string(), rows: z.number().int().nonnegative() })).optional(),
  /**
   * Set by `siglip-batch compact`: the run's small files were merged into the files `parts` and
   * `errors` now list. `replaced` maps every file key the run ever listed (what the processed
   * index and older readers may still hold) to the file that holds its rows now, and says when
   * the file left the manifest (`retiredAt`): replaced files are kept `graceSeconds` after that,
   * for readers that started before, and deleted by a later `compact` once the grace has passed.
   */
  compaction: z
    .object({
      compactedAt: z.string(),
      targetRows: z.number().int().positive(),
      /** Seconds replaced files are kept after they left the manifest (absent: deleted at once). */
      graceSeconds: z.number().int().nonnegative().optional(),
      replaced: z.array(z.object({ key: z.string(), into: z.string(), retiredAt: z.string().optional() })),
    })
    .optional(),
  counts: z.object({
    planned: z.number().int().nonnegative(),
    ok: z.number().int().nonnegative(),
    error: z.number().int().nonnegative(),
    byErrorCode: z.record(z.string(), z.number().int().nonnegative()),
    /** Runs with `writeS3Tags`: the shards' tag write-back counts, summed. */
    s3Tags: s3TagCountsSchema.optional(),
  }),
  timings: z.object({
    createdAt: z.string(),
    listedAt: z.string().nullable(),
    finalizedAt: z.string(),
    shardMs: z.record(z.string(), z.number().nonnegative()),
  }),
});
export type RunManifest = z.infer<typeof runManifestSchema>;
