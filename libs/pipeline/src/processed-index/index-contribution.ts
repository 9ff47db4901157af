/**
 * A run's contributions to the processed index: every shard, when it commits (before its stats,
 * the commit point), writes its entries as `<run>/_index/<shard>.parquet` — sorted by
 * (partition, uri, model), with the row range of each partition in the file's metadata — so that
 * the merge job of partition p reads its own rows of each file and nothing else. A retried shard
 * overwrites its file (the key is the shard's). The finalisation time, the "newest wins" rule,
 * is not known yet: contributions leave it empty and the merge fills in the run's.
 *
 * The incremental planner's deletions files (tombstones) are contributions too; they are sorted
 * by uri and read whole by each partition, which keeps its own uris. A run whose shards were
 * committed before contributions existed gets them from its part and errors files at finalise
 * ({@link backfillContributions}).
 */
import { compareKeys, encodeIndexFile, readParquetBatches, type ObjectStore } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import { padShard, type RunSpec } from '@siglip-batch/jobs';
import { indexModelKey } from './index-entry';
import { cachedLayout, partitionOf, type IndexLayout, type IndexOutput } from './index-layout';
import { columnsOfBatch } from './index-files';
import { emptyColumns, MERGE_BATCH, sliceColumns, type EntryColumns } from './index-batches';

/** Folder of a run's contributions, relative to the run folder. */
export const CONTRIBUTIONS_DIR = '_index/';
const RANGES_KEY = 'siglip_batch.index.partition_rows';

/** One file's rows of a shard: its part file (status ok) or its errors file. */
export interface ContributedFile {
  file: string;
  status: 'ok' | 'error';
  uri: readonly string[];
  etag: readonly (string | null)[];
}

/** The output a run folder is in. */
export function outputOf(folder: RunFolder): IndexOutput {
  return { store: folder.store, prefix: folder.prefix.slice(0, folder.prefix.length - folder.runId.length - 1) };
}

export function contributionKey(shard: number): string {
  return `${CONTRIBUTIONS_DIR}${padShard(shard)}.parquet`;
}

/** Writes a shard's contribution (see the file comment); call it right before the shard's stats. */
export async function writeShardContribution(folder: RunFolder, spec: RunSpec, shard: number, files: readonly ContributedFile[]): Promise<void> {
  const layout = await cachedLayout(outputOf(folder));
  await writeContribution(folder.store, folder.keyOf(contributionKey(shard)), layout, spec.runId, indexModelKey(spec.model.hash, spec.decode), files);
}

async function writeContribution(store: ObjectStore, key: string, layout: IndexLayout, run: string, modelHash: string, files: readonly ContributedFile[]): Promise<void> {
  const rows: Array<{ partition: number; uri: string; etag: string | null; file: string; status: 'ok' | 'error' }> = [];
  for (const f of files) {
    f.uri.forEach((uri, i) => rows.push({ partition: partitionOf(uri, layout.partitions), uri, etag: f.etag[i] ?? null, file: f.file, status: f.status }));
  }
  rows.sort((a, b) => a.partition - b.partition || compareKeys(a.uri, b.uri));
  const ranges: Array<[number, number, number]> = [];
  rows.forEach((row, i) => {
    const last = ranges[ranges.length - 1];
    if (last && last[0] === row.partition) last[2]++;
    else ranges.push([row.partition, i, 1]);
  });
  const bytes = encodeIndexFile(
    {
      uri: rows.map((r) => r.uri),
      etag: rows.map((r) => r.etag),
      modelHash: rows.map(() => modelHash),
      run: rows.map(() => run),
      file: rows.map((r) => r.file),
      status: rows.map((r) => r.status),
      finalizedAt: rows.map(() => ''),
    },
    { [RANGES_KEY]: JSON.stringify({ partitions: layout.partitions, ranges }) },
  );
  await store.put(key, bytes, { contentType: 'application/vnd.apache.parquet' });
}

/** A contribution's rows per partition: [partition, first row, rows], in partition order. */
interface PartitionRanges {
  partitions: number;
  ranges: Array<[number, number, number]>;
}

/** The partition ranges in a contribution file's metadata; throws when it is not one for `partitions`. */
function partitionRanges(metadata: Readonly<Record<string, string>>, partitions: number, key: string): PartitionRanges {
  const parsed = JSON.parse(metadata[RANGES_KEY] ?? 'null') as PartitionRanges | null;
  if (!parsed || parsed.partitions !== partitions) throw new Error(`${key}: not a contribution for ${partitions} partitions`);
  return parsed;
}

/**
 * The rows of partition `partition` in a contribution file (its store key, or its bytes read
 * before and the key for messages), sorted, finalisation time empty.
 */
