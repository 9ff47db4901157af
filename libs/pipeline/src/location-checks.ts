import { mkdir, stat } from 'node:fs/promises';
import { assertS3RegionConfigured, openLocation, openObject, parseLocation, readInventoryManifest, type S3Options } from '@siglip-batch/io';
import { sourceKindOf } from './source-kind';
import { checkManifestFilesExist, isManifestGlob } from './planning/source-splitter';

/**
 * Checks at start that a source can be read: the bucket exists and answers (first page of the
 * listing), the directory exists, the manifest object exists, or the S3 Inventory report's
 * manifest.json is one S3 would deliver (format, columns, checksum; with `incremental`, an ETag
 * column to compare). http(s) and other schemes are refused by {@link parseLocation} with a
 * message that says what is accepted.
 */
export async function checkSourceReadable(source: string, s3: S3Options = {}, options: { incremental?: boolean } = {}): Promise<void> {
  const location = parseLocation(source);
  // Before any request: without a region the SDK fails each one with a bare "Region is missing".
  if (location.kind === 's3') await assertS3RegionConfigured(s3);
  const kind = sourceKindOf(source);
  if (kind === 's3-inventory') {
    const manifest = await readInventoryManifest(location.uri, { s3 });
    if (options.incremental && !manifest.columns.includes('ETag')) {
      throw new Error(`${location.uri}: an incremental run compares ETags, and this report has none (add the ETag field to the inventory configuration)`);
    }
    return;
  }
  if (/\/hive\/dt=[^/]+\/symlink\.txt$/.test(location.uri)) {
    // A list of the report's data files, not of images: planned as a text manifest it would embed them.
    throw new Error(
      `${location.uri} is the Hive symlink file of an S3 Inventory report: give the report's manifest.json (<config-id>/<YYYY-MM-DDTHH-MMZ>/manifest.json), ` +
        'or the configuration folder with --source-kind inventory',
    );
  }
  // A glob or prefix of manifests: at least one file (an empty prefix is a configuration error).
  if (isManifestGlob(location.uri, kind)) return checkManifestFilesExist(location.uri, s3);
  if (kind === 'manifest-text' || kind === 'manifest-parquet') {
    const { store, key } = openObject(location.uri, s3);
    try {
      if (!(await store.exists(key))) throw new Error(`manifest ${location.uri} does not exist`);
    } finally {
      store.close();
    }
    return;
  }
  if (location.kind === 'file') {
    const info = await stat(location.root).catch(() => undefined);
    if (!info) throw new Error(`directory ${location.root} does not exist`);
    if (!info.isDirectory()) {
      throw new Error(`${location.root} is neither a directory nor a manifest (.txt, .lst, .list, .uris or .parquet)`);
    }
  }
  await readFirstPage(source, s3);
}

/** Checks at start that the output root can be written: bucket exists, or directory created. */
export async function checkOutputWritable(output: string, s3: S3Options = {}): Promise<void> {
  const location = parseLocation(output);
  if (location.kind === 'file') {
    await mkdir(location.root, { recursive: true });
    return;
  }
  await assertS3RegionConfigured(s3);
  await readFirstPage(output, s3);
}

/** Lists one key under a folder location: fails when the bucket or directory cannot be read. */
async function readFirstPage(uri: string, s3: S3Options): Promise<void> {
  const { store, prefix } = openLocation(uri, s3);
  try {
    const iterator = store.list(prefix, { pageSize: 1 })[Symbol.asyncIterator]();
    await iterator.next();
    await iterator.return?.();
  } finally {
    store.close();
  }
}
