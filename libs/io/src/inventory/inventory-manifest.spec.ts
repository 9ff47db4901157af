import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import {
  InventoryError,
  canonicalColumn,
  inventorySourceBucketOf,
  parquetColumn,
  parseInventoryManifest,
  readInventoryManifest,
  resolveInventoryManifest,
} from './inventory-manifest';

/** The CSV example of the S3 user guide ("Inventory manifest"), files trimmed to two. */
const CSV_MANIFEST = {
  sourceBucket: 'example-source-bucket',
  destinationBucket: 'arn:aws:s3:::example-inventory-destination-bucket',
  version: '2016-11-30',
  creationTimestamp: '1514944800000',
  fileFormat: 'CSV',
  fileSchema:
    'Bucket, Key, VersionId, IsLatest, IsDeleteMarker, Size, LastModifiedDate, ETag, StorageClass, IsMultipartUploaded, ReplicationStatus, EncryptionStatus, ObjectLockRetainUntilDate, ObjectLockMode, ObjectLockLegalHoldStatus, IntelligentTieringAccessTier, BucketKeyStatus, ChecksumAlgorithm',
  files: [
    { key: 'Inventory/example-source-bucket/data/939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz', size: 2147483647, MD5checksum: 'f11166069f1990abeb9c97ace9cdfabc' },
    { key: 'Inventory/example-source-bucket/data/a.csv.gz', size: 10, MD5checksum: 'F11166069F1990ABEB9C97ACE9CDFABD' },
  ],
};

const PARQUET_SCHEMA =
  'message s3.inventory { required binary bucket (UTF8); required binary key (UTF8); optional binary version_id (UTF8); optional boolean is_latest; optional boolean is_delete_marker; optional int64 size; optional int64 last_modified_date (TIMESTAMP_MILLIS); optional binary e_tag (UTF8); optional binary storage_class (UTF8); }';

const with_ = (changes: Record<string, unknown>) => JSON.stringify({ ...CSV_MANIFEST, ...changes });

describe('parseInventoryManifest', () => {
  test('reads a CSV manifest as S3 writes it', () => {
    const m = parseInventoryManifest(JSON.stringify(CSV_MANIFEST), 's3://d/m.json');
    expect(m.sourceBucket).toBe('example-source-bucket');
    expect(m.destinationBucket).toBe('example-inventory-destination-bucket');
    expect(m.format).toBe('CSV');
    expect(m.columns.slice(0, 8)).toEqual(['Bucket', 'Key', 'VersionId', 'IsLatest', 'IsDeleteMarker', 'Size', 'LastModifiedDate', 'ETag']);
    expect(m.createdAt).toBe('2018-01-03T02:00:00.000Z');
    expect(m.files.map((f) => [f.index, f.uri, f.md5])).toEqual([
      [0, 's3://example-inventory-destination-bucket/Inventory/example-source-bucket/data/939c6d46-85a9-4ba8-87bd-9db705a579ce.csv.gz', 'f11166069f1990abeb9c97ace9cdfabc'],
      [1, 's3://example-inventory-destination-bucket/Inventory/example-source-bucket/data/a.csv.gz', 'f11166069f1990abeb9c97ace9cdfabd'],
    ]);
  });

  test('reads the columns of a Parquet fileSchema in CSV naming', () => {
    const m = parseInventoryManifest(with_({ fileFormat: 'Parquet', fileSchema: PARQUET_SCHEMA, files: [{ key: 'x/data/a.parquet', size: 5, MD5checksum: 'nope' }] }), 'm');
    expect(m.columns).toEqual(['Bucket', 'Key', 'VersionId', 'IsLatest', 'IsDeleteMarker', 'Size', 'LastModifiedDate', 'ETag', 'StorageClass']);
    expect(m.files[0]!.md5).toBeNull();
    expect(['e_tag', 'last_modified_date', 'is_delete_marker'].map(canonicalColumn)).toEqual(['ETag', 'LastModifiedDate', 'IsDeleteMarker']);
    expect(['ETag', 'LastModifiedDate', 'Key'].map(parquetColumn)).toEqual(['e_tag', 'last_modified_date', 'key']);
  });

  test.each([
    ['ORC', with_({ fileFormat: 'ORC', fileSchema: 'struct<bucket:string,key:string>' }), /the report is ORC: only CSV and Parquet/],
    ['an unknown format', with_({ fileFormat: 'XLSX' }), /unknown "fileFormat" "XLSX"/],
    ['no Key column', with_({ fileSchema: 'Bucket, Size, ETag' }), /"fileSchema" has no Key column \(it has: Bucket, Size, ETag\)/],
    ['no files', with_({ files: undefined }), /"files" is missing or not a list/],
    ['a file without size', with_({ files: [{ key: 'a.csv.gz' }] }), /files\[0\] needs a "key" \(string\) and a "size"/],
    ['a CSV format with a Parquet file', with_({ files: [{ key: 'a.parquet', size: 1 }] }), /files\[0\] a.parquet is not a .csv.gz file/],
    ['a destination that is no ARN', with_({ destinationBucket: 'plain-name' }), /not an S3 bucket ARN/],
    ['no creation time', with_({ creationTimestamp: 'yesterday' }), /"creationTimestamp" is missing or not epoch milliseconds/],
    ['no source bucket', with_({ sourceBucket: undefined }), /"sourceBucket" is missing/],
    ['not JSON', '{"sourceBucket": ', /is not JSON/],
  ])('refuses %s, saying why', (_what, text, message) => {
    expect(() => parseInventoryManifest(text, 's3://dest/inv/m.json')).toThrow(InventoryError);
    expect(() => parseInventoryManifest(text, 's3://dest/inv/m.json')).toThrow(message);
  });
});

