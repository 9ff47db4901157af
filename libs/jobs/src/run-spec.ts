import { z } from 'zod';
import { lazySchema } from './lazy-schema';
import { RUN_ID_PATTERN } from './run-id';
import { MODEL_VARIANTS } from './queue-name';

/** Default number of objects per shard. */
export const DEFAULT_SHARD_SIZE = 1000;
/** Default per-label threshold on the sigmoid probability. */
export const DEFAULT_LABEL_THRESHOLD = 0.1;
/** Default prompt template (the transformers zero-shot pipeline's). */
export const DEFAULT_TEMPLATE = 'This is a photo of {}.';

export const labelSpecSchema = lazySchema(() =>
  z.object({
    label: z.string().min(1),
    /** Prompts for this label; empty means "the run's templates applied to the label". */
    prompts: z.array(z.string().min(1)).default([]),
    threshold: z.number().min(0).max(1).default(DEFAULT_LABEL_THRESHOLD),
  }),
);
export type LabelSpec = z.infer<typeof labelSpecSchema>;

export const modelRefSchema = lazySchema(() =>
  z.object({
    /** Content hash of the model directory (see libs/model). */
    hash: z.string().regex(/^[0-9a-f]{16,}$/),
    variant: z.enum(MODEL_VARIANTS),
    checkpoint: z.string(),
    embedDim: z.number().int().positive(),
    textLength: z.number().int().positive(),
    imageSize: z.object({ height: z.number().int().positive(), width: z.number().int().positive() }),
  }),
);
export type ModelRef = z.infer<typeof modelRefSchema>;

/**
 * What `source` is. `errors`: a finalised run's folder, whose errors files (through its
 * `_manifest.json`) list the objects to plan (`--retry-errors`); see `retryErrors`.
 * `s3-inventory`: the `manifest.json` of one S3 Inventory report, whose data files list the
 * objects of its source bucket (no listing of that bucket).
 */
export const sourceKindSchema = lazySchema(() => z.enum(['s3', 'file', 'manifest-text', 'manifest-parquet', 'errors', 's3-inventory']));
export type SourceKind = z.infer<typeof sourceKindSchema>;
/** The kinds of source that name objects themselves (every kind but `errors`). */
export const objectSourceKindSchema = lazySchema(() => sourceKindSchema.exclude(['errors']));
export type ObjectSourceKind = z.infer<typeof objectSourceKindSchema>;

/**
 * A retry run (`sourceKind: 'errors'`): which error rows of the run folder in `source` it plans,
 * and where their objects come from (the source of the first run of a chain of retries), which
 * is what workers may read for it, as for a run of that source.
 */
export const retryErrorsSchema = lazySchema(() =>
  z.object({
    /** Only rows with one of these `error_code` values; null: every row. */
    codes: z.array(z.string().min(1)).min(1).nullable(),
    objectSource: z.string().min(1),
    objectSourceKind: objectSourceKindSchema,
  }),
);
export type RetryErrors = z.infer<typeof retryErrorsSchema>;

/**
 * How a run decodes its images (`--decode`): `exact` decodes at full resolution as PIL does;
 * `fast` decodes JPEG and WebP at 1/2, 1/4 or 1/8 scale keeping `reducingGap` times the model's
 * input size on both sides, then resizes as exact does (libs/model `DecodeMode`).
 */
export const decodeSpecSchema = lazySchema(() =>
  z.discriminatedUnion('mode', [
    z.object({ mode: z.literal('exact') }),
    z.object({ mode: z.literal('fast'), reducingGap: z.number().min(1).max(1000) }),
  ]),
);
export type DecodeSpec = z.infer<typeof decodeSpecSchema>;

/**
 * A run as the producer froze it: stored in the run folder (`_run.json`) and in Redis. The
 * copy in the store is the one that survives Redis losing its data.
 */
export const runSpecSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    runId: z.string().regex(RUN_ID_PATTERN),
    source: z.string().min(1),
    sourceKind: sourceKindSchema,
    /** Output root URI; the run folder is `<output>/<runId>/`. */
    output: z.string().min(1),
    model: modelRefSchema,
    /** Labels to score, or null for embeddings only. Never an empty list. */
    labels: z.array(labelSpecSchema).min(1).nullable(),
    templates: z.array(z.string().includes('{}', { message: `a template must contain {} where the label goes, e.g. "${DEFAULT_TEMPLATE}"` })).min(1),
    shardSize: z.number().int().positive().max(1_000_000),
    priority: z.number().int().min(0).max(2_097_152),
    filters: z.object({
      suffixes: z.array(z.string()),
      maxBytes: z.number().int().positive(),
      maxPixels: z.number().int().positive(),
    }),
    createdAt: z.string(),
    /**
     * Incremental run (nightly tagging): only objects the output's processed index has not seen
     * with this model and ETag are planned; vanished ones are recorded as deletions.
     */
    incremental: z.boolean().optional(),
    /**
     * Write each embedded object's top tags back as S3 object tags after its shard's part file is
     * committed (S3 sources with labels only). Frozen here so that every worker does the same.
     */
    writeS3Tags: z.boolean().optional(),
    /**
     * Storage type of the part files' `embedding` column: `float16` halves the bytes per row
     * (readers cast back to float32). Absent: float32.
     */
    embeddingDtype: z.enum(['float32', 'float16']).optional(),
    /** How images are decoded; absent: exact (only a fast run writes it). */
    decode: decodeSpecSchema.optional(),
    /** Set exactly when `sourceKind` is `errors`. */
    retryErrors: retryErrorsSchema.optional(),
    /**
     * Incremental runs: objects whose index entry is an error from a run finalised more than this
     * many seconds before `createdAt` are planned again even when their ETag is unchanged.
     */
    retryErrorsAfterSeconds: z.number().int().positive().optional(),
  }),
);
export type RunSpec = z.infer<typeof runSpecSchema>;
