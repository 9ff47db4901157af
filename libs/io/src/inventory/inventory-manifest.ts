/**
 * S3 Inventory reports as S3 delivers them to the destination bucket:
 *
 *   <dest-prefix>/<source-bucket>/<config-id>/<YYYY-MM-DDTHH-MMZ>/manifest.json   (+ manifest.checksum)
 *   <dest-prefix>/<source-bucket>/<config-id>/data/<uuid>.csv.gz | .parquet | .orc
 *   <dest-prefix>/<source-bucket>/<config-id>/hive/dt=<YYYY-MM-DD-HH-MM>/symlink.txt
 *
 * `manifest.json` names the source bucket, the destination bucket (an ARN), the format
 * (CSV, ORC or Parquet), the columns (`fileSchema`: "Bucket, Key, Size, …" for CSV, a Parquet
 * message type for Parquet) and the data files with their size and MD5. `manifest.checksum` is
 * the MD5 of `manifest.json`. Only CSV and Parquet are read here; ORC is refused by name.
 */
import { createHash } from 'node:crypto';
import { parseLocation } from '../location';
import { openLocation, openObject, s3OptionsFromEnv, type S3Options } from '../open-store';

export type InventoryFormat = 'CSV' | 'Parquet';

/** One data file of a report, in the manifest's order (`index`). */
export interface InventoryFile {
  index: number;
  /** Key in the destination bucket. */
  key: string;
  /** URI of the data file (`s3://<destination>/<key>`). */
  uri: string;
  size: number;
  /** MD5 of the file's bytes (hex), as the manifest gives it; null when it gives none. */
  md5: string | null;
}

export interface InventoryManifest {
  /** URI of the manifest.json. */
  uri: string;
  sourceBucket: string;
  /** Name of the bucket holding the data files (from the ARN). */
  destinationBucket: string;
  format: InventoryFormat;
  /** The columns in CSV naming (`Bucket`, `Key`, `Size`, `ETag`, `LastModifiedDate`, …), in file order. */
  columns: string[];
  /** When S3 began scanning the bucket (ISO 8601). */
  createdAt: string;
  files: InventoryFile[];
}

/** A manifest that S3 would not have written, or one this reader cannot read: a configuration error. */
export class InventoryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

/** Columns without which a row names no object. */
const REQUIRED_COLUMNS = ['Bucket', 'Key'] as const;
const REPORT_FOLDER = /^\d{4}-\d{2}-\d{2}T\d{2}-\d{2}Z$/;

/** Parquet's snake_case column names as the CSV `fileSchema` spells them (`e_tag` → `ETag`). */
export function canonicalColumn(name: string): string {
  if (name === 'e_tag') return 'ETag';
  return name
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
}

/** The Parquet column of a CSV-style column name (`ETag` → `e_tag`, `LastModifiedDate` → `last_modified_date`). */
export function parquetColumn(column: string): string {
  if (column === 'ETag') return 'e_tag';
  return column.replace(/[A-Z]/g, (c, at: number) => `${at === 0 ? '' : '_'}${c.toLowerCase()}`);
}

