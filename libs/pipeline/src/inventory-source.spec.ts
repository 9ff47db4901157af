import { vi } from 'vitest';
import { describe, expect, test, TEST_AWS_ENV, writeInventory, type InventoryObject } from '@siglip-batch/testing';
import { InventoryReader, type InventoryRow, type S3Options } from '@siglip-batch/io';
import { inventoryListingScope, listInventorySource, openInventorySource, parseInventoryCursor } from './inventory-source';
import { listSource, type SourceEntry } from './source-lister';

const REPORT = new Date('2026-12-06T01:00:00Z');
const at = new Date('2026-12-01T10:00:00Z');

/** Keys S3 encodes: spaces, pluses, commas, quotes, unicode; in an order where byte order matters. */
const LIVE: InventoryObject[] = [
  { key: 'img/a b+c.jpg', size: 11, etag: 'e1', lastModified: at },
  { key: 'img/caf\u00e9, "cr\u00e8me".png', size: 12, etag: 'e2', lastModified: at },
  { key: 'img/z.jpg', size: 13, etag: 'e3', lastModified: at },
  { key: 'img/\u732b.webp', size: 14, etag: 'e4', lastModified: at },
  { key: 'img/\u{1F600}.jpg', size: 15, etag: 'e5', lastModified: at },
  { key: 'notes/readme.txt', size: 16, etag: 'e6', lastModified: at },
  { key: 'out/run-1/part-0.parquet', size: 17, etag: 'e7', lastModified: at },
  { key: 'img/folder/', size: 0, etag: 'e8', lastModified: at },
];
/** An "all versions" report also lists older versions and delete markers: not objects to read. */
const VERSIONS: InventoryObject[] = [
  { key: 'img/a b+c.jpg', size: 10, etag: 'old', lastModified: at, versionId: 'v0', isLatest: false },
  { key: 'img/deleted.jpg', size: 0, etag: '', lastModified: at, versionId: 'v2', isLatest: true, isDeleteMarker: true },
  { key: 'img/deleted.jpg', size: 9, etag: 'gone', lastModified: at, versionId: 'v1', isLatest: false },
];

async function entriesOf(iterable: AsyncIterable<SourceEntry>): Promise<SourceEntry[]> {
  const out: SourceEntry[] = [];
  for await (const entry of iterable) out.push(entry);
  return out;
}

function setup(s3Endpoint: string): S3Options {
  for (const [name, value] of Object.entries(TEST_AWS_ENV)) vi.stubEnv(name, value);
  return { endpoint: s3Endpoint, maxAttempts: 1 };
}