export async function* readContribution(source: ObjectStore | Uint8Array, key: string, partition: number, partitions: number): AsyncGenerator<EntryColumns> {
  const rowsFromMetadata = (metadata: Readonly<Record<string, string>>) => {
    const range = partitionRanges(metadata, partitions, key).ranges.find(([p]) => p === partition);
    return range ? { offset: range[1], limit: range[2] } : null;
  };
  const blob = source instanceof Uint8Array ? source : await source.openBlob(key);
  // The slice (a shard's rows of one partition: a shard's size / P) is read at once and the file
  // closed: a merge of many contributions then holds their slices, not an open reader each
  // (whose decoded page is the whole file's).
  const slice: EntryColumns[] = [];
  for await (const batch of readParquetBatches(blob, { batchSize: 1024, rowsFromMetadata })) slice.push(columnsOfBatch(batch));
  yield* slice;
}

/**
 * The rows of partitions `from` to `to` (exclusive) of a contribution file, decoded in one read,
 * with each partition's row range (rows counted from the first decoded): a run's split decodes a
 * file once per band of partitions and hands every partition of the band its slice
 * ({@link contributionSlice}), instead of decoding the file once per partition.
 */
export interface DecodedContribution {
  batches: EntryColumns[];
  /** [partition, first row, rows], in partition order (at most one per partition). */
  ranges: Array<[number, number, number]>;
}

export async function decodeContribution(bytes: Uint8Array, key: string, partitions: number, from = 0, to = partitions): Promise<DecodedContribution> {
  let ranges: Array<[number, number, number]> = [];
  // One open: the ranges from the metadata, then the band's rows (consecutive in the file).
  const rowsFromMetadata = (metadata: Readonly<Record<string, string>>) => {
    const band = partitionRanges(metadata, partitions, key).ranges.filter(([p]) => p >= from && p < to);
    if (band.length === 0) return null;
    const offset = band[0]![1];
    ranges = band.map(([p, first, rows]) => [p, first - offset, rows]);
    return { offset, limit: band.reduce((n, [, , rows]) => n + rows, 0) };
  };
  const batches: EntryColumns[] = [];
  for await (const batch of readParquetBatches(bytes, { batchSize: MERGE_BATCH, rowsFromMetadata })) batches.push(columnsOfBatch(batch));
  return { batches, ranges };
}

/** The rows of one partition in a decoded contribution, as slices of its batches. */
export async function* contributionSlice(decoded: DecodedContribution, partition: number): AsyncGenerator<EntryColumns> {
  const range = decoded.ranges.find(([p]) => p === partition);
  if (!range) return;
  let start = range[1];
  const end = start + range[2];
  let batchStart = 0;
  for (const batch of decoded.batches) {
    const batchEnd = batchStart + batch.length;
    if (batchEnd > start) {
      const to = Math.min(end, batchEnd);
      yield sliceColumns(batch, start - batchStart, to - batchStart);
      start = to;
      if (start >= end) return;
    }
    batchStart = batchEnd;
  }
}

/** Where a run's planner put its deletions files: the per-kind folder, or the top (older runs). */
const DELETIONS_PREFIXES = ['deletions/deletions-', 'deletions-'];

/** A deletions file's tombstones of one partition (it is sorted by uri, then model). */
export async function* readDeletions(folder: RunFolder, relativeKey: string, partition: number, partitions: number): AsyncGenerator<EntryColumns> {
  const blob = await folder.store.openBlob(folder.keyOf(relativeKey));
  let out = emptyColumns();
  for await (const batch of readParquetBatches(blob, { columns: ['uri', 'etag', 'model_hash'], batchSize: 1024 })) {
    const [uri, etag, modelHash] = ['uri', 'etag', 'model_hash'].map((name) => batch.getChild(name)!);
    for (let i = 0; i < batch.numRows; i++) {
      const u = uri!.get(i) as string;
      if (partitionOf(u, partitions) !== partition) continue;
      out.uri.push(u);
      out.etag.push((etag!.get(i) as string | null) ?? null);
      out.modelHash.push(modelHash!.get(i) as string);
      out.run.push(folder.runId);
      out.file.push(relativeKey);
      out.status.push('deleted');
      out.finalizedAt.push('');
      if (++out.length === MERGE_BATCH) {
        yield out;
        out = emptyColumns();
      }
    }
  }
  if (out.length > 0) yield out;
}

/** The run's contribution files (store keys and sizes), in listing order. */
async function* contributionFiles(folder: RunFolder): AsyncGenerator<{ key: string; size: number }> {
  for await (const info of folder.store.list(folder.keyOf(CONTRIBUTIONS_DIR))) {
    if (!info.key.endsWith('.parquet') || info.key.slice(folder.keyOf(CONTRIBUTIONS_DIR).length).includes('/')) continue;
    yield { key: info.key, size: info.size };
  }
}

