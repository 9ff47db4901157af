import { z } from 'zod';
import { lazySchema } from './lazy-schema';
import { RUN_ID_PATTERN } from './run-id';
import { decodeSpecSchema, labelSpecSchema, modelRefSchema } from './run-spec';
import { s3TagCountsSchema } from './shard-stats';

const fileEntrySchema = lazySchema(() =>
  z.object({
    shard: z.number().int().nonnegative(),
    key: z.string(),
    rows: z.number().int().nonnegative(),
  }),
);
export type ManifestFileEntry = z.infer<typeof fileEntrySchema>;

/** Folder of a run's file tables (`_manifest/files.parquet`, `_manifest/files-c<token>.parquet`). */
export const RUN_FILES_DIR = '_manifest/';

/**
 * Schema 2: where the run's file table is (one row per part, errors and deletions file, plus
 * the files `compact` replaced), and what a reader checks to know it read all of it. The table
 * is written before the manifest and never overwritten under another manifest: `compact`
 * writes a new one (a new key) and switches the manifest to it.
 */
const filesTableSchema = lazySchema(() =>
  z.object({
    /** Key of the Parquet table, relative to the run folder. */
    key: z.string(),
    /** Rows of the table (every kind), as its footer must say. */
    rows: z.number().int().nonnegative(),
    /** Size of the table file in bytes. */
    bytes: z.number().int().nonnegative(),
    /** Rows by kind: listed part, errors and deletions files, and replaced files (after `compact`). */
    parts: z.number().int().nonnegative(),
    errors: z.number().int().nonnegative(),
    deletions: z.number().int().nonnegative(),
    replaced: z.number().int().nonnegative(),
  }),
);
export type RunFilesTableRef = z.infer<typeof filesTableSchema>;

/**
 * `_manifest.json`: written once every planned shard has stats. Readers trust a run only through
 * its manifest and read exactly the files it lists. Schema 1 lists the files inline (`parts`,
 * `errors`, `deletions`, `compaction.replaced`); schema 2 (written since the manifest was
 * bounded) keeps only what does not grow with the run and names the file table (`files`), so
 * its size is the same for 10 shards and 10 million. Read the files through libs/io `runFiles`,
 * which reads both.
 */
export const runManifestSchema = lazySchema(() =>
  z
    .object({
      schemaVersion: z.union([z.literal(1), z.literal(2)]),
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
      /** Schema 2: the run's file table. */
      files: filesTableSchema.optional(),
      /** Schema 1 only. */
      parts: z.array(fileEntrySchema).optional(),
      /** Schema 1 only. */
      errors: z.array(fileEntrySchema).optional(),
      labelsFile: z.string().nullable(),
      /** Schema 1 only: `deletions-<shard>.parquet` files (objects the index knew that the listing no longer has). */
      deletions: z.array(z.object({ key: z.string(), rows: z.number().int().nonnegative() })).optional(),
      /**
       * Set by `siglip-batch compact`: the run's small files were merged into the files the
       * manifest now lists. Every file key the run ever listed (what the processed index and
       * older readers may still hold) maps to the file that holds its rows now, with when the
       * file left the manifest: in the file table (schema 2, `replaced-part`/`replaced-errors`
       * rows) or in `replaced` (schema 1). Replaced files are kept `graceSeconds` after that, for
       * readers that started before, and deleted by a later `compact` once the grace has passed.
       */
      compaction: z
        .object({
          compactedAt: z.string(),
          targetRows: z.number().int().positive(),
          /** Seconds replaced files are kept after they left the manifest (absent: deleted at once). */
          graceSeconds: z.number().int().nonnegative().optional(),
          /** Schema 1 only. */
          replaced: z.array(z.object({ key: z.string(), into: z.string(), retiredAt: z.string().optional() })).optional(),
          /**
           * Schema 2: file tables earlier manifests named, kept for their readers until the grace
           * has passed (one per compaction within the grace period).
           */
          retiredTables: z.array(z.object({ key: z.string(), retiredAt: z.string() })).optional(),
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
    })
    .superRefine((manifest, ctx) => {
      if (manifest.schemaVersion === 1 && (!manifest.parts || !manifest.errors)) {
        ctx.addIssue({ code: 'custom', message: 'a schema 1 manifest lists its parts and errors files', path: ['parts'] });
      }
      if (manifest.schemaVersion === 2 && (!manifest.files || manifest.parts || manifest.errors || manifest.deletions || manifest.compaction?.replaced)) {
        ctx.addIssue({ code: 'custom', message: 'a schema 2 manifest names its file table (files) and lists no files inline', path: ['files'] });
      }
    }),
);
export type RunManifest = z.infer<typeof runManifestSchema>;