describe('inventorySourceBucketOf', () => {
  test('is the folder S3 names after the source bucket', () => {
    expect(inventorySourceBucketOf('s3://dest/inventories/photos/daily/2026-12-06T01-00Z/manifest.json')).toBe('photos');
    expect(inventorySourceBucketOf('s3://dest/photos/daily/2026-12-06T01-00Z/manifest.json')).toBe('photos');
  });

  test('refuses a manifest that is not where S3 puts one', () => {
    expect(() => inventorySourceBucketOf('s3://dest/photos/manifest.json')).toThrow(/not where S3 delivers an inventory manifest/);
    expect(() => inventorySourceBucketOf('s3://dest/a/photos/daily/latest/manifest.json')).toThrow(/YYYY-MM-DDTHH-MMZ/);
  });
});

describe('reading manifests from a store', () => {
  let root: string;
  const config = () => join(root, 'inv', 'photos', 'daily');
  const manifestText = (created: string) => JSON.stringify({ ...CSV_MANIFEST, sourceBucket: 'photos', destinationBucket: 'arn:aws:s3:::dest', creationTimestamp: created });

  async function report(folder: string, text: string, checksum: string | null): Promise<string> {
    const dir = join(config(), folder);
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'manifest.json'), text);
    if (checksum !== null) await writeFile(join(dir, 'manifest.checksum'), `${checksum}\n`);
    return pathToFileURL(join(dir, 'manifest.json')).href;
  }

  const md5 = (text: string) => createHash('md5').update(text).digest('hex');

  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'siglip-inventory-'));
    await mkdir(join(config(), 'data'), { recursive: true });
    await writeFile(join(config(), 'data', 'a.csv.gz'), 'x');
    await mkdir(join(config(), 'hive', 'dt=2026-12-05-01-00'), { recursive: true });
    await writeFile(join(config(), 'hive', 'dt=2026-12-05-01-00', 'symlink.txt'), 'x');
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('checks the manifest against its manifest.checksum', async () => {
    const text = manifestText('1765000000000');
    const good = await report('2026-12-04T01-00Z', text, md5(text));
    expect((await readInventoryManifest(good)).sourceBucket).toBe('photos');
    const bad = await report('2026-12-05T01-00Z', text, md5(`${text} `));
    await expect(readInventoryManifest(bad)).rejects.toThrow(/does not match its manifest.checksum .* a partial or altered report/);
    expect((await readInventoryManifest(bad, { verifyChecksum: false })).files).toHaveLength(2);
  });

  test('refuses a manifest whose sourceBucket is not the folder it lies in, and a missing one', async () => {
    const text = JSON.stringify({ ...CSV_MANIFEST, destinationBucket: 'arn:aws:s3:::dest' });
    const uri = await report('2026-12-03T01-00Z', text, null);
    await expect(readInventoryManifest(uri)).rejects.toThrow(/lists bucket example-source-bucket but lies under photos\//);
    await expect(readInventoryManifest(uri.replace('2026-12-03', '2020-01-01'))).rejects.toThrow(/does not exist/);
  });

  test('a configuration folder resolves to its newest report, a report folder to its manifest', async () => {
    await report('2026-12-06T01-00Z', manifestText('1765000000000'), null);
    const folder = pathToFileURL(config()).href;
    const resolved = await resolveInventoryManifest(`${folder}/`);
    expect(resolved).toEqual({ manifestUri: `${folder}/2026-12-06T01-00Z/manifest.json`, reports: 4 });
    expect(await resolveInventoryManifest(`${folder}/2026-12-04T01-00Z/`)).toEqual({ manifestUri: `${folder}/2026-12-04T01-00Z/manifest.json` });
    await expect(resolveInventoryManifest(pathToFileURL(join(config(), 'data')).href)).rejects.toThrow(/holds no inventory report/);
  });
});
