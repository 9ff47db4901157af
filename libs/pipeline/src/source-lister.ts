import { S3ObjectStore, compareKeys, openLocation, type S3Options } from '@siglip-batch/io';
import { readManifestSource } from '@siglip-batch/run-format';
import type { ExtraColumn, PlannedObject, SourceKind } from '@siglip-batch/jobs';
import { listInventorySource } from './inventory-source';
import { listErrorsSource } from './retry/errors-source';
import { s3KeyPages } from './planning/s3-key-pages';

/** One listed object with the cursor that resumes the listing right after it. */
export interface SourceEntry {
  /** Resume point: the object key (S3 prefix, directory) or `#<position>` (manifest). */
  cursor: string;
  object: PlannedObject;
}

export interface SourceListing {
  extraColumns: ExtraColumn[];
  entries: AsyncIterable<SourceEntry>;
}

export interface ListSourceOptions {
  kind: SourceKind;
  /** Resume after this cursor (from a previous listing), or from the start. */
  after: string | null;
  /**
   * S3 prefixes and directories: stop after this key (a planning unit's upper bound, see
   * planning-unit.ts); null or absent: list to the end.
   * @defaultValue null
   */
  upTo?: string | null;
  /** Only keys ending in one of these (case-insensitive); empty = every object. */
  suffixes: string[];
  s3?: S3Options;
  signal?: AbortSignal;
  /**
   * Folders (URIs) whose objects are never listed when they lie inside the source: the output
   * root and the run's folder, so that a source holding its own output does not plan the run's
   * Parquet and plan files as images on the next run. A folder that is the source, or holds it,
   * is not excluded (that would exclude everything). Directory and S3 prefix sources only.
   * @defaultValue []
   */
  exclude?: readonly string[];
  /**
   * `errors` sources: only rows with these error codes (null: every row).
   * @defaultValue null
   */
  codes?: readonly string[] | null;
}

/**
 * Streams a source in a stable order: keys in byte order for S3 prefixes and directories,
 * file order for manifests, manifest order for a run's errors files. Nothing is held beyond the page being read, so a listing of
 * 100 million objects needs no more memory than one of a thousand.
 */
export async function listSource(source: string, options: ListSourceOptions): Promise<SourceListing> {
  if (options.kind === 'errors') {
    return listErrorsSource(source, {
      codes: options.codes ?? null,
      after: options.after,
      suffixes: options.suffixes,
      ...(options.s3 ? { s3: options.s3 } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
  if (options.kind === 's3-inventory') {
    // The source bucket's objects as the report lists them, in key order (see inventory-source.ts).
    return listInventorySource(source, {
      after: options.after,
      suffixes: options.suffixes,
      excluded: excludedFolders('s3://', options.exclude ?? []),
      ...(options.s3 ? { s3: options.s3 } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
  }
  if (options.kind === 'manifest-text' || options.kind === 'manifest-parquet') {
    const manifest = await readManifestSource(source, {
      format: options.kind === 'manifest-text' ? 'text' : 'parquet',
      ...(options.s3 ? { s3: options.s3 } : {}),
    });
    const startAfter = options.after === null ? undefined : parseManifestCursor(options.after);
    return {
      extraColumns: manifest.extraColumns,
      entries: (async function* () {
        try {
          for await (const row of manifest.rows({
            ...(startAfter !== undefined ? { startAfter } : {}),
            ...(options.signal ? { signal: options.signal } : {}),
          })) {
            const extra = manifest.extraColumns.length > 0 ? row.extra : undefined;
            yield { cursor: manifestCursor(row.position), object: { uri: row.uri, etag: null, size: null, ...(extra ? { extra } : {}) } };
          }
        } finally {
          manifest.close();
        }
      })(),
    };
  }
  const { store, prefix } = openLocation(source, options.s3);
  const excluded = excludedFolders(store.uriOf(prefix), options.exclude ?? []);
  const upTo = options.upTo ?? null;
  const listOptions = {
    ...(options.after !== null ? { startAfter: options.after } : {}),
    ...(options.suffixes.length > 0 ? { suffixes: options.suffixes } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  // S3: pages read as text by the planner's own scan (s3-key-pages.ts), a page at a time.
  const pages: AsyncIterable<Iterable<{ key: string; etag: string; size: number }>> =
    store instanceof S3ObjectStore
      ? s3KeyPages(store, prefix, { ...(options.after !== null ? { startAfter: options.after } : {}), ...(options.signal ? { signal: options.signal } : {}) })
      : onePerPage(store.list(prefix, listOptions));
  const suffixes = store instanceof S3ObjectStore ? options.suffixes.filter((suffix) => suffix !== '').map((suffix) => suffix.toLowerCase()) : [];
  return {
    extraColumns: [],
    entries: (async function* () {
      try {
        for await (const page of pages) {
          const batch: SourceEntry[] = [];
          for (const info of page) {
            // Keys come in byte order: the first one past the unit's bound ends its range.
            if (upTo !== null && compareKeys(info.key, upTo) > 0) {
              yield* batch;
              return;
            }
            // "Folder" marker objects are not images.
            if (info.key.endsWith('/')) continue;
            if (suffixes.length > 0 && !hasSuffix(info.key, suffixes)) continue;
            const uri = store.uriOf(info.key);
            if (excluded.length > 0 && excluded.some((folder) => uri.startsWith(folder))) continue;
            batch.push({ cursor: info.key, object: { uri, etag: info.etag, size: info.size } });
          }
          yield* batch;
        }
      } finally {
        store.close();
      }
    })(),
  };
}

async function* onePerPage<T>(items: AsyncIterable<T>): AsyncGenerator<T[]> {
  for await (const item of items) yield [item];
}

function hasSuffix(key: string, suffixes: readonly string[]): boolean {
  const lower = key.toLowerCase();
  return suffixes.some((suffix) => lower.endsWith(suffix));
}

/** The folders of `exclude` strictly inside the source folder, each ending in '/'. */
export function excludedFolders(sourceFolder: string, exclude: readonly string[]): string[] {
  const source = sourceFolder.endsWith('/') ? sourceFolder : `${sourceFolder}/`;
  return exclude.map((uri) => (uri.endsWith('/') ? uri : `${uri}/`)).filter((folder) => folder !== source && folder.startsWith(source));
}

export function manifestCursor(position: number): string {
  return `#${position}`;
}

function parseManifestCursor(cursor: string): number {
  const match = /^#(\d+)$/.exec(cursor);
  if (!match) throw new Error(`not a manifest position: ${JSON.stringify(cursor)}`);
  return Number(match[1]);
}
