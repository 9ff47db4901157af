/**
 * S3 Inventory reports written the way S3 delivers them (see libs/io/src/inventory/): into the
 * destination bucket, `<prefix>/<source-bucket>/<config-id>/data/<uuid>.csv.gz` (every field
 * quoted, keys URL-encoded form-style) or `.parquet` (snake_case columns, TIMESTAMP_MILLIS
 * dates), then `<YYYY-MM-DDTHH-MMZ>/manifest.json` with the files' sizes and MD5s, its
 * `manifest.checksum`, and `hive/dt=…/symlink.txt`. Several data files per report, each sorted
 * by key, listed in the manifest in shuffled order, as S3 does not promise any.
 */
import { createHash, randomUUID } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type * as Arrow from 'apache-arrow';
import { compareKeys, csvLine, encodeInventoryKey } from '@siglip-batch/io';

export interface InventoryObject {
  key: string;
  size: number;
  /** Without quotes. */
  etag: string;
  lastModified: Date;
  /** Versioned inventories: a non-current version or a delete marker is listed too. */
  versionId?: string;
  isLatest?: boolean;
  isDeleteMarker?: boolean;
}

export interface WriteInventoryOptions {
  s3: S3Client;
  destinationBucket: string;
  /** The destination prefix of the configuration ('' for none). */
  destinationPrefix: string;
  sourceBucket: string;
  configId: string;
  format: 'CSV' | 'Parquet';
  /** When S3 began the scan: names the report folder. */
  reportTime: Date;
  objects: readonly InventoryObject[];
  /** Data files to split the rows into (each holds a contiguous key range). @defaultValue 3 */
  files?: number;
  /** Adds VersionId, IsLatest, IsDeleteMarker (an "all versions" inventory). */
  versioned?: boolean;
  /** Rows in the order given, not sorted by key (a report S3 would not write). */
  unsorted?: boolean;
  /** Transforms the manifest.json text before it is written (bad manifests). */
  alterManifest?: (text: string) => string;
}

export interface WrittenInventory {
  manifestKey: string;
  manifestUri: string;
  /** The configuration folder (`s3://dest/<prefix>/<source>/<config>/`). */
  configUri: string;
  dataKeys: string[];
}

const CSV_COLUMNS = ['Bucket', 'Key', 'Size', 'LastModifiedDate', 'ETag', 'StorageClass'];
const VERSION_COLUMNS = ['VersionId', 'IsLatest', 'IsDeleteMarker'];

export async function writeInventory(options: WriteInventoryOptions): Promise<WrittenInventory> {
  const { s3, destinationBucket, sourceBucket, configId } = options;
  const base = `${options.destinationPrefix === '' ? '' : `${options.destinationPrefix.replace(/\/$/, '')}/`}${sourceBucket}/${configId}/`;
  const rows = options.unsorted ? [...options.objects] : [...options.objects].sort((a, b) => compareKeys(a.key, b.key) || Number(b.isLatest ?? true) - Number(a.isLatest ?? true));
  const count = Math.max(1, Math.min(options.files ?? 3, rows.length));
  const per = Math.ceil(rows.length / count);
  const files: Array<{ key: string; size: number; MD5checksum: string }> = [];
  for (let f = 0; f < count; f++) {
    const slice = rows.slice(f * per, (f + 1) * per);
    if (slice.length === 0) continue;
    const extension = options.format === 'CSV' ? 'csv.gz' : 'parquet';
    const key = `${base}data/${randomUUID()}.${extension}`;
    const body = options.format === 'CSV' ? csvGz(sourceBucket, slice, options.versioned === true) : await parquetFile(sourceBucket, slice, options.versioned === true);
    await s3.send(new PutObjectCommand({ Bucket: destinationBucket, Key: key, Body: body }));
    files.push({ key, size: body.length, MD5checksum: createHash('md5').update(body).digest('hex') });
  }
  // S3 promises no order of the data files in the manifest: reversed, so that readers cannot rely on it.
  files.reverse();
  const columns = options.versioned ? [CSV_COLUMNS[0]!, CSV_COLUMNS[1]!, ...VERSION_COLUMNS, ...CSV_COLUMNS.slice(2)] : CSV_COLUMNS;
  const fileSchema =
    options.format === 'CSV'
      ? columns.join(', ')
      : `message s3.inventory { required binary bucket (UTF8); required binary key (UTF8);${options.versioned ? ' optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker;' : ''} optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); }`;
  let manifest = JSON.stringify(
    {
      sourceBucket,
      destinationBucket: `arn:aws:s3:::${destinationBucket}`,
      version: '2016-11-30',
      creationTimestamp: String(options.reportTime.getTime()),
      fileFormat: options.format,
      fileSchema,
      files,
    },
    null,
    2,
  );
  if (options.alterManifest) manifest = options.alterManifest(manifest);
  const folder = reportFolder(options.reportTime);
  const manifestKey = `${base}${folder}/manifest.json`;
  await s3.send(new PutObjectCommand({ Bucket: destinationBucket, Key: manifestKey, Body: manifest }));
  await s3.send(new PutObjectCommand({ Bucket: destinationBucket, Key: `${base}${folder}/manifest.checksum`, Body: `${createHash('md5').update(manifest).digest('hex')}\n` }));
  const hive = `${base}hive/dt=${folder.slice(0, 10)}-${folder.slice(11, 16)}/symlink.txt`;
  await s3.send(new PutObjectCommand({ Bucket: destinationBucket, Key: hive, Body: files.map((f) => `s3://${destinationBucket}/${f.key}`).join('\n') }));
  return { manifestKey, manifestUri: `s3://${destinationBucket}/${manifestKey}`, configUri: `s3://${destinationBucket}/${base}`, dataKeys: files.map((f) => f.key) };
}

