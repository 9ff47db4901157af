/**
 * `--retry-errors <run folder>`: the objects of a finalised run's errors files as a source.
 *
 * The files are those the run's `_manifest.json` lists, read in its order, record batch by record
 * batch, so memory does not grow with the number of error rows. The cursor is `#<n>`: the n-th
 * error row of the run (1-based, counted over every file, whatever its code). `compact` merges
 * files in manifest order and keeps their rows in order, so the n-th row stays the n-th row and a
 * listing resumes at the same place after the run was compacted; whole files before the cursor
 * are skipped from their manifest row counts without being read.
 */
import { METADATA_KEYS, readParquetBatches, readParquetMetadata, type S3Options } from '@siglip-batch/io';
import { ERRORS_COLUMNS, extraTypeOf, openRunFolder, runFiles, type RunFolder } from '@siglip-batch/run-format';
import { extraColumnSchema, type ExtraColumn, type ExtraValue, type ObjectSourceKind, type RunManifest } from '@siglip-batch/jobs';
import { z } from 'zod';
import { objectSourceOf } from '../source-access';
import { sourceKindOf } from '../source-kind';
import type { SourceEntry, SourceListing } from '../source-lister';

/** What a retry of a run needs to know about it before planning. */
export interface RetriedRun {
  /** The run folder's URI. */
  run: string;
  /** The output root that holds it: a retry's default `--out`. */
  output: string;
  /** Where its objects come from (for a retry of a retry: the first run's source). */
  objectSource: string;
  objectSourceKind: ObjectSourceKind;
  manifest: RunManifest;
}

/** Reads what a retry needs of a run; refuses a run without a manifest (not finalised). */
export async function readRetriedRun(runUri: string, s3: S3Options = {}): Promise<RetriedRun> {
  const folder = openRunFolder(runUri, s3);
  try {
    const manifest = await readRetryManifest(folder);
    const spec = await folder.readRunSpec();
    // A run folder without _run.json (written by another tool): its manifest names the source.
    const { source, sourceKind } = objectSourceOf(spec ?? { source: manifest.source, sourceKind: sourceKindOf(manifest.source) });
    const objects = { objectSource: source, objectSourceKind: sourceKind };
    const run = folder.uriOf('');
    const trimmed = run.replace(/\/+$/, '');
    return { run, output: trimmed.slice(0, trimmed.length - folder.runId.length), ...objects, manifest };
  } finally {
    folder.store.close();
  }
}

async function readRetryManifest(folder: RunFolder): Promise<RunManifest> {
  const manifest = await folder.readManifest();
  if (!manifest) {
    throw new Error(
      `cannot retry the errors of ${folder.uriOf('')}: it has no _manifest.json, so the run is not finalised (or this is not a run folder); ` +
        'its errors files are final only once the run is completed: wait for it (siglip-batch status), or resume it first (enqueue --resume)',
    );
  }
  return manifest;
}

export interface ErrorsListingOptions {
  /** Only rows with these codes; null: every row. */
  codes: readonly string[] | null;
  /** Resume after this cursor (`#<n>`), or from the start. */
  after: string | null;
  /** Only uris ending in one of these (lower case); empty: every row. */
  suffixes: readonly string[];
  s3?: S3Options;
  signal?: AbortSignal;
}

