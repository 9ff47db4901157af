/**
 * A run's file table (`<run>/_manifest/files*.parquet`, named by the manifest's `files`): one
 * row per file the run lists — `part`, `errors`, `deletions` — and, after `compact`, one per file
 * it replaced (`replaced-part`, `replaced-errors`: `into` is the file holding its rows now,
 * `retired_at` when it left the manifest). It replaces the manifest's inline lists, so the
 * manifest's size no longer grows with the run.
 *
 * Written as a stream (libs/io `encodeTableStream`, one batch of rows at a time, straight into a
 * streaming put) and read as one: neither side holds the table. Row order: the
 * finaliser writes shard order (part and errors rows of a shard together, then deletions);
 * `compact` writes every kind in turn, each in shard order, replaced rows sorted by
 * (kind, shard, key) — the order {@link compareRunFileRows} defines, which lookups rely on.
 */
import { Readable } from 'node:stream';
import {
  encodeTableStream,
  fileKindMetadata,
  int64Column,
  readParquetBatches,
  tableOf,
  utf8Column,
  type ObjectStore,
  type ParquetSource,
} from '@siglip-batch/io';

export const RUN_FILE_KINDS = ['part', 'errors', 'deletions', 'replaced-part', 'replaced-errors'] as const;
export type RunFileKind = (typeof RUN_FILE_KINDS)[number];

export interface RunFileRow {
  kind: RunFileKind;
  /** The shard of the file (a merged file: its first shard); null for a file of no shard. */
  shard: number | null;
  /** Key relative to the run folder. */
  key: string;
  rows: number;
  /** Size in bytes, when the writer knew it (files `compact` wrote). */
  bytes: number | null;
  /** Replaced rows: the listed file that holds this file's rows now. */
  into: string | null;
  /** Replaced rows: when the file left the manifest. */
  retiredAt: string | null;
}

export const RUN_FILES_COLUMNS = ['kind', 'shard', 'key', 'rows', 'bytes', 'into', 'retired_at'] as const;

/** Rows per row group (and per batch written): a lookup reads one row group. */
export const RUN_FILES_ROW_GROUP = 4096;

const KIND_RANK = new Map<string, number>(RUN_FILE_KINDS.map((kind, rank) => [kind, rank]));

/** Total order of a table `compact` writes: kind (in {@link RUN_FILE_KINDS} order), shard, key. */
export function compareRunFileRows(a: Pick<RunFileRow, 'kind' | 'shard' | 'key'>, b: Pick<RunFileRow, 'kind' | 'shard' | 'key'>): number {
  const byKind = KIND_RANK.get(a.kind)! - KIND_RANK.get(b.kind)!;
  if (byKind !== 0) return byKind;
  const byShard = (a.shard ?? -1) - (b.shard ?? -1);
  if (byShard !== 0) return byShard;
  return a.key < b.key ? -1 : a.key > b.key ? 1 : 0;
}

function tableOfRows(rows: readonly RunFileRow[], metadata: Map<string, string>): ReturnType<typeof tableOf> {
  return tableOf(
    [
      utf8Column('kind', rows.map((row) => row.kind), false),
      int64Column('shard', rows.map((row) => row.shard), true),
      utf8Column('key', rows.map((row) => row.key), false),
      int64Column('rows', rows.map((row) => row.rows), false),
      int64Column('bytes', rows.map((row) => row.bytes), true),
      utf8Column('into', rows.map((row) => row.into), true),
      utf8Column('retired_at', rows.map((row) => row.retiredAt), true),
    ],
    metadata,
  );
}

export interface WriteRunFilesOptions {
  /** File key-value metadata (the run id). */
  metadata?: Readonly<Record<string, string>>;
  /** @defaultValue {@link RUN_FILES_ROW_GROUP} */
  rowGroupSize?: number;
}

export interface WrittenRunFiles {
  rows: number;
  bytes: number;
  /** Rows by kind. */
  byKind: Record<RunFileKind, number>;
}