/** Every input of a run's partition merge, as a lazily opened stream each, in listing order. */
export async function* runInputs(folder: RunFolder, partition: number, partitions: number): AsyncGenerator<() => AsyncIterable<EntryColumns>> {
  for await (const { key } of contributionFiles(folder)) yield () => readContribution(folder.store, key, partition, partitions);
  yield* deletionInputs(folder, partition, partitions);
}

/**
 * A small run's contributions, each read and decoded once for all P partitions: what one process
 * merging every partition ({@link indexFinalizedRun}) hands each merge instead of P reads and
 * decodes of every file. Undefined when the run has more than `maxFiles` files or `maxBytes` of
 * them: then each merge reads its own slices (memory stays bounded by the limits).
 */
export async function decodeRunContributions(folder: RunFolder, partitions: number, limits: { maxFiles: number; maxBytes: number }): Promise<DecodedContribution[] | undefined> {
  const files: Array<{ key: string; size: number }> = [];
  let bytes = 0;
  for await (const file of contributionFiles(folder)) {
    files.push(file);
    bytes += file.size;
    if (files.length > limits.maxFiles || bytes > limits.maxBytes) return undefined;
  }
  const decoded: DecodedContribution[] = [];
  for (const file of files) decoded.push(await decodeContribution(await folder.store.get(file.key), file.key, partitions));
  return decoded;
}

/** The inputs of partition `partition`'s merge from contributions decoded once ({@link decodeRunContributions}), then the deletions. */
export async function* decodedRunInputs(folder: RunFolder, decoded: readonly DecodedContribution[], partition: number, partitions: number): AsyncGenerator<() => AsyncIterable<EntryColumns>> {
  for (const contribution of decoded) yield () => contributionSlice(contribution, partition);
  yield* deletionInputs(folder, partition, partitions);
}

/** The run's deletions files (tombstones), as inputs of a partition merge. */
export async function* deletionInputs(folder: RunFolder, partition: number, partitions: number): AsyncGenerator<() => AsyncIterable<EntryColumns>> {
  for (const prefix of DELETIONS_PREFIXES) {
    for await (const info of folder.store.list(folder.keyOf(prefix))) {
      if (!info.key.endsWith('.parquet')) continue;
      const relative = info.key.slice(folder.prefix.length);
      yield () => readDeletions(folder, relative, partition, partitions);
    }
  }
}

/** Part and errors files of a run (per-kind folders, or the top of the folder for older runs). */
const RESULT_PREFIXES: Array<{ prefix: string; status: 'ok' | 'error' }> = [
  { prefix: 'parts/', status: 'ok' },
  { prefix: 'part-', status: 'ok' },
  { prefix: 'errors/', status: 'error' },
  { prefix: 'errors-', status: 'error' },
];

/**
 * A run whose shards wrote no contribution (committed by workers older than contributions, or a
 * run written by other tools) gets one per part and errors file, read one at a time. Does
 * nothing when the run has shard contributions. Idempotent: keys are derived from the file names.
 */
export async function backfillContributions(folder: RunFolder, modelHash: string): Promise<number> {
  const store = folder.store;
  // Shard contributions (`<8 digits>.parquet`) list before backfilled ones (`f-…`): the first key
  // tells. A backfill cut short is simply done again (same keys).
  for await (const info of store.list(folder.keyOf(CONTRIBUTIONS_DIR))) {
    if (/^\d{8}\.parquet$/.test(info.key.slice(folder.keyOf(CONTRIBUTIONS_DIR).length))) return 0;
    break;
  }
  const layout = await cachedLayout(outputOf(folder));
  let written = 0;
  for (const { prefix, status } of RESULT_PREFIXES) {
    for await (const info of store.list(folder.keyOf(prefix))) {
      const relative = info.key.slice(folder.prefix.length);
      if (!relative.endsWith('.parquet') || relative.slice(prefix.length).includes('/')) continue;
      const uri: string[] = [];
      const etag: Array<string | null> = [];
      for await (const batch of readParquetBatches(await store.openBlob(info.key), { columns: ['uri', 'etag'], batchSize: 8192 })) {
        const [u, e] = [batch.getChild('uri')!, batch.getChild('etag')!];
        for (let i = 0; i < batch.numRows; i++) {
          uri.push(u.get(i) as string);
          etag.push((e.get(i) as string | null) ?? null);
        }
      }
      const name = `f-${relative.replace(/\//g, '-')}`;
      await writeContribution(store, folder.keyOf(`${CONTRIBUTIONS_DIR}${name}`), layout, folder.runId, modelHash, [{ file: relative, status, uri, etag }]);
      written++;
    }
  }
  return written;
}
