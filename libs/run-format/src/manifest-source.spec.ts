import { Arrow, encodeTable } from '@siglip-batch/io';
import { describe, expect, s3StoreTest } from '@siglip-batch/io/testing';
import type * as arrow from 'apache-arrow';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, beforeAll, test } from 'vitest';
import { readManifestSource, type ManifestRow } from './manifest-source';

async function rowsOf(iterable: AsyncIterable<ManifestRow>): Promise<ManifestRow[]> {
  const out: ManifestRow[] = [];
  for await (const row of iterable) out.push(row);
  return out;
}

function manifestParquet(rows: number, extra = true): Uint8Array {
  const columns: Record<string, arrow.Vector> = {
    uri: Arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => (i === 3 ? null : `s3://bucket/img/${i}.jpg`)), new Arrow.Utf8()),
  };
  if (extra) {
    columns['caption'] = Arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => (i % 5 === 0 ? null : `caption ${i}`)), new Arrow.Utf8());
    columns['id'] = Arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => BigInt(i) * 10_000_000_000n), new Arrow.Int64());
    columns['small'] = Arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => i), new Arrow.Int16());
    columns['score'] = Arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => i / 8), new Arrow.Float32());
    columns['flag'] = Arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => i % 2 === 0), new Arrow.Bool());
    columns['taken'] = Arrow.vectorFromArray(Array.from({ length: rows }, (_, i) => new Date(Date.UTC(2024, 0, 1 + (i % 28)))), new Arrow.TimestampMillisecond());
  }
  return encodeTable(new Arrow.Table(columns), { metadata: new Map(), rowGroupSize: 1000 });
}

describe('readManifestSource', () => {
  let dir: string;
  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'siglip-manifest-'));
  });
  afterAll(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('text: one URI per line, blank lines and # comments skipped, URIs canonicalised, resumable', async () => {
    const path = join(dir, 'list.txt');
    await writeFile(
      path,
      ['# images to embed', 's3://bucket/a.jpg', '', '  s3://bucket/b c.jpg  ', 'file:///data/x.png', 'relative/y.png', '/abs/z.png', 'https://example.com/q.jpg', '\r'].join('\n'),
    );
    const source = await readManifestSource(path);
    expect(source.format).toBe('text');
    expect(source.extraColumns).toEqual([]);
    const rows = await rowsOf(source.rows());
    expect(rows).toEqual([
      { uri: 's3://bucket/a.jpg', extra: [], position: 2 },
      { uri: 's3://bucket/b c.jpg', extra: [], position: 4 },
      { uri: 'file:///data/x.png', extra: [], position: 5 },
      { uri: pathToFileURL(join(dir, 'relative/y.png')).href, extra: [], position: 6 },
      { uri: 'file:///abs/z.png', extra: [], position: 7 },
      // Not ours to judge here: the producer refuses it as a row of its own.
      { uri: 'https://example.com/q.jpg', extra: [], position: 8 },
    ]);
    expect((await rowsOf(source.rows({ startAfter: 5 }))).map((row) => row.position)).toEqual([6, 7, 8]);
    source.close();
  });

  test('Parquet: a uri column, other columns pass through with mapped types, resumable', async () => {
    const path = join(dir, 'manifest.parquet');
    await writeFile(path, manifestParquet(2500));
    const source = await readManifestSource(pathToFileURL(path).href);
    expect(source.format).toBe('parquet');
    expect(source.extraColumns).toEqual([
      { name: 'caption', type: 'string' },
      { name: 'id', type: 'int64' },
      { name: 'small', type: 'int64' },
      { name: 'score', type: 'float64' },
      { name: 'flag', type: 'boolean' },
      { name: 'taken', type: 'string' },
    ]);
    const rows = await rowsOf(source.rows());
    expect(rows).toHaveLength(2499);
    expect(rows[0]).toEqual({ uri: 's3://bucket/img/0.jpg', extra: [null, '0', '0', 0, true, '2024-01-01T00:00:00.000Z'], position: 1 });
    expect(rows[2]).toEqual({ uri: 's3://bucket/img/2.jpg', extra: ['caption 2', '20000000000', '2', 0.25, true, '2024-01-03T00:00:00.000Z'], position: 3 });
    // Row 4 (position 4) has a null uri and is skipped.
    expect(rows[3]!.position).toBe(5);
    const resumed = await rowsOf(source.rows({ startAfter: 2400 }));
    expect(resumed.map((row) => row.position)).toEqual(Array.from({ length: 100 }, (_, i) => 2401 + i));
    source.close();
  });

  test('a Parquet manifest is recognised by its magic bytes, whatever its name', async () => {
    const path = join(dir, 'manifest.bin');
    await writeFile(path, manifestParquet(10, false));
    const source = await readManifestSource(path);
    expect(source.format).toBe('parquet');
    expect((await rowsOf(source.rows())).length).toBe(9);
  });

  test('refuses a Parquet manifest without a uri column, or with columns named like outputs', async () => {
    const noUri = join(dir, 'no-uri.parquet');
    await writeFile(noUri, encodeTable(new Arrow.Table({ url: Arrow.vectorFromArray(['a']) }), { metadata: new Map() }));
    await expect(readManifestSource(noUri)).rejects.toThrow(/needs a string column "uri" \(its columns: url: /);
    const clash = join(dir, 'clash.parquet');
    await writeFile(
      clash,
      encodeTable(new Arrow.Table({ uri: Arrow.vectorFromArray(['a']), width: Arrow.vectorFromArray([1], new Arrow.Int32()) }), { metadata: new Map() }),
    );
    await expect(readManifestSource(clash)).rejects.toThrow(/named like output columns \(width\)/);
  });

  s3StoreTest('from S3: text streamed, Parquet by ranged reads', async ({ s3Store, s3Endpoint, bucket }) => {
    await s3Store.put('m/list.txt', Buffer.from('s3://bucket/a.jpg\n# c\nrelative.jpg\n'));
    await s3Store.put('m/mixed.txt', Buffer.from(['/home/app/private.png', 'file:///etc/passwd', 'img/../x.png', 's3://other/y.png', 'http://h/z.png'].join('\n')));
    await s3Store.put('m/manifest.parquet', manifestParquet(3000));
    const text = await readManifestSource(`s3://${bucket}/m/list.txt`, { s3: { endpoint: s3Endpoint } });
    expect(await rowsOf(text.rows())).toEqual([
      { uri: 's3://bucket/a.jpg', extra: [], position: 1 },
      // Relative to the manifest's folder, never to the reading process's working directory.
      { uri: `s3://${bucket}/m/relative.jpg`, extra: [], position: 3 },
    ]);
    text.close();
    const mixed = await readManifestSource(`s3://${bucket}/m/mixed.txt`, { s3: { endpoint: s3Endpoint } });
    expect((await rowsOf(mixed.rows())).map((row) => row.uri)).toEqual([
      // Local files are not for an S3 manifest to name: kept as written, refused as invalid_uri rows.
      '/home/app/private.png',
      'file:///etc/passwd',
      // S3 keys have no path semantics: the key is appended as it is, dots included.
      `s3://${bucket}/m/img/../x.png`,
      's3://other/y.png',
      'http://h/z.png',
    ]);
    mixed.close();
    const parquet = await readManifestSource(`s3://${bucket}/m/manifest.parquet`, { s3: { endpoint: s3Endpoint } });
    expect(parquet.extraColumns.map((column) => column.name)).toEqual(['caption', 'id', 'small', 'score', 'flag', 'taken']);
    expect((await rowsOf(parquet.rows())).length).toBe(2999);
    parquet.close();
  });
});
