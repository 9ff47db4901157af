/**
 * Manifest sources for the producer: a list of object URIs instead of a listing.
 *
 * - text: one URI per line; blank lines and `#` comments are skipped;
 * - Parquet (`.parquet`, or any file starting with the `PAR1` magic): a `uri` column (string);
 *   every other column passes through to the outputs as an extra column, its Arrow type mapped
 *   to string / int64 / float64 / boolean (anything else becomes its string form).
 *
 * Both are streamed: text line by line from the object's byte stream, Parquet record batch by
 * record batch over ranged reads (S3) or a file Blob (local). Nothing holds the whole manifest.
 *
 * URIs are canonicalised where they parse (`parseLocation`). Relative lines are relative to the
 * manifest's own folder, never to the reading process's working directory:
 * - next to a local manifest, a path: `img/a.png` in `/data/lists/m.txt` is `/data/lists/img/a.png`;
 * - next to an S3 manifest, a key appended as it is: `img/a.png` in `s3://b/lists/m.txt` is
 *   `s3://b/lists/img/a.png` (S3 keys have no `.` or `..`: `../x.png` is the key `lists/../x.png`).
 * An absolute path (or file URI) in a local manifest is that file on the machine that reads the
 * objects, read only where that machine's allow list lets it. A manifest in S3 names S3 objects
 * only: a file URI or absolute path in it is passed on verbatim, and the shard processor makes it
 * an `invalid_uri` row without reading anything (see libs/pipeline `source-access.ts`).
 * What does not parse is passed on verbatim too, for the caller to refuse as a row of its own
 * (bad input is data), not by failing the whole listing.
 */
import {
  Arrow,
  folderOf,
  openObject,
  parseLocation,
  readParquetBatches,
  readParquetMetadata,
  s3OptionsFromEnv,
  type Location,
  type ObjectStore,
  type S3Options,
} from '@siglip-batch/io';
import type { ExtraColumn, ExtraValue } from '@siglip-batch/jobs';
import type * as arrow from 'apache-arrow';
import { createInterface } from 'node:readline';
import { ERRORS_COLUMNS, PART_COLUMNS } from './parquet/shard-schema';

export interface ManifestRow {
  uri: string;
  /** Values of {@link ManifestSource.extraColumns}, in order (int64 as decimal strings). */
  extra: ExtraValue[];
  /** 1-based line number (text) or row number (Parquet): where to resume with `startAfter`. */
  position: number;
}

export interface ManifestSource {
  uri: string;
  format: 'text' | 'parquet';
  extraColumns: ExtraColumn[];
  /** Streams the rows, optionally only those after `startAfter` (a position already planned). */
  rows(options?: { startAfter?: number; signal?: AbortSignal }): AsyncIterable<ManifestRow>;
  /** Releases the store (its S3 client). */
  close(): void;
}

export interface ManifestSourceOptions {
  s3?: S3Options;
  /** Detected from the name and magic bytes when omitted. */
  format?: 'text' | 'parquet';
}

const RESERVED = new Set<string>([...PART_COLUMNS, ...ERRORS_COLUMNS]);

export async function readManifestSource(uri: string, options: ManifestSourceOptions = {}): Promise<ManifestSource> {
  const { store, key, location } = openObject(uri, options.s3 ?? s3OptionsFromEnv());
  try {
    const format = options.format ?? (await detectFormat(store, key));
    const canonical = uriCanonicaliser(location);
    if (format === 'text') {
      return {
        uri: location.uri,
        format,
        extraColumns: [],
        rows: (rowOptions = {}) => textRows(store, key, canonical, rowOptions),
        close: () => store.close(),
      };
    }
    const blob = await store.openBlob(key);
    const { schema } = await readParquetMetadata(blob);
    const uriField = schema.fields.find((field) => field.name === 'uri');
    if (!uriField || !(Arrow.DataType.isUtf8(uriField.type) || Arrow.DataType.isLargeUtf8(uriField.type) || Arrow.DataType.isDictionary(uriField.type))) {
      const columns = schema.fields.map((field) => `${field.name}: ${field.type}`).join(', ');
      throw new Error(`the Parquet manifest ${location.uri} needs a string column "uri" (its columns: ${columns})`);
    }
    const extraFields = schema.fields.filter((field) => field.name !== 'uri');
    const clashing = extraFields.filter((field) => RESERVED.has(field.name)).map((field) => field.name);
    if (clashing.length > 0) {
      throw new Error(
        `the Parquet manifest ${location.uri} has columns named like output columns (${clashing.join(', ')}): rename them; reserved are ${[...RESERVED].join(', ')}`,
      );
    }
    const extraColumns = extraFields.map((field): ExtraColumn => ({ name: field.name, type: extraTypeOf(field.type) }));
    return {
      uri: location.uri,
      format,
      extraColumns,
      rows: (rowOptions = {}) => parquetRows(blob, extraColumns, canonical, rowOptions),
      close: () => store.close(),
    };
  } catch (error) {
    store.close();
    throw error;
  }
}

