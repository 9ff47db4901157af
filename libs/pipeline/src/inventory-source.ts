/**
 * S3 Inventory reports as a source (`s3-inventory`): the objects of the source bucket as the
 * report's data files list them, without one ListObjects call on that bucket. Planned objects
 * are `s3://<sourceBucket>/<key>` with the report's ETag (unquoted) and size.
 *
 * Two ways to read a report:
 * - unit by unit: {@link inventoryUnits} gives its data files (manifest order), and
 *   {@link InventorySource.listFile} streams one of them from a cursor of that file — one planning
 *   unit per data file;
 * - as one stream in uri order ({@link listInventorySource}), which incremental runs merge against
 *   the processed index. S3 documents no order for a report: in practice each data file is
 *   sorted by key and the files cover disjoint key ranges, but the manifest lists them in no
 *   particular order. So the files are put in the order of their first keys (one small read at
 *   the start of each, 8 at a time); a report whose files overlap or whose rows are not sorted
 *   is refused by the incremental merge, which checks every step of the order.
 *
 * Cursors are `inv:<file index>:<row>:<key>`: the file (manifest index) and row (1-based, every
 * row counted) to resume after, and the key, so that an incremental merge resumes at its uri.
 */
import {
  InventoryError,
  InventoryReader,
  compareKeys,
  inventorySourceBucketOf,
  isInventoryManifestUri,
  mapBounded,
  readInventoryManifest,
  resolveInventoryManifest,
  type InventoryFile,
  type InventoryManifest,
  type S3Options,
} from '@siglip-batch/io';
import type { SourceEntry, SourceListing } from './source-lister';
import { resolveManifestSource } from './source-kind-resolver';

export interface InventoryListOptions {
  /** Resume after this cursor (of this file, for listFile), or from the start (null). */
  after: string | null;
  /** Only keys ending in one of these (case-insensitive); empty = every object. */
  suffixes: readonly string[];
  /** URI folders (ending in '/') whose objects are not listed: the run's output inside the source bucket. */
  excluded?: readonly string[];
  signal?: AbortSignal;
}

/** An opened report: its manifest, read and checked once, and a reader of its data files. */
export interface InventorySource {
  readonly manifest: InventoryManifest;
  /** The planning units: one per data file, in manifest order. */
  units(): InventoryFile[];
  /** The objects of one data file, after `options.after` (a cursor of that file) or from its start. */
  listFile(file: InventoryFile, options: InventoryListOptions): AsyncGenerator<SourceEntry>;
  /** {@link listFile} in arrays (never empty), one per chunk of the data file read. */
  listFileBatches(file: InventoryFile, options: InventoryListOptions): AsyncGenerator<InventoryEntry[]>;
  /** The data files in the order of their first keys (empty files left out). */
  keyOrder(signal?: AbortSignal): Promise<InventoryFile[]>;
  close(): void;
}

/** The data files of a report, one planning unit each, in manifest order. */
export function inventoryUnits(manifest: InventoryManifest): InventoryFile[] {
  return manifest.files;
}

/** Reads and checks a report's manifest.json (a configuration error when it is not usable). */
export async function openInventorySource(manifestUri: string, s3?: S3Options): Promise<InventorySource> {
  const manifest = await readInventoryManifest(manifestUri, s3 ? { s3 } : {});
  const reader = new InventoryReader(manifest, s3);
  const prefix = `s3://${manifest.sourceBucket}/`;
  return {
    manifest,
    units: () => inventoryUnits(manifest),
    listFile: (file, options) => entriesOf(listFileBatches(reader, prefix, file, options)),
    listFileBatches: (file, options) => listFileBatches(reader, prefix, file, options),
    keyOrder: (signal) => keyOrder(reader, manifest.files, signal),
    close: () => reader.close(),
  };
}

/** An object of a data file; its cursor is made only when asked for (a planner keeps one per shard). */
export class InventoryEntry implements SourceEntry {
  constructor(
    readonly file: number,
    readonly row: number,
    readonly key: string,
    readonly object: SourceEntry['object'],
  ) {}

  get cursor(): string {
    return inventoryCursor(this.file, this.row, this.key);
  }
}

async function* entriesOf(batches: AsyncIterable<SourceEntry[]>): AsyncGenerator<SourceEntry> {
  for await (const entries of batches) yield* entries;
}

async function* listFileBatches(reader: InventoryReader, prefix: string, file: InventoryFile, options: InventoryListOptions): AsyncGenerator<InventoryEntry[]> {
  let afterRow = 0;
  if (options.after !== null) {
    const cursor = parseInventoryCursor(options.after);
    if (cursor.file !== file.index) throw new Error(`the cursor ${JSON.stringify(options.after)} is not one of the data file ${file.uri} (#${file.index})`);
    afterRow = cursor.row;
  }
  const suffixes = options.suffixes.filter((s) => s !== '').map((s) => s.toLowerCase());
  const excluded = options.excluded ?? [];
  for await (const rows of reader.rowBatches(file, { afterRow, lastModified: false, ...(options.signal ? { signal: options.signal } : {}) })) {
    const entries: InventoryEntry[] = [];
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      // "Folder" marker objects are not images.
      if (row.key.endsWith('/')) continue;
      if (suffixes.length > 0 && !hasSuffix(row.key.toLowerCase(), suffixes)) continue;
      const uri = prefix + row.key;
      if (excluded.length > 0 && excluded.some((folder) => uri.startsWith(folder))) continue;
      entries.push(new InventoryEntry(file.index, row.row, row.key, { uri, etag: row.etag, size: row.size }));
    }
    if (entries.length > 0) yield entries;
  }
}

