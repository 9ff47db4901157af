import { isInventoryManifestUri } from '@siglip-batch/io';
import type { SourceKind } from '@siglip-batch/jobs';

/**
 * What a `--source` is: an S3 prefix, a local directory, a manifest (a text file of URIs, or a
 * Parquet file with a `uri` column), or an S3 Inventory report (its `manifest.json`).
 * Manifests and inventory reports are recognised by their name; an inventory configuration's
 * folder is one only when the caller says so (`--source-kind inventory`), and is resolved to
 * its newest report's manifest.json before a run is made of it (see inventory-source.ts).
 */
export function sourceKindOf(source: string): SourceKind {
  const path = source.split('?')[0]!.toLowerCase();
  if (isInventoryManifestUri(path)) return 's3-inventory';
  if (path.endsWith('.parquet')) return 'manifest-parquet';
  if (path.endsWith('.txt') || path.endsWith('.lst') || path.endsWith('.list') || path.endsWith('.uris')) return 'manifest-text';
  return source.startsWith('s3://') ? 's3' : 'file';
}
