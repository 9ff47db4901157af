/**
 * `--source-kind manifest`: the source is a manifest, or a folder of them. A folder becomes the
 * source `<folder>/**` (every manifest under it, one planning unit per file; see
 * planning/source-splitter.ts), frozen in the run spec so that the run, its resumes and its
 * workers see the same source whatever the name says.
 *
 * How a folder is told from one manifest file:
 * - a name that says manifest (`.txt`, `.lst`, `.list`, `.uris`, `.parquet`), a glob (`*` in the
 *   last segment) or `…/**`: as it is, exactly as without the hint;
 * - S3: a trailing `/` (or a bucket alone) is a prefix; without one, a key that is not an object
 *   is the prefix `<key>/`, and an object is refused (its name does not say it is a manifest);
 * - local: a directory is a prefix; a file is refused as in S3; a path that does not exist is an error.
 */
import { stat } from 'node:fs/promises';
import { openObject, parseLocation, type S3Options } from '@siglip-batch/io';
import { MANIFEST_PREFIX_SEGMENT, sourceKindOf } from './source-kind';

export async function resolveManifestSource(source: string, s3?: S3Options): Promise<{ source: string; note?: string }> {
  const kind = sourceKindOf(source);
  if (kind === 'manifest-text' || kind === 'manifest-parquet') return { source };
  const location = parseLocation(source);
  if (kind === 's3-inventory') {
    throw new Error(`${location.uri} is an S3 Inventory report's manifest.json, not a manifest of URIs: leave out --source-kind manifest`);
  }
  const notManifest = (what: string) =>
    new Error(
      `--source-kind manifest: ${location.uri} is ${what} whose name does not say it is a manifest (.txt, .lst, .list, .uris or .parquet): ` +
        'rename it, or give the folder of manifests (an S3 prefix ending in /, or a directory)',
    );
  let folder: string;
  if (location.kind === 's3') {
    if (location.prefix === '' || location.prefix.endsWith('/')) {
      folder = location.uri;
    } else {
      const { store, key } = openObject(location.uri, s3);
      try {
        if (await store.exists(key)) throw notManifest('an object');
      } finally {
        store.close();
      }
      folder = `${location.uri}/`;
    }
  } else {
    const info = await stat(location.root).catch(() => undefined);
    if (!info) throw new Error(`--source-kind manifest: ${location.root} does not exist (a manifest, or a directory of manifests)`);
    if (!info.isDirectory()) throw notManifest('a file');
    folder = location.uri.endsWith('/') ? location.uri : `${location.uri}/`;
  }
  const resolved = `${folder}${MANIFEST_PREFIX_SEGMENT}`;
  return { source: resolved, note: `--source-kind manifest: every manifest under ${folder} (${resolved}), one planning unit per file` };
}
