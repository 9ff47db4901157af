import { isInventoryManifestUri } from '@siglip-batch/io';
import type { SourceKind } from '@siglip-batch/jobs';

/**
 * The last path segment that names every manifest under a folder (`s3://b/lists/**`,
 * `/data/lists/**`): a prefix (or directory) of manifests, one planning unit per file.
 */
export const MANIFEST_PREFIX_SEGMENT = '**';

/**
 * What a `--source` is: an S3 prefix, a local directory, a manifest (a text file of URIs, or a
 * Parquet file with a `uri` column), several manifests (a `*` glob in the last segment, or `**`:
 * every manifest under the folder), or an S3 Inventory report (its `manifest.json`).
 * Manifests and inventory reports are recognised by their name; an inventory configuration's
 * folder is one only when the caller says so (`--source-kind inventory`), and is resolved to
 * its newest report's manifest.json before a run is made of it (see inventory-source.ts); a
 * folder of manifests likewise (`--source-kind manifest`, resolved to `<folder>/**` by
 * source-kind-resolver.ts). A prefix of manifests, which may mix text and Parquet files, is
 * recorded as `manifest-text`: each of its files is read by its own name.
 */
export function sourceKindOf(source: string): SourceKind {
  const path = source.split('?')[0]!.toLowerCase();
  if (isInventoryManifestUri(path)) return 's3-inventory';
  if (isManifestPrefixPath(path)) return 'manifest-text';
  const format = manifestFormatOfName(path);
  if (format) return format === 'parquet' ? 'manifest-parquet' : 'manifest-text';
  return source.startsWith('s3://') ? 's3' : 'file';
}

/**
 * The format of a manifest file told by its name (case-insensitive): `.parquet` → Parquet;
 * `.txt`, `.lst`, `.list`, `.uris` → text; anything else is not a manifest name (undefined).
 */
export function manifestFormatOfName(name: string): 'text' | 'parquet' | undefined {
  const path = name.toLowerCase();
  if (path.endsWith('.parquet')) return 'parquet';
  if (path.endsWith('.txt') || path.endsWith('.lst') || path.endsWith('.list') || path.endsWith('.uris')) return 'text';
  return undefined;
}

/** True for a source naming every manifest under a folder (`<folder>/**`). */
export function isManifestPrefix(source: string): boolean {
  return isManifestPrefixPath(source.split('?')[0]!);
}

function isManifestPrefixPath(path: string): boolean {
  return path === MANIFEST_PREFIX_SEGMENT || path.endsWith(`/${MANIFEST_PREFIX_SEGMENT}`);
}
