import type { SourceKind } from '@siglip-batch/jobs';

/**
 * What a `--source` is: an S3 prefix, a local directory, or a manifest (a text file of URIs,
 * or a Parquet file with a `uri` column). Manifests are recognised by their extension.
 */
export function sourceKindOf(source: string): SourceKind {
  const path = source.split('?')[0]!.toLowerCase();
  if (path.endsWith('.parquet')) return 'manifest-parquet';
  if (path.endsWith('.txt') || path.endsWith('.lst') || path.endsWith('.list') || path.endsWith('.uris')) return 'manifest-text';
  return source.startsWith('s3://') ? 's3' : 'file';
}