function hasSuffix(lower: string, suffixes: readonly string[]): boolean {
  for (let i = 0; i < suffixes.length; i++) if (lower.endsWith(suffixes[i]!)) return true;
  return false;
}

const FIRST_KEY_READS = 8;

async function keyOrder(reader: InventoryReader, files: readonly InventoryFile[], signal?: AbortSignal): Promise<InventoryFile[]> {
  const firsts = await mapBounded(files, FIRST_KEY_READS, (file) => reader.firstKey(file, signal));
  return files
    .map((file, i) => ({ file, first: firsts[i]! }))
    .filter((entry) => entry.first !== null)
    .sort((a, b) => compareKeys(a.first!, b.first!) || a.file.index - b.file.index)
    .map((entry) => entry.file);
}

/**
 * The whole report as one stream in the key order of its files (see the file comment), resuming
 * after `options.after`. The manifest is read (and checked) again: a resumed listing reads the
 * same report, since the run's source names its manifest.json.
 */
export async function listInventorySource(manifestUri: string, options: InventoryListOptions & { s3?: S3Options }): Promise<SourceListing> {
  const source = await openInventorySource(manifestUri, options.s3);
  return {
    extraColumns: [],
    entries: (async function* () {
      try {
        const files = await source.keyOrder(options.signal);
        const cursor = options.after === null ? null : parseInventoryCursor(options.after);
        let start = 0;
        if (cursor !== null) {
          start = files.findIndex((file) => file.index === cursor.file);
          if (start < 0) throw new Error(`the listing's cursor names data file #${cursor.file}, which ${manifestUri} does not list (or lists empty)`);
        }
        // Checked here, where the report is at hand, so that the message names it (the
        // incremental merge would only say the listing is out of order).
        let previous = cursor?.key;
        for (let i = start; i < files.length; i++) {
          for await (const entries of source.listFileBatches(files[i]!, { ...options, after: i === start && cursor !== null ? options.after : null })) {
            for (const entry of entries) {
              const key = entry.key;
              if (previous !== undefined && compareKeys(previous, key) >= 0) {
                throw new InventoryError(
                  `${manifestUri} is not sorted by key: ${files[i]!.uri} lists ${JSON.stringify(key)} after ${JSON.stringify(previous)} ` +
                    '(a report read in uri order, as an incremental run needs, must have each data file sorted by key and the files covering separate key ranges)',
                );
              }
              previous = key;
              yield entry;
            }
          }
        }
      } finally {
        source.close();
      }
    })(),
  };
}

export function inventoryCursor(file: number, row: number, key: string): string {
  return `inv:${file}:${row}:${key}`;
}

export function parseInventoryCursor(cursor: string): { file: number; row: number; key: string } {
  const match = /^inv:(\d+):(\d+):/.exec(cursor);
  if (!match) throw new Error(`not an inventory cursor: ${JSON.stringify(cursor)}`);
  return { file: Number(match[1]), row: Number(match[2]), key: cursor.slice(match[0].length) };
}

/**
 * What an incremental merge of this source compares with the processed index: index entries
 * under `sourceUri` (the whole source bucket: a report covers its configuration's filter, which
 * the manifest does not name) are ours, and a resumed merge starts after `afterUri`.
 */
export function inventoryListingScope(manifestUri: string, cursor: string | null): { sourceUri: string; afterUri?: string } {
  const sourceUri = `s3://${inventorySourceBucketOf(manifestUri)}/`;
  return cursor === null ? { sourceUri } : { sourceUri, afterUri: `${sourceUri}${parseInventoryCursor(cursor).key}` };
}

/** What `--source-kind` may say: `auto` (from the name), `inventory` or `manifest` (source-kind-resolver.ts). */
export type SourceKindHint = 'auto' | 'inventory' | 'manifest';

/**
 * The source a run is made of: an inventory source (a manifest.json, or with `--source-kind
 * inventory` a configuration or report folder) becomes the manifest.json of one report, so that
 * the run, its resumes and its workers read that report and no other. `note` says which report
 * was picked from a configuration folder. With `manifest`, a folder of manifests becomes `<folder>/**`
 * (resolveManifestSource). Other sources are returned as they are.
 */
export async function resolveRunSource(source: string, hint: SourceKindHint, s3?: S3Options): Promise<{ source: string; note?: string }> {
  // A folder of manifests → `<folder>/**`, frozen in the spec.
  if (hint === 'manifest') return resolveManifestSource(source, s3);
  if (hint !== 'inventory' && !isInventoryManifestUri(source)) return { source };
  const resolved = await resolveInventoryManifest(source, s3);
  if (resolved.reports === undefined) return { source: resolved.manifestUri };
  return { source: resolved.manifestUri, note: `inventory ${source}: using its newest report ${resolved.manifestUri} (of ${resolved.reports})` };
}
