import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Transform, type Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { LocalObjectStore } from '../local-object-store';
import { ObjectStoreError } from '../object-store-error';
import { csvLine, encodeInventoryKey } from './inventory-csv';
import { parseInventoryManifest, type InventoryManifest } from './inventory-manifest';
import { InventoryReader, type InventoryRow } from './inventory-reader';

const ROWS = 5000;
const key = (i: number) => `img/${String(i).padStart(5, '0')} x+y.jpg`;
const body = gzipSync(Buffer.from(Array.from({ length: ROWS }, (_, i) => csvLine(['src', encodeInventoryKey(key(i)), String(i), '2026-12-01T00:00:00.000Z', `"e${i}"`])).join('')));

function manifest(md5 = createHash('md5').update(body).digest('hex')): InventoryManifest {
  return parseInventoryManifest(
    JSON.stringify({
      sourceBucket: 'src',
      destinationBucket: 'arn:aws:s3:::dest',
      creationTimestamp: '1765000000000',
      fileFormat: 'CSV',
      fileSchema: 'Bucket, Key, Size, LastModifiedDate, ETag',
      files: [{ key: 'data/a.csv.gz', size: body.length, MD5checksum: md5 }],
    }),
    's3://dest/inv/src/c/2026-12-06T01-00Z/manifest.json',
  );
}

/** A store whose first `breaks` GET streams fail after a few KB, as a connection reset would. */
class BreakingStore extends LocalObjectStore {
  gets = 0;
  constructor(
    root: string,
    private breaks: number,
    private readonly error: () => Error = () => Object.assign(new Error('read ECONNRESET'), { code: 'ECONNRESET' }),
  ) {
    super(root);
  }

  override async getStream(k: string, options?: { signal?: AbortSignal }): Promise<Readable> {
    this.gets++;
    const stream = await super.getStream(k, options);
    if (this.breaks <= 0) return stream;
    this.breaks--;
    const error = this.error();
    let sent = 0;
    const broken = new Transform({
      transform(chunk: Buffer, _e, done) {
        sent += chunk.length;
        if (sent > 8 * 1024) done(error);
        else done(null, chunk);
      },
    });
    broken.on('close', () => stream.destroy());
    return stream.pipe(broken);
  }
}

async function rowsOf(reader: InventoryReader, afterRow = 0): Promise<InventoryRow[]> {
  const out: InventoryRow[] = [];
  for await (const row of reader.rows(reader.manifest.files[0]!, { afterRow })) out.push(row);
  return out;
}

describe('InventoryReader over CSV.gz', () => {
  let root: string;
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), 'siglip-inventory-reader-'));
    await mkdir(join(root, 'data'));
    await writeFile(join(root, 'data', 'a.csv.gz'), body);
  });
  afterAll(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('decodes keys, unquotes ETags and numbers every row', async () => {
    const rows = await rowsOf(new InventoryReader(manifest(), {}, new LocalObjectStore(root)));
    expect(rows).toHaveLength(ROWS);
    expect(rows[7]).toEqual({ row: 8, key: key(7), size: 7, etag: 'e7', lastModified: '2026-12-01T00:00:00.000Z' });
    expect((await rowsOf(new InventoryReader(manifest(), {}, new LocalObjectStore(root)), 4990)).map((r) => r.row)).toEqual(Array.from({ length: 10 }, (_, i) => 4991 + i));
  });

  test('a connection broken mid-file is read again from the start: every row once, in order, MD5 still checked', async () => {
    const store = new BreakingStore(root, 2);
    const rows = await rowsOf(new InventoryReader(manifest(), {}, store));
    expect(store.gets).toBe(3);
    expect(rows.map((r) => r.row)).toEqual(Array.from({ length: ROWS }, (_, i) => i + 1));
    await expect(rowsOf(new InventoryReader(manifest('0'.repeat(32)), {}, new BreakingStore(root, 1)))).rejects.toThrow(/does not match the MD5/);
  });

  test('gives up after a few broken reads, and at once on an error that is not transient', async () => {
    await expect(rowsOf(new InventoryReader(manifest(), {}, new BreakingStore(root, 10)))).rejects.toThrow(/ECONNRESET/);
    const denied = new BreakingStore(root, 10, () => new ObjectStoreError('access_denied', 'data/a.csv.gz', 'denied'));
    await expect(rowsOf(new InventoryReader(manifest(), {}, denied))).rejects.toThrow(/denied/);
    expect(denied.gets).toBe(1);
  });
});