async function detectFormat(store: ObjectStore, key: string): Promise<'text' | 'parquet'> {
  if (/\.(parquet|pq)$/i.test(key)) return 'parquet';
  const blob = await store.openBlob(key);
  if (blob.size < 8) return 'text';
  const magic = Buffer.from(await blob.slice(0, 4).arrayBuffer()).toString('latin1');
  return magic === 'PAR1' ? 'parquet' : 'text';
}

const SCHEME_PATTERN = /^[A-Za-z][A-Za-z0-9+.-]*:/;

function uriCanonicaliser(manifest: Location): (raw: string) => string {
  const folder = folderOf(manifest);
  return (raw) => {
    let uri = raw;
    if (folder.kind === 's3') {
      // Only S3 objects: anything else stays as written and becomes an invalid_uri row.
      if (!SCHEME_PATTERN.test(raw)) {
        if (raw.startsWith('/')) return raw;
        uri = `${folder.uri}${raw}`;
      } else if (!/^s3:/i.test(raw)) {
        return raw;
      }
    }
    try {
      return parseLocation(uri, folder.kind === 'file' ? { baseDir: folder.root } : {}).uri;
    } catch {
      return raw;
    }
  };
}

async function* textRows(
  store: ObjectStore,
  key: string,
  canonical: (raw: string) => string,
  options: { startAfter?: number; signal?: AbortSignal },
): AsyncGenerator<ManifestRow> {
  const stream = await store.getStream(key, options.signal ? { signal: options.signal } : {});
  const lines = createInterface({ input: stream, crlfDelay: Infinity });
  let position = 0;
  try {
    for await (const line of lines) {
      position++;
      if (options.startAfter !== undefined && position <= options.startAfter) continue;
      const text = line.trim();
      if (text === '' || text.startsWith('#')) continue;
      yield { uri: canonical(text), extra: [], position };
    }
  } finally {
    lines.close();
    stream.destroy();
  }
}

async function* parquetRows(
  blob: Parameters<typeof readParquetBatches>[0],
  extraColumns: ExtraColumn[],
  canonical: (raw: string) => string,
  options: { startAfter?: number; signal?: AbortSignal },
): AsyncGenerator<ManifestRow> {
  let position = 0;
  for await (const batch of readParquetBatches(blob, { batchSize: 4096 })) {
    options.signal?.throwIfAborted();
    if (options.startAfter !== undefined && position + batch.numRows <= options.startAfter) {
      position += batch.numRows;
      continue;
    }
    const uris = batch.getChild('uri')!;
    const columns = extraColumns.map((column) => {
      const vector = batch.getChild(column.name)!;
      return { vector, convert: converterFor(column.type, vector.type) };
    });
    for (let row = 0; row < batch.numRows; row++) {
      position++;
      if (options.startAfter !== undefined && position <= options.startAfter) continue;
      const raw = uris.get(row) as string | null;
      if (raw === null || raw.trim() === '') continue;
      yield { uri: canonical(raw.trim()), extra: columns.map(({ vector, convert }) => convert(vector.get(row))), position };
    }
  }
}

export function extraTypeOf(type: arrow.DataType): ExtraColumn['type'] {
  if (Arrow.DataType.isInt(type)) return 'int64';
  if (Arrow.DataType.isFloat(type)) return 'float64';
  if (Arrow.DataType.isBool(type)) return 'boolean';
  return 'string';
}

function converterFor(extraType: ExtraColumn['type'], type: arrow.DataType): (value: unknown) => ExtraValue {
  switch (extraType) {
    case 'int64':
      return (value) => (value === null || value === undefined ? null : String(value));
    case 'float64':
      return (value) => (value === null || value === undefined ? null : Number(value));
    case 'boolean':
      return (value) => (value === null || value === undefined ? null : Boolean(value));
    case 'string':
      if (Arrow.DataType.isTimestamp(type) || Arrow.DataType.isDate(type)) {
        return (value) => (value === null || value === undefined ? null : new Date(Number(value)).toISOString());
      }
      return stringOf;
  }
}

function stringOf(value: unknown): string | null {
  if (value === null || value === undefined) return null;
  if (typeof value === 'string') return value;
  if (typeof value === 'bigint' || typeof value === 'number' || typeof value === 'boolean') return String(value);
  if (value instanceof Uint8Array) return Buffer.from(value).toString('base64');
  if (value instanceof Date) return value.toISOString();
  return JSON.stringify(value, (_key, inner: unknown) => (typeof inner === 'bigint' ? inner.toString() : inner));
}
