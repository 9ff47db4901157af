import { z } from 'zod';
import { lazySchema } from './lazy-schema';
import { RUN_ID_PATTERN } from './run-id';

/** Error codes of the errors file (architecture §3). New codes may be added; readers keep unknown ones. */
export const ERROR_CODES = [
  'not_found',
  'empty_object',
  'too_large_bytes',
  'too_large_pixels',
  'unsupported_format',
  'decode_failed',
  'preprocess_failed',
  'access_denied',
  'not_allowed',
  'invalid_uri',
] as const;
export type ErrorCode = (typeof ERROR_CODES)[number];

export const s3TagCountsSchema = lazySchema(() =>
  z.object({
    tagged: z.number().int().nonnegative(),
    full: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
  }),
);
export type S3TagCountsSummary = z.infer<typeof s3TagCountsSchema>;

/**
 * `_stats/<shard>.json`, written after the shard's part and errors files: its existence is what
 * makes a shard done, in Redis or not.
 */
export const shardStatsSchema = lazySchema(() =>
  z.object({
    schemaVersion: z.literal(1),
    runId: z.string().regex(RUN_ID_PATTERN),
    shard: z.number().int().nonnegative(),
    planned: z.number().int().nonnegative(),
    ok: z.number().int().nonnegative(),
    error: z.number().int().nonnegative(),
    errorCodes: z.record(z.string(), z.number().int().nonnegative()),
    /** Key (relative to the run folder) and rows of the part file; null when no object succeeded. */
    part: z.object({ key: z.string(), rows: z.number().int().nonnegative() }).nullable(),
    errors: z.object({ key: z.string(), rows: z.number().int().nonnegative() }).nullable(),
    attempt: z.number().int().positive(),
    worker: z.string(),
    startedAt: z.string(),
    finishedAt: z.string(),
    timingsMs: z.record(z.string(), z.number().nonnegative()),
    /**
     * Runs with `writeS3Tags`: objects whose S3 tags now hold their top tags, objects left alone
     * because foreign tags used all 10 slots, and objects that could not be tagged (not lost rows).
     */
    s3Tags: s3TagCountsSchema.optional(),
  }),
);
export type ShardStats = z.infer<typeof shardStatsSchema>;
