/**
 * Synthetic S3 Inventory reports of a virtual bucket, laid out as S3 delivers them to the
 * destination bucket (served by list-endpoint.ts as a file bucket):
 *
 *   <dir>/<source-bucket>/<config>/<YYYY-MM-DDTHH-MMZ>/manifest.json  (+ manifest.checksum)
 *   <dir>/<source-bucket>/<config>/data/<uuid>.csv.gz
 *
 * CSV with every field quoted and the key URL-encoded, as S3 writes it; columns Bucket, Key,
 * Size, LastModifiedDate, ETag. Rows are in key order, split over `files` data files. Written
 * once per (bucket, objects) and kept under bench/out/ (1e7 rows take about a minute).
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { once } from 'node:events';
import { createGzip, constants } from 'node:zlib';
import { VirtualBucket, etagOfIndex, indexOfKey, sizeOfIndex } from './synthetic-keys';

const CONFIG = 'scale-inventory';
const REPORT = '2024-01-01T00-00Z';

/** Writes (unless already there) the report of `sourceBucket` with `objects` objects; returns the manifest's key. */
export async function writeInventory(root: string, destinationBucket: string, sourceBucket: string, objects: number, files: number): Promise<string> {
  const base = `${sourceBucket}/${CONFIG}`;
  const manifestKey = `${base}/${REPORT}/manifest.json`;
  const done = join(root, `${base}/.complete-${objects}-${files}`);
  if (existsSync(done)) return manifestKey;
  mkdirSync(join(root, base, 'data'), { recursive: true });
  mkdirSync(join(root, base, REPORT), { recursive: true });
  const bucket = new VirtualBucket(objects);
  const perFile = Math.ceil(objects / files);
  const listed: Array<{ key: string; size: number; MD5checksum: string }> = [];
  const modified = new Date(Date.UTC(2024, 0, 1)).toISOString();
  for (let f = 0; f * perFile < objects; f++) {
    const key = `${base}/data/${randomUUID()}.csv.gz`;
    const path = join(root, key);
    const gzip = createGzip({ level: constants.Z_BEST_SPEED });
    const out = createWriteStream(path);
    gzip.pipe(out);
    const end = Math.min(objects, (f + 1) * perFile);
    let chunk = '';
    for (let rank = f * perFile; rank < end; rank++) {
      const objectKey = bucket.keyAt(rank);
      const i = indexOfKey(objectKey);
      chunk += `"${sourceBucket}","${encodeURIComponent(objectKey)}","${sizeOfIndex(i)}","${modified}","${etagOfIndex(i)}"\n`;
      if (chunk.length > 1 << 20) {
        if (!gzip.write(chunk)) await once(gzip, 'drain');
        chunk = '';
      }
    }
    gzip.end(chunk);
    await once(out, 'close');
    listed.push({ key, size: statSync(path).size, MD5checksum: createHash('md5').update(readFileSync(path)).digest('hex') });
  }
  const manifest = JSON.stringify(
    {
      sourceBucket,
      destinationBucket: `arn:aws:s3:::${destinationBucket}`,
      version: '2016-11-30',
      creationTimestamp: String(Date.UTC(2024, 0, 1)),
      fileFormat: 'CSV',
      fileSchema: 'Bucket, Key, Size, LastModifiedDate, ETag',
      files: listed,
    },
    null,
    2,
  );
  writeFileSync(join(root, manifestKey), manifest);
  writeFileSync(join(root, `${base}/${REPORT}/manifest.checksum`), createHash('md5').update(manifest).digest('hex'));
  writeFileSync(done, '');
  return manifestKey;
}
