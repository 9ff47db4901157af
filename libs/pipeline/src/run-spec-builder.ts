import { parseLocation } from '@siglip-batch/io';
import {
  DEFAULT_SHARD_SIZE,
  DEFAULT_TEMPLATE,
  assertRunId,
  runSpecSchema,
  type LabelSpec,
  type ModelRef,
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
  /** Plan only what the output's processed index has not seen (see index/incremental-listing.ts). */
  incremental?: boolean;
  /** Write top tags back as S3 object tags (see s3-tag-writer.ts); S3 sources with labels only. */
  writeS3Tags?: boolean;
}

/** Builds and validates a run spec; source and output are normalised to full URIs. */
export function buildRunSpec(input: RunSpecInput): RunSpec {
  assertRunId(input.runId);
  const kind = sourceKindOf(input.source);
  const source = parseLocation(input.source).uri;
  const output = parseLocation(input.output).uri;
  if (input.labels !== null && input.labels.length === 0) throw new Error('labels were given but the list is empty');
  if (input.writeS3Tags) {
    const problems: string[] = [];
    if (kind !== 's3') problems.push(`--write-s3-tags needs an S3 source (s3://bucket/prefix/); ${source} is a ${kind} source`);
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
  });
}

/**
 * Two specs describe the same run when everything but the creation time agrees; a run id can
 * only be reused for the same work. Returns the differing fields.
 */
export function specDifferences(a: RunSpec, b: RunSpec): string[] {
  const fields: Array<keyof RunSpec> = ['source', 'sourceKind', 'output', 'model', 'labels', 'templates', 'shardSize', 'filters', 'incremental', 'writeS3Tags'];
  return fields.filter((field) => JSON.stringify(a[field]) !== JSON.stringify(b[field]));
}
