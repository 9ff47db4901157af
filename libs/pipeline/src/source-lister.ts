import { openLocation, readManifestSource, type S3Options } from '@siglip-batch/io';
import type { ExtraColumn, PlannedObject, SourceKind } from '@siglip-batch/jobs';

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
  /** Only keys ending in one of these (case-insensitive); empty = every object. */
  suffixes: string[];
  s3?: S3Options;
  signal?: AbortSignal;
}

/**
 * Streams a source in a stable order: keys in byte order for S3 prefixes and directories,
 * file order for manifests. Nothing is held beyond the page being read, so a listing of
 * 100 million objects needs no more memory than one of a thousand.
 */
export async function listSource(source: string, options: ListSourceOptions): Promise<SourceListing> {
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
  const listOptions = {
    ...(options.after !== null ? { startAfter: options.after } : {}),
    ...(options.suffixes.length > 0 ? { suffixes: options.suffixes } : {}),
    ...(options.signal ? { signal: options.signal } : {}),
  };
  return {
    extraColumns: [],
    entries: (async function* () {
      try {
        for await (const info of store.list(prefix, listOptions)) {
          // "Folder" marker objects are not images.
          if (info.key.endsWith('/')) continue;
          yield { cursor: info.key, object: { uri: store.uriOf(info.key), etag: info.etag, size: info.size } };
        }
      } finally {
        store.close();
      }
    })(),
  };
}

export function manifestCursor(position: number): string {
  return `#${position}`;
}

function parseManifestCursor(cursor: string): number {
  const match = /^#(\d+)$/.exec(cursor);
  if (!match) throw new Error(`not a manifest position: ${JSON.stringify(cursor)}`);
  return Number(match[1]);
}
