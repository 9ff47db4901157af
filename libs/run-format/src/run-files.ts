/**
 * The files of a finished run, streamed: the one place that knows where a manifest keeps its
 * file list (schema 2: the Parquet file table it names; schema 1: inline arrays). Every reader
 * of a run's files (`search`, `latest`, `retag`, `compact`, `files`, `index`, `--retry-errors`,
 * the processed index) goes through here, so none holds the list.
 */
import { readParquetMetadata, type RandomAccessBlob } from '@siglip-batch/io';
import type { RunManifest } from '@siglip-batch/jobs';
import { compareRunFileRows, readRunFilesTable, type RunFileKind, type RunFileRow } from './parquet/run-files-file';
import type { RunFolder } from './run-folder';

export class RunFilesTableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}

export interface RunFilesOptions {
  /** Only files of these kinds (every kind, replaced ones included, when omitted). */
  kind?: RunFileKind | readonly RunFileKind[];
}

/**
 * Opens the manifest's file table and checks it is the one the manifest was written with (its
 * size and row count): a table cut short or replaced is refused, never read as a shorter run.
 */
async function openTable(folder: RunFolder, table: NonNullable<RunManifest['files']>): Promise<RandomAccessBlob> {
  const blob = await folder.store.openBlob(folder.keyOf(table.key));
  if (blob.size !== table.bytes) {
    throw new RunFilesTableError(`${folder.uriOf(table.key)} has ${blob.size} bytes, the manifest says ${table.bytes}: not the run's file table`);
  }
  const { numRows } = await readParquetMetadata(blob);
  if (numRows !== table.rows) {
    throw new RunFilesTableError(`${folder.uriOf(table.key)} has ${numRows} rows, the manifest says ${table.rows}: not the run's file table`);
  }
  return blob;
}

/** Shard of a file key written by a shard (`parts/part-00000012.parquet`, legacy `errors-00000003.parquet`). */
export function shardOfFileKey(key: string): { kind: 'part' | 'errors' | 'deletions'; shard: number } | undefined {
  const match = /(?:^|\/)(part|errors|deletions)-(\d{8})\.parquet$/.exec(key);
  return match ? { kind: match[1] as 'part' | 'errors' | 'deletions', shard: Number(match[2]) } : undefined;
}

/** Schema 1: the inline lists as rows, in the order of a table. */
function* legacyRows(manifest: RunManifest): Generator<RunFileRow> {
  const row = (kind: RunFileKind, shard: number | null, key: string, rows: number): RunFileRow => ({ kind, shard, key, rows, bytes: null, into: null, retiredAt: null });
  for (const file of manifest.parts ?? []) yield row('part', file.shard, file.key, file.rows);
  for (const file of manifest.errors ?? []) yield row('errors', file.shard, file.key, file.rows);
  for (const file of manifest.deletions ?? []) yield row('deletions', shardOfFileKey(file.key)?.shard ?? null, file.key, file.rows);
  const compaction = manifest.compaction;
  for (const entry of compaction?.replaced ?? []) {
    const kind = /(?:^|\/)errors-[^/]*$/.test(entry.key) ? 'replaced-errors' : 'replaced-part';
    yield { ...row(kind, shardOfFileKey(entry.key)?.shard ?? null, entry.key, 0), into: entry.into, retiredAt: entry.retiredAt ?? compaction!.compactedAt };
  }
}

/** The run's files of the kinds asked for, in table order (listed kinds in shard order). */
export async function* runFiles(folder: RunFolder, manifest: RunManifest, options: RunFilesOptions = {}): AsyncGenerator<RunFileRow> {
  const kinds = options.kind === undefined ? undefined : typeof options.kind === 'string' ? [options.kind] : options.kind;
  if (!manifest.files) {
    for (const row of legacyRows(manifest)) if (!kinds || kinds.includes(row.kind)) yield row;
    return;
  }
  const blob = await openTable(folder, manifest.files);
  yield* readRunFilesTable(blob, kinds ? { kinds } : {});
}