/**
 * Writes the rows `rows` yields, as they come, to `key` in one streaming put: memory holds one
 * batch of rows and the row group being encoded. A failure of `rows` fails the put (no file
 * is left under `key`).
 */
export async function writeRunFilesTable(store: ObjectStore, key: string, rows: AsyncIterable<RunFileRow>, options: WriteRunFilesOptions = {}): Promise<WrittenRunFiles> {
  const rowGroupSize = options.rowGroupSize ?? RUN_FILES_ROW_GROUP;
  const metadata = fileKindMetadata(options.metadata ?? {}, 'files');
  const byKind = Object.fromEntries(RUN_FILE_KINDS.map((kind) => [kind, 0])) as Record<RunFileKind, number>;
  let count = 0;
  const tables = (async function* () {
    let chunk: RunFileRow[] = [];
    for await (const row of rows) {
      chunk.push(row);
      if (chunk.length === rowGroupSize) {
        yield counted(chunk);
        chunk = [];
      }
    }
    // An empty table still gets its one (empty) batch: the writer needs a schema.
    if (chunk.length > 0 || count === 0) yield counted(chunk);
  })();
  function counted(chunk: readonly RunFileRow[]) {
    for (const row of chunk) byKind[row.kind]++;
    count += chunk.length;
    return tableOfRows(chunk, metadata);
  }
  const encoded = encodeTableStream(tables, { metadata, rowGroupSize, dictionaryColumns: ['kind'], statisticsColumns: ['shard'] });
  let bytes = 0;
  // The writer starts (and takes its first rows) before the put does: rows that fail at once (a
  // run that cannot be finalised) then leave nothing in the store, not even an empty folder.
  const output = encoded[Symbol.asyncIterator]();
  const first = await output.next();
  const body = Readable.from(
    (async function* () {
      for (let next = first; !next.done; next = await output.next()) {
        bytes += (next.value as Uint8Array).length;
        yield next.value as Uint8Array;
      }
    })(),
  );
  await store.put(key, body, { contentType: 'application/vnd.apache.parquet' });
  return { rows: count, bytes, byKind };
}

export interface ReadRunFilesOptions {
  /** Only rows of these kinds (all when omitted). */
  kinds?: readonly RunFileKind[];
  /** Only these row groups (a lookup). */
  rowGroups?: number[];
}

/** The table's rows in file order, a batch at a time. */
export async function* readRunFilesTable(source: ParquetSource, options: ReadRunFilesOptions = {}): AsyncGenerator<RunFileRow> {
  const kinds = options.kinds ? new Set<string>(options.kinds) : undefined;
  for await (const batch of readParquetBatches(source, { batchSize: RUN_FILES_ROW_GROUP, ...(options.rowGroups ? { rowGroups: options.rowGroups } : {}) })) {
    const column = (name: (typeof RUN_FILES_COLUMNS)[number]) => {
      const child = batch.getChild(name);
      if (!child) throw new Error(`not a run file table: no column "${name}"`);
      return child;
    };
    const kind = column('kind');
    const shard = column('shard');
    const key = column('key');
    const rows = column('rows');
    const bytes = column('bytes');
    const into = column('into');
    const retiredAt = column('retired_at');
    for (let i = 0; i < batch.numRows; i++) {
      const rowKind = kind.get(i) as RunFileKind;
      if (kinds && !kinds.has(rowKind)) continue;
      const shardValue = shard.get(i) as bigint | null;
      const bytesValue = bytes.get(i) as bigint | null;
      yield {
        kind: rowKind,
        shard: shardValue === null ? null : Number(shardValue),
        key: key.get(i) as string,
        rows: Number(rows.get(i) as bigint),
        bytes: bytesValue === null ? null : Number(bytesValue),
        into: (into.get(i) as string | null) ?? null,
        retiredAt: (retiredAt.get(i) as string | null) ?? null,
      };
    }
  }
}