/** `2026-12-06T01-00Z` */
export function reportFolder(time: Date): string {
  return `${time.toISOString().slice(0, 13)}-${time.toISOString().slice(14, 16)}Z`;
}

function csvGz(bucket: string, rows: readonly InventoryObject[], versioned: boolean): Buffer {
  const lines = rows.map((o) => {
    const versions = versioned ? [o.versionId ?? '', String(o.isLatest ?? true), String(o.isDeleteMarker ?? false)] : [];
    return csvLine([bucket, encodeInventoryKey(o.key), ...versions, String(o.size), o.lastModified.toISOString(), o.etag, 'STANDARD']);
  });
  return gzipSync(Buffer.from(lines.join(''), 'utf8'));
}

/** Parquet as S3 writes it (parquet-wasm and Arrow loaded on first use: this module is part of the shared harness). */
async function parquetFile(bucket: string, rows: readonly InventoryObject[], versioned: boolean): Promise<Buffer> {
  const arrow = await import('apache-arrow');
  const parquet = await import('parquet-wasm');
  const columns: Record<string, Arrow.Vector> = {
    bucket: arrow.vectorFromArray(rows.map(() => bucket), new arrow.Utf8()),
    key: arrow.vectorFromArray(rows.map((o) => o.key), new arrow.Utf8()),
  };
  if (versioned) {
    columns['version_id'] = arrow.vectorFromArray(rows.map((o) => o.versionId ?? null), new arrow.Utf8());
    columns['is_latest'] = arrow.vectorFromArray(rows.map((o) => o.isLatest ?? true), new arrow.Bool());
    columns['is_delete_marker'] = arrow.vectorFromArray(rows.map((o) => o.isDeleteMarker ?? false), new arrow.Bool());
  }
  columns['size'] = arrow.vectorFromArray(rows.map((o) => BigInt(o.size)), new arrow.Int64());
  columns['last_modified_date'] = arrow.vectorFromArray(rows.map((o) => o.lastModified), new arrow.TimestampMillisecond());
  columns['e_tag'] = arrow.vectorFromArray(rows.map((o) => o.etag), new arrow.Utf8());
  columns['storage_class'] = arrow.vectorFromArray(rows.map(() => 'STANDARD'), new arrow.Utf8());
  const table = parquet.Table.fromIPCStream(arrow.tableToIPC(new arrow.Table(columns), 'stream'));
  return Buffer.from(parquet.writeParquet(table, new parquet.WriterPropertiesBuilder().setCompression(parquet.Compression.SNAPPY).build()));
}

/** The objects of a bucket under a prefix, with their real ETags and sizes (what S3 would report). */
export async function objectsOf(s3: S3Client, bucket: string, prefix = ''): Promise<InventoryObject[]> {
  const objects: InventoryObject[] = [];
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
    for (const o of page.Contents ?? []) objects.push({ key: o.Key!, size: o.Size ?? 0, etag: (o.ETag ?? '').replace(/"/g, ''), lastModified: o.LastModified ?? new Date() });
    token = page.NextContinuationToken;
  } while (token);
  return objects;
}