/** Validates a manifest.json's text. */
export function parseInventoryManifest(text: string, uri: string): InventoryManifest {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (error) {
    throw new InventoryError(`${uri} is not JSON: ${(error as Error).message}`);
  }
  const problems: string[] = [];
  const doc = (raw ?? {}) as Record<string, unknown>;
  const text_ = (name: string): string => {
    const value = doc[name];
    if (typeof value !== 'string' || value === '') {
      problems.push(`"${name}" is missing or not a string`);
      return '';
    }
    return value;
  };
  const sourceBucket = text_('sourceBucket');
  const destinationArn = text_('destinationBucket');
  const fileFormat = text_('fileFormat');
  const fileSchema = text_('fileSchema');
  const created = doc['creationTimestamp'];
  const destinationBucket = destinationArn.startsWith('arn:aws:s3:::') ? destinationArn.slice('arn:aws:s3:::'.length) : '';
  if (destinationArn !== '' && destinationBucket === '') problems.push(`"destinationBucket" is not an S3 bucket ARN (arn:aws:s3:::name): ${JSON.stringify(destinationArn)}`);
  const millis = typeof created === 'string' || typeof created === 'number' ? Number(created) : Number.NaN;
  if (!Number.isFinite(millis)) problems.push('"creationTimestamp" is missing or not epoch milliseconds');
  let format: InventoryFormat = 'CSV';
  if (fileFormat.toUpperCase() === 'ORC') {
    problems.push('the report is ORC: only CSV and Parquet inventories are read (set the inventory configuration\'s format to CSV or Parquet)');
  } else if (fileFormat.toUpperCase() === 'PARQUET') {
    format = 'Parquet';
  } else if (fileFormat.toUpperCase() !== 'CSV' && fileFormat !== '') {
    problems.push(`unknown "fileFormat" ${JSON.stringify(fileFormat)} (CSV, ORC or Parquet)`);
  }
  const columns = format === 'Parquet' ? parquetSchemaColumns(fileSchema) : fileSchema.split(',').map((c) => c.trim()).filter((c) => c !== '');
  if (fileSchema !== '') {
    const missing = REQUIRED_COLUMNS.filter((c) => !columns.includes(c));
    if (missing.length > 0) problems.push(`"fileSchema" has no ${missing.join(', ')} column (it has: ${columns.join(', ') || 'nothing'})`);
  }
  const files: InventoryFile[] = [];
  if (!Array.isArray(doc['files'])) {
    problems.push('"files" is missing or not a list');
  } else {
    (doc['files'] as unknown[]).forEach((entry, index) => {
      const file = (entry ?? {}) as Record<string, unknown>;
      const key = file['key'];
      const size = file['size'];
      const md5 = file['MD5checksum'];
      if (typeof key !== 'string' || key === '' || typeof size !== 'number' || !Number.isInteger(size) || size < 0) {
        problems.push(`files[${index}] needs a "key" (string) and a "size" (bytes)`);
        return;
      }
      if (format === 'CSV' && !key.endsWith('.csv.gz') && !key.endsWith('.csv')) problems.push(`files[${index}] ${key} is not a .csv.gz file, though the format is CSV`);
      files.push({ index, key, uri: `s3://${destinationBucket}/${key}`, size, md5: typeof md5 === 'string' && /^[0-9a-f]{32}$/i.test(md5) ? md5.toLowerCase() : null });
    });
  }
  if (problems.length > 0) throw new InventoryError(`${uri} is not a usable S3 Inventory manifest: ${problems.join('; ')}`);
  return { uri, sourceBucket, destinationBucket, format, columns, createdAt: new Date(millis).toISOString(), files };
}

/** Column names of a Parquet `fileSchema` ("message s3.inventory { required binary bucket (UTF8); … }"), CSV-style. */
function parquetSchemaColumns(schema: string): string[] {
  const columns: string[] = [];
  for (const match of schema.matchAll(/(?:required|optional)\s+\w+\s+(\w+)/g)) columns.push(canonicalColumn(match[1]!));
  return columns;
}

/**
 * The source bucket a manifest URI names by its place in the layout
 * (`…/<source-bucket>/<config-id>/<YYYY-MM-DDTHH-MMZ>/manifest.json`). Workers use it to scope
 * what a run of this source may read without reading the manifest.
 */
export function inventorySourceBucketOf(manifestUri: string): string {
  const location = parseLocation(manifestUri);
  const path = location.kind === 's3' ? location.prefix : location.root;
  const parts = path.split('/').filter((p) => p !== '');
  const n = parts.length;
  if (n < 4 || parts[n - 1] !== 'manifest.json' || !REPORT_FOLDER.test(parts[n - 2]!)) {
    throw new InventoryError(
      `${manifestUri} is not where S3 delivers an inventory manifest (<dest-prefix>/<source-bucket>/<config-id>/<YYYY-MM-DDTHH-MMZ>/manifest.json)`,
    );
  }
  return parts[n - 4]!;
}