/** Streams the error rows of the finalised run at `runUri` as planned objects. */
export async function listErrorsSource(runUri: string, options: ErrorsListingOptions): Promise<SourceListing> {
  const folder = openRunFolder(runUri, options.s3);
  let manifest: RunManifest;
  let extraColumns: ExtraColumn[];
  try {
    manifest = await readRetryManifest(folder);
    let first: string | undefined;
    for await (const file of runFiles(folder, manifest, { kind: 'errors' })) {
      first = file.key;
      break;
    }
    extraColumns = first !== undefined ? await extraColumnsOf(folder, first) : [];
  } catch (error) {
    folder.store.close();
    throw error;
  }
  const startAfter = options.after === null ? 0 : parseErrorsCursor(options.after);
  const codes = options.codes === null ? null : new Set(options.codes);
  const wanted = (uri: string, code: string) =>
    (codes === null || codes.has(code)) && (options.suffixes.length === 0 || options.suffixes.some((suffix) => uri.toLowerCase().endsWith(suffix)));
  return {
    extraColumns,
    entries: (async function* (): AsyncGenerator<SourceEntry> {
      try {
        let base = 0;
        for await (const file of runFiles(folder, manifest, { kind: 'errors' })) {
          if (base + file.rows <= startAfter) {
            base += file.rows;
            continue;
          }
          let position = base;
          const blob = await folder.store.openBlob(folder.keyOf(file.key));
          for await (const batch of readParquetBatches(blob, { batchSize: 4096 })) {
            options.signal?.throwIfAborted();
            if (position + batch.numRows <= startAfter) {
              position += batch.numRows;
              continue;
            }
            const [uris, etags, sizes, errorCodes] = ['uri', 'etag', 'size_bytes', 'error_code'].map((name) => batch.getChild(name));
            if (!uris || !errorCodes) throw new Error(`${folder.uriOf(file.key)} is not an errors file: it has no uri or error_code column`);
            const extras = extraColumns.map((column) => ({ vector: batch.getChild(column.name), convert: converterFor(column.type) }));
            for (let row = 0; row < batch.numRows; row++) {
              position++;
              if (position <= startAfter) continue;
              const uri = uris.get(row) as string | null;
              const code = errorCodes.get(row) as string | null;
              if (uri === null || code === null || !wanted(uri, code)) continue;
              const etag = (etags?.get(row) as string | null | undefined) ?? null;
              const size = sizes?.get(row) as bigint | number | null | undefined;
              const extra = extras.map(({ vector, convert }) => convert(vector ? vector.get(row) : null));
              yield {
                cursor: errorsCursor(position),
                object: { uri, etag, size: size === null || size === undefined ? null : Number(size), ...(extraColumns.length > 0 ? { extra } : {}) },
              };
            }
          }
          if (position !== base + file.rows) {
            throw new Error(`${folder.uriOf(file.key)} has ${position - base} rows where the run's manifest says ${file.rows}: the run folder was changed`);
          }
          base += file.rows;
        }
      } finally {
        folder.store.close();
      }
    })(),
  };
}

/** The pass-through columns of an errors file: as its writer recorded them, else from its schema. */
async function extraColumnsOf(folder: RunFolder, key: string): Promise<ExtraColumn[]> {
  const { schema, keyValueMetadata } = await readParquetMetadata(await folder.store.openBlob(folder.keyOf(key)));
  const recorded = keyValueMetadata[METADATA_KEYS.extraColumns];
  if (recorded !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(recorded);
    } catch {
      json = undefined;
    }
    const parsed = z.array(extraColumnSchema).safeParse(json);
    if (parsed.success) return parsed.data;
  }
  const builtIn = new Set<string>(ERRORS_COLUMNS);
  return schema.fields.filter((field) => !builtIn.has(field.name)).map((field) => ({ name: field.name, type: extraTypeOf(field.type) }));
}

function converterFor(type: ExtraColumn['type']): (value: unknown) => ExtraValue {
  return (value) => {
    if (value === null || value === undefined) return null;
    switch (type) {
      case 'int64':
        return String(value);
      case 'float64':
        return Number(value);
      case 'boolean':
        return Boolean(value);
      case 'string':
        return typeof value === 'string' ? value : String(value);
    }
  };
}

export function errorsCursor(position: number): string {
  return `#${position}`;
}

function parseErrorsCursor(cursor: string): number {
  const match = /^#(\d+)$/.exec(cursor);
  if (!match) throw new Error(`not an errors listing position: ${JSON.stringify(cursor)}`);
  return Number(match[1]);
}
