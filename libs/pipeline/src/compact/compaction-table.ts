/**
 * The file table a compaction writes (see run-compactor.ts), as a stream of rows in the order
 * lookups rely on (libs/io `compareRunFileRows`): the new listing — part files, errors files,
 * each in shard order — then the run's deletions files as they were, then every file the run
 * ever listed and no longer does, by kind, shard and key, each with the listed file that holds
 * its rows now (`into`).
 *
 * Composed in one pass per kind, without a map of the run: the replaced rows of the old table
 * (already in that order) are merged with this compaction's sources (in shard order), and the
 * file holding a row's rows is the new listed file of its kind with the greatest first shard
 * not after the row's shard (files are never split and groups are runs of consecutive shards),
 * found by a cursor that walks the new listing once alongside.
 */
import { compareRunFileRows, runFiles, shardOfFileKey, type RunFileKind, type RunFileRow, type RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';
import { groupFiles, type ListedKind } from './compaction-plan';

export interface CompactionTableInput {
  folder: RunFolder;
  manifest: RunManifest;
  token: string;
  targetRows: number;
  /** When this compaction's sources leave the manifest. */
  retiredAt: string;
  /** Size of a merged file (it was just written). */
  bytesOf(key: string): Promise<number | null>;
}

export async function* compactionTableRows(input: CompactionTableInput): AsyncGenerator<RunFileRow> {
  const { folder, manifest, token, targetRows } = input;
  const newListing = (kind: ListedKind) => groupFiles(runFiles(folder, manifest, { kind }), kind, token, targetRows);
  for (const kind of ['part', 'errors'] as const) {
    for await (const { file, merge } of newListing(kind)) yield merge ? { ...file, bytes: await input.bytesOf(file.key) } : file;
  }
  yield* runFiles(folder, manifest, { kind: 'deletions' });
  for (const kind of ['part', 'errors'] as const) {
    const replacedKind: RunFileKind = `replaced-${kind}`;
    const cursor = new ListingCursor(newListing(kind));
    for await (const row of mergeSorted(oldReplaced(folder, manifest, replacedKind), newlyReplaced(newListing(kind), replacedKind, input.retiredAt))) {
      yield { ...row, into: await cursor.holderOf(row) };
    }
  }
}

/** This compaction's sources, as replaced rows, in shard order. */
async function* newlyReplaced(listing: AsyncIterable<{ merge?: { sources: RunFileRow[] } }>, kind: RunFileKind, retiredAt: string): AsyncGenerator<RunFileRow> {
  for await (const { merge } of listing) for (const source of merge?.sources ?? []) yield { ...source, kind, into: null, retiredAt };
}

/**
 * The old table's replaced rows of a kind. A schema 1 manifest held them inline, in no set
 * order and some without a shard in their key: those are ordered here (the manifest is in
 * memory already), a key with no shard taking the shard of the file that held its rows.
 */
async function* oldReplaced(folder: RunFolder, manifest: RunManifest, kind: RunFileKind): AsyncGenerator<RunFileRow> {
  if (manifest.files) {
    yield* runFiles(folder, manifest, { kind });
    return;
  }
  const shardOf = new Map([...(manifest.parts ?? []), ...(manifest.errors ?? [])].map((file) => [file.key, file.shard]));
  const rows: RunFileRow[] = [];
  for await (const row of runFiles(folder, manifest, { kind })) rows.push({ ...row, shard: row.shard ?? shardOfFileKey(row.key)?.shard ?? shardOf.get(row.into!) ?? 0 });
  yield* rows.sort(compareRunFileRows);
}

/** Two streams sorted by {@link compareRunFileRows}, as one. */
async function* mergeSorted(a: AsyncIterable<RunFileRow>, b: AsyncIterable<RunFileRow>): AsyncGenerator<RunFileRow> {
  const left = a[Symbol.asyncIterator]();
  const right = b[Symbol.asyncIterator]();
  let x = await left.next();
  let y = await right.next();
  while (!x.done || !y.done) {
    if (y.done || (!x.done && compareRunFileRows(x.value, y.value) <= 0)) {
      yield x.value!;
      x = await left.next();
    } else {
      yield y.value;
      y = await right.next();
    }
  }
}

/** Walks a new listing forward only: the file holding a shard's rows, for shards that come in order. */
class ListingCursor {
  private readonly files: AsyncIterator<{ file: RunFileRow }>;
  private current: RunFileRow | undefined;
  private next: RunFileRow | undefined;
  private started = false;

  constructor(listing: AsyncIterable<{ file: RunFileRow }>) {
    this.files = listing[Symbol.asyncIterator]();
  }

  private async pull(): Promise<RunFileRow | undefined> {
    const item = await this.files.next();
    return item.done ? undefined : item.value.file;
  }

  async holderOf(row: RunFileRow): Promise<string> {
    if (!this.started) {
      this.started = true;
      this.current = await this.pull();
      this.next = await this.pull();
    }
    const shard = row.shard ?? 0;
    while (this.next && (this.next.shard ?? 0) <= shard) {
      this.current = this.next;
      this.next = await this.pull();
    }
    if (!this.current) throw new Error(`no listed file holds the rows of ${row.key}: the run's file table is inconsistent`);
    return this.current.key;
  }
}