export function isInventoryManifestUri(uri: string): boolean {
  return /(^|\/)manifest\.json$/i.test(uri.split('?')[0]!);
}

export interface ReadInventoryManifestOptions {
  s3?: S3Options;
  /** Compare with `manifest.checksum` next to it when that exists. @defaultValue true */
  verifyChecksum?: boolean;
}

/** Reads and validates a manifest.json (and its manifest.checksum). */
export async function readInventoryManifest(uri: string, options: ReadInventoryManifestOptions = {}): Promise<InventoryManifest> {
  const { store, key, location } = openObject(uri, options.s3 ?? s3OptionsFromEnv());
  try {
    if (!(await store.exists(key))) throw new InventoryError(`inventory manifest ${location.uri} does not exist`);
    const bytes = await store.get(key, { allowEmpty: true });
    const manifest = parseInventoryManifest(bytes.toString('utf8'), location.uri);
    const layoutBucket = inventorySourceBucketOf(location.uri);
    if (layoutBucket !== manifest.sourceBucket) {
      throw new InventoryError(`${location.uri} lists bucket ${manifest.sourceBucket} but lies under ${layoutBucket}/: not where S3 delivers that bucket's reports`);
    }
    const checksumKey = key.replace(/manifest\.json$/, 'manifest.checksum');
    if (options.verifyChecksum !== false && checksumKey !== key && (await store.exists(checksumKey))) {
      const expected = (await store.get(checksumKey, { allowEmpty: true })).toString('utf8').trim().toLowerCase();
      const actual = createHash('md5').update(bytes).digest('hex');
      if (expected !== actual) throw new InventoryError(`${location.uri} does not match its manifest.checksum (MD5 ${actual}, expected ${expected}): a partial or altered report`);
    }
    return manifest;
  } finally {
    store.close();
  }
}

export interface ResolvedInventory {
  /** The manifest.json to read. */
  manifestUri: string;
  /** Set when `uri` was a configuration folder: how many reports it holds (the newest was taken). */
  reports?: number;
}

/**
 * A manifest.json as it is, a report folder (`…/<YYYY-MM-DDTHH-MMZ>/`) → its manifest.json, or
 * an inventory configuration's folder (`…/<source-bucket>/<config-id>/`) → the manifest.json of
 * its newest report. Report folders sort before `data/` and `hive/` (digits before letters), so
 * the listing stops at the first key that is not in one: it reads two keys per report, never
 * the data files.
 */
export async function resolveInventoryManifest(uri: string, s3: S3Options = s3OptionsFromEnv()): Promise<ResolvedInventory> {
  if (isInventoryManifestUri(uri)) return { manifestUri: parseLocation(uri).uri };
  const { store, prefix, location } = openLocation(uri, s3);
  try {
    const last = (location.kind === 's3' ? prefix : location.root).split('/').filter((p) => p !== '').at(-1) ?? '';
    if (REPORT_FOLDER.test(last)) return { manifestUri: store.uriOf(`${prefix}manifest.json`) };
    let newest: string | undefined;
    let reports = 0;
    for await (const info of store.list(prefix)) {
      const rest = info.key.slice(prefix.length);
      const folder = rest.split('/')[0]!;
      if (!/^\d/.test(folder)) break;
      if (REPORT_FOLDER.test(folder) && rest === `${folder}/manifest.json`) {
        reports++;
        newest = info.key;
      }
    }
    if (newest === undefined) {
      throw new InventoryError(`${location.uri} holds no inventory report (<YYYY-MM-DDTHH-MMZ>/manifest.json): give an inventory configuration's folder or a manifest.json`);
    }
    return { manifestUri: store.uriOf(newest), reports };
  } finally {
    store.close();
  }
}
