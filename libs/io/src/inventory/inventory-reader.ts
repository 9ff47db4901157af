/**
 * Rows of the data files of an S3 Inventory report, streamed: CSV.gz through gunzip and a
 * streaming CSV parser (keys URL-decoded), Parquet record batch by record batch over ranged
 * reads. One file is read at a time; nothing holds a file, let alone the report.
 * Rows come in arrays (one per decompressed chunk or record batch) to spare a hand-off per row.
 *
 * Rows that name no current object are skipped (versioned inventories list every version:
 * only `IsLatest` rows that are not delete markers are objects one can GET without a version).
 * Every row counts for {@link InventoryRow.row}, skipped or not, so a resume cursor is a row
 * number in the file.
 */
import { createHash } from 'node:crypto';
import { Transform, type Readable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { openLocation, s3OptionsFromEnv, type S3Options } from '../open-store';
import type { ObjectStore } from '../object-store';
import { isObjectStoreError } from '../object-store-error';
import { readParquetBatches, readParquetMetadata } from '../parquet/parquet-reader';
import { csvRecordBatches, decodeInventoryKey } from './inventory-csv';
import { InventoryError, parquetColumn, type InventoryFile, type InventoryManifest } from './inventory-manifest';

export interface InventoryRow {
  /** 1-based number of the row in its data file (skipped rows counted). */
  row: number;
  key: string;
  size: number | null;
  /** Without quotes; null when the report has no ETag column. */
  etag: string | null;
  /** ISO 8601, as the report gives it; null without the column. */
  lastModified: string | null;
}

export interface InventoryRowsOptions {
  /** Only rows after this row number (a cursor). */
  afterRow?: number;
  signal?: AbortSignal;
  /** Fill in `lastModified` (default true; a planner has no use for it). */
  lastModified?: boolean;
}

const PARQUET_BATCH_ROWS = 4096;
/** Bytes of CSV text per decompressed chunk (about 800 rows of a typical report). */
const GUNZIP_CHUNK = 64 * 1024;
/** Reads of a CSV.gz file (the first and retries after a broken connection). */
const CSV_READ_ATTEMPTS = 4;

/** Reads the data files of one report (their store stays open until `close`). */
export class InventoryReader {
  private readonly store: ObjectStore;
  private readonly index: Map<string, number>;

  /** `store`: the destination bucket's store (default: opened from `s3`; tests pass their own). */
  constructor(
    readonly manifest: InventoryManifest,
    s3: S3Options = s3OptionsFromEnv(),
    store?: ObjectStore,
  ) {
    this.store = store ?? openLocation(`s3://${manifest.destinationBucket}/`, s3).store;
    this.index = new Map(manifest.columns.map((column, i) => [column, i]));
  }

  close(): void {
    this.store.close();
  }

  /** The rows of one data file that name current objects, in file order. */
  async *rows(file: InventoryFile, options: InventoryRowsOptions = {}): AsyncGenerator<InventoryRow> {
    for await (const rows of this.rowBatches(file, options)) yield* rows;
  }

  /** {@link rows} in arrays (never empty), one per decompressed chunk (CSV) or record batch (Parquet). */
  rowBatches(file: InventoryFile, options: InventoryRowsOptions = {}): AsyncGenerator<InventoryRow[]> {
    return this.manifest.format === 'CSV' ? this.csvRows(file, options) : this.parquetRows(file, options);
  }

  /** The key of the first current object of a file (null: none), reading only the file's start. */
  async firstKey(file: InventoryFile, signal?: AbortSignal): Promise<string | null> {
    const rows = this.rows(file, signal ? { signal } : {});
    try {
      const first = await rows.next();
      return first.done ? null : first.value.key;
    } finally {
      await rows.return(undefined);
    }
  }

  /**
   * A CSV.gz file is one GET streamed as the rows are consumed, and its consumer may pause for
   * long (the planner's backpressure): a connection that breaks meanwhile is read again from
   * the start (gzip cannot seek), rows up to the last one given skipped, a few times.
   */
  private async *csvRows(file: InventoryFile, options: InventoryRowsOptions): AsyncGenerator<InventoryRow[]> {
    let after = options.afterRow ?? 0;
    // The MD5 covers the file's bytes: checked when the file was read from its start (again on a retry).
    const checkMd5 = after === 0 && file.md5 !== null;
    for (let attempt = 1; ; attempt++) {
      try {
        for await (const rows of this.csvPass(file, after, checkMd5, options)) {
          after = rows[rows.length - 1]!.row;
          yield rows;
        }
        return;
      } catch (error) {
        const final = error instanceof InventoryError || options.signal?.aborted || (isObjectStoreError(error) && !error.transient) || attempt >= CSV_READ_ATTEMPTS;
        if (final) throw error;
        await new Promise((resolve) => setTimeout(resolve, 200 * attempt));
      }
    }
  }

  private async *csvPass(file: InventoryFile, after: number, checkMd5: boolean, options: InventoryRowsOptions): AsyncGenerator<InventoryRow[]> {
    const signal = options.signal;
    const raw = await this.store.getStream(file.key, signal ? { signal } : {});
    const md5 = checkMd5 ? createHash('md5') : undefined;
    const tap = new Transform({
      transform(chunk: Buffer, _encoding, done) {
        md5?.update(chunk);
        done(null, chunk);
      },
    });
    const gunzip = createGunzip({ chunkSize: GUNZIP_CHUNK });
    const text: Readable = raw.pipe(tap).pipe(gunzip);
    text.setEncoding('utf8');
    raw.on('error', (error) => gunzip.destroy(error));
    const width = this.manifest.columns.length;
    const at = this.columnsAt();
    const bucket = this.manifest.sourceBucket;
    const withModified = options.lastModified !== false && at.lastModified !== undefined;
    let row = 0;
    try {
      for await (const records of csvRecordBatches(text)) {
        const rows: InventoryRow[] = [];
        for (let r = 0; r < records.length; r++) {
          const fields = records[r]!;
          row++;
          if (row <= after) continue;
          if (fields.length !== width) {
            throw new InventoryError(`${file.uri} row ${row} has ${fields.length} fields, but the manifest's fileSchema names ${width} (${this.manifest.columns.join(', ')})`);
          }
          if (fields[at.bucket] !== bucket) this.checkBucket(file, row, fields[at.bucket]!);
          if (at.latest !== undefined && fields[at.latest] === 'false') continue;
          if (at.deleteMarker !== undefined && fields[at.deleteMarker] === 'true') continue;
          let key: string;
          try {
            key = decodeInventoryKey(fields[at.key]!);
          } catch (error) {
            throw new InventoryError(`${file.uri} row ${row}: ${(error as Error).message}`);
          }
          const sizeText = at.size === undefined ? '' : fields[at.size]!;
          const etagText = at.etag === undefined ? '' : fields[at.etag]!;
          const modifiedText = withModified ? fields[at.lastModified!]! : '';
          rows.push({
            row,
            key,
            size: sizeText === '' ? null : Number(sizeText),
            etag: etagText === '' ? null : stripQuotes(etagText),
            lastModified: modifiedText === '' ? null : modifiedText,
          });
        }
        if (rows.length > 0) yield rows;
      }
    } catch (error) {
      if (error instanceof InventoryError) throw error;
      if ((error as { code?: string }).code === 'Z_DATA_ERROR' || (error as { code?: string }).code === 'Z_BUF_ERROR') {
        throw new InventoryError(`${file.uri} is not a readable .csv.gz file: ${(error as Error).message}`);
      }
      throw error;
    } finally {
      raw.destroy();
      gunzip.destroy();
    }
    if (md5) {
      const actual = md5.digest('hex');
      if (actual !== file.md5) throw new InventoryError(`${file.uri} does not match the MD5 its manifest gives (${actual}, expected ${file.md5}): a partial or altered report`);
    }
  }

  private async *parquetRows(file: InventoryFile, options: InventoryRowsOptions): AsyncGenerator<InventoryRow[]> {
    const after = options.afterRow ?? 0;
    const blob = await this.store.openBlob(file.key);
    if (blob.size !== file.size) throw new InventoryError(`${file.uri} has ${blob.size} bytes, the manifest says ${file.size}: a partial or altered report`);
    const { schema } = await readParquetMetadata(blob);
    const present = new Set(schema.fields.map((field) => field.name));
    const wanted = ['Bucket', 'Key', 'Size', 'ETag', 'LastModifiedDate', 'IsLatest', 'IsDeleteMarker'].map((column) => parquetColumn(column));
    const missing = ['bucket', 'key'].filter((name) => !present.has(name));
    if (missing.length > 0) throw new InventoryError(`${file.uri} has no column ${missing.join(', ')} (its columns: ${[...present].join(', ')})`);
    let row = 0;
    for await (const batch of readParquetBatches(blob, { columns: wanted.filter((name) => present.has(name)), batchSize: PARQUET_BATCH_ROWS })) {
      options.signal?.throwIfAborted();
      if (row + batch.numRows <= after) {
        row += batch.numRows;
        continue;
      }
      const column = (name: string) => (present.has(name) ? batch.getChild(name) : null);
      const [buckets, keys, sizes, etags, modified, latest, deleteMarkers] = wanted.map(column);
      // One bucket per report: its first row of each batch is checked, not every row.
      this.checkBucket(file, row + 1, String(buckets!.get(0)));
      // Integer columns as typed arrays (Int64 and TIMESTAMP_MILLIS: bigint), read without boxing per row.
      const sizeValues = numbers(sizes);
      const modifiedValues = options.lastModified === false ? null : numbers(modified);
      const rows: InventoryRow[] = [];
      const millis = modified ? millisPerUnit(modified.type as { unit?: number }) : 1;
      for (let i = 0; i < batch.numRows; i++) {
        row++;
        if (row <= after) continue;
        if (latest && latest.get(i) === false) continue;
        if (deleteMarkers && deleteMarkers.get(i) === true) continue;
        const key = keys!.get(i) as string | null;
        if (key === null) throw new InventoryError(`${file.uri} row ${row} has no key`);
        const etag = etags?.get(i) as string | null | undefined;
        rows.push({
          row,
          key,
          size: sizeValues && sizes!.isValid(i) ? Number(sizeValues[i]) : null,
          etag: etag === null || etag === undefined || etag === '' ? null : stripQuotes(etag),
          lastModified: modifiedValues && modified!.isValid(i) ? new Date(Number(modifiedValues[i]) * millis).toISOString() : null,
        });
      }
      if (rows.length > 0) yield rows;
    }
  }

  private columnsAt() {
    const at = (column: string) => this.index.get(column);
    return {
      bucket: at('Bucket')!,
      key: at('Key')!,
      size: at('Size'),
      etag: at('ETag'),
      lastModified: at('LastModifiedDate'),
      latest: at('IsLatest'),
      deleteMarker: at('IsDeleteMarker'),
    };
  }

  private checkBucket(file: InventoryFile, row: number, bucket: string): void {
    if (bucket !== this.manifest.sourceBucket) {
      throw new InventoryError(`${file.uri} row ${row} lists bucket ${JSON.stringify(bucket)}, not the manifest's source bucket ${this.manifest.sourceBucket}`);
    }
  }
}

/** The values of an integer (or millisecond timestamp) column as one typed array; null without the column. */
function numbers(vector: { toArray(): unknown } | null | undefined): ArrayLike<number | bigint> | null {
  if (!vector) return null;
  const values = vector.toArray();
  return ArrayBuffer.isView(values) || Array.isArray(values) ? (values as ArrayLike<number | bigint>) : null;
}

/** Milliseconds per unit of a timestamp type (S3 writes TIMESTAMP_MILLIS; others are converted). */
function millisPerUnit(type: { unit?: number }): number {
  // Arrow's TimeUnit: SECOND, MILLISECOND, MICROSECOND, NANOSECOND.
  return [1000, 1, 1e-3, 1e-6][type.unit ?? 1] ?? 1;
}

function stripQuotes(etag: string): string {
  return etag.length >= 2 && etag.charCodeAt(0) === 0x22 && etag.charCodeAt(etag.length - 1) === 0x22 ? etag.slice(1, -1) : etag;
}