describe.each(['CSV', 'Parquet'] as const)('an S3 Inventory report in %s', (format) => {
  test('lists the current objects of the source bucket in key order, with ETag and size, resumable from any cursor', async ({ s3, s3Endpoint, bucket }) => {
    const s3Options = setup(s3Endpoint);
    const report = await writeInventory({
      s3,
      destinationBucket: bucket,
      destinationPrefix: 'inventories',
      sourceBucket: 'photos',
      configId: 'daily',
      format,
      reportTime: REPORT,
      objects: [...LIVE, ...VERSIONS],
      versioned: true,
      files: 3,
    });
    const listing = await listSource(report.manifestUri, { kind: 's3-inventory', after: null, suffixes: ['.JPG', '.png', '.webp'], exclude: ['s3://photos/out/'], s3: s3Options });
    const entries = await entriesOf(listing.entries);
    const wanted = ['img/a b+c.jpg', 'img/caf\u00e9, "cr\u00e8me".png', 'img/z.jpg', 'img/\u732b.webp', 'img/\u{1F600}.jpg'];
    expect(entries.map((e) => e.object)).toEqual(wanted.map((key) => ({ uri: `s3://photos/${key}`, etag: LIVE.find((o) => o.key === key)!.etag, size: LIVE.find((o) => o.key === key)!.size })));

    // Resuming after any cursor lists exactly the rest.
    for (let i = 0; i < entries.length; i++) {
      const rest = await listInventorySource(report.manifestUri, { after: entries[i]!.cursor, suffixes: ['.jpg', '.png', '.webp'], excluded: ['s3://photos/out/'], s3: s3Options });
      expect((await entriesOf(rest.entries)).map((e) => e.object.uri), `after ${entries[i]!.cursor}`).toEqual(entries.slice(i + 1).map((e) => e.object.uri));
    }
    expect(inventoryListingScope(report.manifestUri, entries[1]!.cursor)).toEqual({ sourceUri: 's3://photos/', afterUri: `s3://photos/${wanted[1]}` });
  });

  test('one planning unit per data file, listed from its own cursor', async ({ s3, s3Endpoint, bucket }) => {
    const s3Options = setup(s3Endpoint);
    const objects = Array.from({ length: 10 }, (_, i): InventoryObject => ({ key: `k/${String(i).padStart(2, '0')}.jpg`, size: i, etag: `t${i}`, lastModified: at }));
    const report = await writeInventory({ s3, destinationBucket: bucket, destinationPrefix: '', sourceBucket: 'src', configId: 'c1', format, reportTime: REPORT, objects, files: 4 });
    const source = await openInventorySource(report.manifestUri, s3Options);
    try {
      const units = source.units();
      expect(units.map((u) => u.key)).toEqual(report.dataKeys);
      const perUnit = await Promise.all(units.map(async (unit) => (await entriesOf(source.listFile(unit, { after: null, suffixes: [] }))).map((e) => e.object.uri)));
      expect(perUnit.flat().sort()).toEqual(objects.map((o) => `s3://src/${o.key}`));
      const first = (await entriesOf(source.listFile(units[0]!, { after: null, suffixes: [] })))[0]!;
      expect(parseInventoryCursor(first.cursor)).toMatchObject({ file: 0, row: 1 });
      const after = await entriesOf(source.listFile(units[0]!, { after: first.cursor, suffixes: [] }));
      expect(after.map((e) => e.object.uri)).toEqual(perUnit[0]!.slice(1));
      await expect(entriesOf(source.listFile(units[1]!, { after: first.cursor, suffixes: [] }))).rejects.toThrow(/is not one of the data file/);
      expect((await source.keyOrder()).map((u) => u.index)).toEqual([3, 2, 1, 0]);
      // What the reader gives beside the planned object: the last-modified date, from either format.
      const reader = new InventoryReader(source.manifest, s3Options);
      try {
        const rows: InventoryRow[] = [];
        for await (const row of reader.rows(units[3]!)) rows.push(row);
        expect(rows[0]).toEqual({ row: 1, key: 'k/00.jpg', size: 0, etag: 't0', lastModified: at.toISOString() });
      } finally {
        reader.close();
      }
    } finally {
      source.close();
    }
  });

  test('a data file that does not match the manifest is an error that names it', async ({ s3, s3Endpoint, bucket }) => {
    const s3Options = setup(s3Endpoint);
    const objects = [{ key: 'a.jpg', size: 1, etag: 'x', lastModified: at }];
    // An altered MD5 (CSV: checked over the bytes) or size (Parquet: checked before reading).
    const report = await writeInventory({
      s3,
      destinationBucket: bucket,
      destinationPrefix: '',
      sourceBucket: 'src',
      configId: 'c1',
      format,
      reportTime: REPORT,
      objects,
      alterManifest: (text) => text.replace(/"MD5checksum": "[0-9a-f]+"/, '"MD5checksum": "00000000000000000000000000000000"').replace(/"size": (\d+)/, (_m, n: string) => `"size": ${Number(n) + 1}`),
    });
    const listing = await listSource(report.manifestUri, { kind: 's3-inventory', after: null, suffixes: [], s3: s3Options });
    await expect(entriesOf(listing.entries)).rejects.toThrow(format === 'CSV' ? /does not match the MD5 its manifest gives/ : /the manifest says .*: a partial or altered report/);
  });
});

describe('a report that is not sorted by key', () => {
  test('is refused by the listing in uri order, which names the report and the keys', async ({ s3, s3Endpoint, bucket }) => {
    const s3Options = setup(s3Endpoint);
    const objects = ['b.jpg', 'a.jpg', 'c.jpg'].map((key): InventoryObject => ({ key, size: 1, etag: 'x', lastModified: at }));
    const report = await writeInventory({ s3, destinationBucket: bucket, destinationPrefix: '', sourceBucket: 'src', configId: 'c1', format: 'CSV', reportTime: REPORT, objects, files: 1, unsorted: true });
    const listing = await listSource(report.manifestUri, { kind: 's3-inventory', after: null, suffixes: [], s3: s3Options });
    await expect(entriesOf(listing.entries)).rejects.toThrow(/is not sorted by key: .* lists "a.jpg" after "b.jpg"/);
    // Planned unit by unit (no order needed), the same file is read as it is.
    const source = await openInventorySource(report.manifestUri, s3Options);
    try {
      expect((await entriesOf(source.listFile(source.units()[0]!, { after: null, suffixes: [] }))).map((e) => e.object.uri)).toEqual(['s3://src/b.jpg', 's3://src/a.jpg', 's3://src/c.jpg']);
    } finally {
      source.close();
    }
  });
});
