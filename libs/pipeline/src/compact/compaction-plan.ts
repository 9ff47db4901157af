/**
 * Which files of a run `compact` merges, streamed: the grouping is pure, so it is tested
 * without a store, and deterministic, so `compact` walks the run's file table as many times as
 * it needs (merge, then write the new table) instead of holding a plan of the whole run.
 *
 * Files are taken in table order (shard order) and grouped greedily until a group holds at
 * least `targetRows` rows; a file is never split (each old file maps to exactly one new one,
 * which keeps references mappable, and the rows of a shard always sit in the listed file of
 * its kind with the greatest first shard not after it). A group of one file is left as it is,
 * so compacting a compacted run with the same target changes nothing. Merged files go to the
 * run's `parts/` and `errors/` folders, also when the run is older than them.
 */
import { createHash } from 'node:crypto';
import type { RunFileRow } from '@siglip-batch/run-format';
import { RUN_LAYOUT, type ManifestFileEntry } from '@siglip-batch/jobs';

export type ListedKind = 'part' | 'errors';

export interface MergeGroup {
  kind: ListedKind;
  /** The new file's key, relative to the run folder. */
  key: string;
  sources: RunFileRow[];
  rows: number;
}

/** One file of the new listing, and the merge that makes it (none: an old file kept as it is). */
export interface GroupedFile {
  file: RunFileRow;
  merge?: MergeGroup;
}

/** Deterministic: the same listing and target give the same token, hence the same keys (a rerun overwrites them). */
export async function compactionToken(files: AsyncIterable<Pick<RunFileRow, 'kind' | 'key'>> | Iterable<Pick<RunFileRow, 'kind' | 'key'>>, targetRows: number): Promise<string> {
  const hash = createHash('sha256').update(`${targetRows}\n`);
  for await (const file of files) hash.update(`${file.kind}\0${file.key}\n`);
  return hash.digest('hex').slice(0, 12);
}

/** The greedy grouping, a file at a time: `push` and `end` return the groups they close. */
export class CompactionGrouper {
  private current: RunFileRow[] = [];
  private rows = 0;
  private merges = 0;

  constructor(
    private readonly kind: ListedKind,
    private readonly token: string,
    private readonly targetRows: number,
  ) {}

  push(file: RunFileRow): GroupedFile[] {
    if (file.rows === 0) {
      // An empty file holds nothing to merge; it is folded into the group it sits in.
      if (this.current.length > 0) this.current.push(file);
      else return [{ file }];
      return [];
    }
    this.current.push(file);
    this.rows += file.rows;
    return this.rows >= this.targetRows ? this.close() : [];
  }

  end(): GroupedFile[] {
    return this.close();
  }

  private close(): GroupedFile[] {
    const group = this.current;
    const rows = this.rows;
    this.current = [];
    this.rows = 0;
    if (group.length === 0) return [];
    if (group.length === 1) return [{ file: group[0]! }];
    const folder = this.kind === 'part' ? RUN_LAYOUT.partsDir : RUN_LAYOUT.errorsDir;
    const key = `${folder}${this.kind}-c${this.token}-${String(this.merges++).padStart(5, '0')}.parquet`;
    const merge: MergeGroup = { kind: this.kind, key, sources: group, rows };
    return [{ file: { kind: this.kind, shard: group[0]!.shard, key, rows, bytes: null, into: null, retiredAt: null }, merge }];
  }
}

/** The new listing of one kind, in order, from the old one. */
export async function* groupFiles(files: AsyncIterable<RunFileRow>, kind: ListedKind, token: string, targetRows: number): AsyncGenerator<GroupedFile> {
  const grouper = new CompactionGrouper(kind, token, targetRows);
  for await (const file of files) yield* grouper.push(file);
  yield* grouper.end();
}

export interface CompactionPlan {
  token: string;
  merges: MergeGroup[];
  parts: ManifestFileEntry[];
  errors: ManifestFileEntry[];
}

/** The whole plan of a small listing at once (tests, and reasoning about the grouping). */
export async function planCompaction(listing: { parts: ManifestFileEntry[]; errors: ManifestFileEntry[] }, targetRows: number): Promise<CompactionPlan> {
  const rowsOf = (kind: ListedKind, files: ManifestFileEntry[]): RunFileRow[] => files.map((file) => ({ kind, ...file, bytes: null, into: null, retiredAt: null }));
  const parts = rowsOf('part', listing.parts);
  const errors = rowsOf('errors', listing.errors);
  const token = await compactionToken([...parts, ...errors], targetRows);
  const merges: MergeGroup[] = [];
  const out = { parts: [] as ManifestFileEntry[], errors: [] as ManifestFileEntry[] };
  for (const [kind, files] of [['part', parts], ['errors', errors]] as const) {
    const grouper = new CompactionGrouper(kind, token, targetRows);
    for (const grouped of [...files.flatMap((file) => grouper.push(file)), ...grouper.end()]) {
      if (grouped.merge) merges.push(grouped.merge);
      (kind === 'part' ? out.parts : out.errors).push({ shard: grouped.file.shard!, key: grouped.file.key, rows: grouped.file.rows });
    }
  }
  return { token, merges, ...out };
}