/** Files and rows by listed kind, from the manifest alone (no table read). */
export function runFileCounts(manifest: RunManifest): { parts: number; errors: number; deletions: number; replaced: number } {
  if (manifest.files) {
    const { parts, errors, deletions, replaced } = manifest.files;
    return { parts, errors, deletions, replaced };
  }
  return {
    parts: manifest.parts?.length ?? 0,
    errors: manifest.errors?.length ?? 0,
    deletions: manifest.deletions?.length ?? 0,
    replaced: manifest.compaction?.replaced?.length ?? 0,
  };
}

/** Rows of the run's part files and how many of them hold rows, streamed from the table. */
export async function partTotals(folder: RunFolder, manifest: RunManifest): Promise<{ rows: number; files: number }> {
  let rows = 0;
  let files = 0;
  for await (const part of runFiles(folder, manifest, { kind: 'part' })) {
    rows += part.rows;
    if (part.rows > 0) files++;
  }
  return { rows, files };
}

/** Every row of the kinds asked for, collected: for tests and small tools, never for a run of unknown size. */
export async function collectRunFiles(folder: RunFolder, manifest: RunManifest, options: RunFilesOptions = {}): Promise<RunFileRow[]> {
  const rows: RunFileRow[] = [];
  for await (const row of runFiles(folder, manifest, options)) rows.push(row);
  return rows;
}

export interface ReplacedLookupOptions {
  /** Row groups of the table kept in memory. @defaultValue 8 */
  cachedRowGroups?: number;
}

/**
 * Which listed file holds the rows of a file the run listed once (`compact` replaced it), by a
 * binary search over the table's row groups (a table written by `compact` is sorted by kind,
 * shard and key, see {@link compareRunFileRows}): memory holds a few row groups, whatever the
 * run's size. Keys with no shard in their name (a merged file of an earlier compaction) are
 * looked for by a scan of the replaced rows. A key not replaced maps to itself.
 */
export async function openReplacedLookup(folder: RunFolder, manifest: RunManifest, options: ReplacedLookupOptions = {}): Promise<(key: string) => Promise<string>> {
  if (!manifest.files) {
    // Schema 1: the manifest holds the list already.
    const replaced = new Map((manifest.compaction?.replaced ?? []).map((entry) => [entry.key, entry.into]));
    return async (key) => replaced.get(key) ?? key;
  }
  if (manifest.files.replaced === 0) return async (key) => key;
  const blob = await openTable(folder, manifest.files);
  const { numRowGroups } = await readParquetMetadata(blob);
  const limit = options.cachedRowGroups ?? 8;
  const groups = new Map<number, Promise<RunFileRow[]>>();
  const firsts = new Map<number, RunFileRow>();
  const rowGroup = (index: number): Promise<RunFileRow[]> => {
    let rows = groups.get(index);
    if (rows) {
      groups.delete(index);
    } else {
      rows = (async () => {
        const out: RunFileRow[] = [];
        for await (const row of readRunFilesTable(blob, { rowGroups: [index] })) out.push(row);
        return out;
      })();
      rows.catch(() => groups.delete(index));
    }
    groups.set(index, rows);
    if (groups.size > limit) groups.delete(groups.keys().next().value!);
    return rows;
  };
  const firstOf = async (index: number): Promise<RunFileRow> => {
    let first = firsts.get(index);
    if (!first) {
      first = (await rowGroup(index))[0]!;
      if (firsts.size >= 4096) firsts.clear();
      firsts.set(index, first);
    }
    return first;
  };
  return async (key) => {
    const named = shardOfFileKey(key);
    if (!named || named.kind === 'deletions') {
      for await (const row of readRunFilesTable(blob, { kinds: ['replaced-part', 'replaced-errors'] })) if (row.key === key) return row.into ?? key;
      return key;
    }
    const target = { kind: `replaced-${named.kind}` as RunFileKind, shard: named.shard, key };
    // The last row group whose first row is not after the target holds it, if anything does.
    let lo = 0;
    let hi = numRowGroups - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (compareRunFileRows(await firstOf(mid), target) <= 0) lo = mid;
      else hi = mid - 1;
    }
    for (const row of await rowGroup(lo)) if (compareRunFileRows(row, target) === 0) return row.into ?? key;
    return key;
  };
}

export type { RunFileKind, RunFileRow };
