import { parseLocation } from '@siglip-batch/io';
import {
  DEFAULT_SHARD_SIZE,
  DEFAULT_TEMPLATE,
  assertRunId,
  runSpecSchema,
  type DecodeSpec,
  type LabelSpec,
  type ModelRef,
  type RetryErrors,
  type RunSpec,
} from '@siglip-batch/jobs';
import { sourceKindOf } from './source-kind';

/** Defaults of a run's object filters. */
export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;
export const DEFAULT_MAX_PIXELS = 100_000_000;

export interface RunSpecInput {
  runId: string;
  source: string;
  output: string;
  model: ModelRef;
  labels: LabelSpec[] | null;
  templates?: string[];
  shardSize?: number;
  priority?: number;
  suffixes?: string[];
  maxBytes?: number;
  maxPixels?: number;
  /** Plan only what the output's processed index has not seen (see processed-index/incremental-listing.ts). */
  incremental?: boolean;
  /** Write top tags back as S3 object tags (see s3-tag-writer.ts); S3 sources with labels only. */
  writeS3Tags?: boolean;
  /**
   * A retry run (`--retry-errors`): `source` is the retried run's folder, whose error rows (with
   * these codes) are planned; see `readRetriedRun` (retry/errors-source.ts).
   */
  retryErrors?: RetryErrors;
  /** Incremental runs: plan again objects whose last entry is an error older than this (seconds). */
  retryErrorsAfterSeconds?: number;
  /** Storage type of the part files' embeddings (float16: half the bytes). @defaultValue 'float32' */
  embeddingDtype?: 'float32' | 'float16';
  /** How images are decoded (`--decode`, `--reducing-gap`). @defaultValue `{ mode: 'exact' }` */
  decode?: DecodeSpec;
}

/** Builds and validates a run spec; source and output are normalised to full URIs. */
export function buildRunSpec(input: RunSpecInput): RunSpec {
  assertRunId(input.runId);
  const kind = input.retryErrors ? 'errors' : sourceKindOf(input.source);
  const source = parseLocation(input.source).uri;
  const output = parseLocation(input.output).uri;
  if (input.labels !== null && input.labels.length === 0) throw new Error('labels were given but the list is empty');
  if (input.retryErrorsAfterSeconds !== undefined && !input.incremental) {
    throw new Error('--retry-errors-after applies to incremental runs only: add --incremental');
  }
  if (input.retryErrors && input.incremental) {
    throw new Error('--retry-errors and --incremental cannot be combined: a retry plans exactly the error rows of a run (use --retry-errors-after on an incremental run instead)');
  }
  if (input.writeS3Tags) {
    const problems: string[] = [];
    const objectKind = input.retryErrors?.objectSourceKind ?? kind;
    const objects = input.retryErrors?.objectSource ?? source;
    // An S3 Inventory report names objects of its S3 source bucket: taggable like a prefix's.
    if (objectKind !== 's3' && objectKind !== 's3-inventory') {
      problems.push(`--write-s3-tags needs an S3 source (s3://bucket/prefix/ or an S3 Inventory report); ${objects} is a ${objectKind} source`);
    }
    if (input.labels === null) problems.push('--write-s3-tags needs labels (--labels or --labels-file): tags are labels');
    if (problems.length > 0) throw new Error(problems.join('; '));
  }
  return runSpecSchema.parse({
    schemaVersion: 1,
    runId: input.runId,
    source,
    sourceKind: kind,
    output,
    model: input.model,
    labels: input.labels,
    templates: input.templates && input.templates.length > 0 ? input.templates : [DEFAULT_TEMPLATE],
    shardSize: input.shardSize ?? DEFAULT_SHARD_SIZE,
    priority: input.priority ?? 0,
    filters: {
      suffixes: (input.suffixes ?? []).map((suffix) => suffix.toLowerCase()),
      maxBytes: input.maxBytes ?? DEFAULT_MAX_BYTES,
      maxPixels: input.maxPixels ?? DEFAULT_MAX_PIXELS,
    },
    createdAt: new Date().toISOString(),
    ...(input.incremental ? { incremental: true } : {}),
    ...(input.writeS3Tags ? { writeS3Tags: true } : {}),
    ...(input.retryErrors ? { retryErrors: input.retryErrors } : {}),
    ...(input.retryErrorsAfterSeconds !== undefined ? { retryErrorsAfterSeconds: input.retryErrorsAfterSeconds } : {}),
    // float32 stays implicit, so that specs frozen before the option compare equal.
    ...(input.embeddingDtype === 'float16' ? { embeddingDtype: 'float16' } : {}),
    // Exact stays implicit too.
    ...(input.decode?.mode === 'fast' ? { decode: input.decode } : {}),
  });
}

/**
 * Two specs describe the same run when everything but the creation time agrees; a run id can
 * only be reused for the same work. Returns the differing fields.
 */
export function specDifferences(a: RunSpec, b: RunSpec): string[] {
  const fields: Array<keyof RunSpec> = ['source', 'sourceKind', 'output', 'model', 'labels', 'templates', 'shardSize', 'filters', 'incremental', 'writeS3Tags', 'retryErrors', 'retryErrorsAfterSeconds', 'embeddingDtype', 'decode'];
  return fields.filter((field) => JSON.stringify(a[field]) !== JSON.stringify(b[field]));
}
