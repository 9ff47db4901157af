/**
 * `enqueue --incremental`: the source listing merged against the output's processed index in
 * one pass. Both sides are sorted by uri (S3 and local listings come in key order, and within
 * one prefix key order is uri order), so memory stays flat: one index group at a time.
 *
 * A listed object is planned when the index has no entry for it with this model, or the entry's
 * ETag differs (or is unknown), or — with `retryErrorsBefore` — the entry is an error of a run
 * finalised before that instant. Index entries under the source that the listing passes by are
 * deletions: they are buffered and handed out at each shard boundary (see `takeDeletions`) so
 * the planner writes them beside the plan they precede.
 */
import { compareKeys } from '@siglip-batch/io';
import type { SourceEntry } from '../source-lister';
import type { IndexEntry } from './index-entry';

/** One vanished index entry (per uri and model). */
export interface Deletion {
  uri: string;
  etag: string | null;
  modelHash: string;
  lastRun: string;
}

export interface IncrementalListingOptions {
  /** The index, sorted (ProcessedIndex.entries()). */
  index: AsyncIterable<IndexEntry>;
  modelHash: string;
  /** URI prefix of the source (`s3://bucket/prefix/`, `file:///dir/`): index entries outside it are not ours. */
  sourceUri: string;
  /** The run's suffix filter: index entries it would not list are not deletions. */
  suffixes: string[];
  /** Resuming after this uri: index entries up to it were dealt with before. */
  afterUri?: string;
  /** A planning unit's range ends at this uri: index entries after it are another unit's. */
  upToUri?: string;
  /**
   * Error entries of runs finalised before this instant (ISO 8601) are planned again even when
   * the ETag is the same (`--retry-errors-after`); without it an unchanged object whose last
   * entry is an error is skipped like any unchanged one.
   */
  retryErrorsBefore?: string;
}

export interface IncrementalStats {
  listed: number;
  planned: number;
  unchanged: number;
  deleted: number;
  /** Runs with `retryErrorsBefore`: unchanged objects planned again because their entry was an old error. */
  retried?: number;
}

export class IncrementalListing {
  readonly stats: IncrementalStats;
  private deletions: Deletion[] = [];

  constructor(private readonly options: IncrementalListingOptions) {
    this.stats = { listed: 0, planned: 0, unchanged: 0, deleted: 0, ...(options.retryErrorsBefore !== undefined ? { retried: 0 } : {}) };
  }

  /** Deletions found since the last call. */
  takeDeletions(): Deletion[] {
    const taken = this.deletions;
    this.deletions = [];
    return taken;
  }

  private relevant(entry: IndexEntry): boolean {
    if (!entry.uri.startsWith(this.options.sourceUri)) return false;
    if (this.options.afterUri !== undefined && compareKeys(entry.uri, this.options.afterUri) <= 0) return false;
    const suffixes = this.options.suffixes;
    return suffixes.length === 0 || suffixes.some((suffix) => entry.uri.toLowerCase().endsWith(suffix.toLowerCase()));
  }

  async *filter(listing: AsyncIterable<SourceEntry>): AsyncGenerator<SourceEntry> {
    const index = this.options.index[Symbol.asyncIterator]();
    let head: IndexEntry | undefined;
    const next = async (): Promise<void> => {
      for (;;) {
        const result = await index.next();
        head = result.done ? undefined : result.value;
        // The index is sorted: past the unit's range, nothing more is this unit's.
        if (head && this.options.upToUri !== undefined && compareKeys(head.uri, this.options.upToUri) > 0) head = undefined;
        if (!head || this.relevant(head)) return;
      }
    };
    /** The index entries (one per model) of the uri at the head. */
    const group = async (): Promise<IndexEntry[]> => {
      const entries = [head!];
      await next();
      while (head && head.uri === entries[0]!.uri) {
        entries.push(head);
        await next();
      }
      return entries;
    };
    const deleted = (entries: IndexEntry[]): void => {
      // Tombstones of earlier runs are already recorded.
      const live = entries.filter((e) => e.status !== 'deleted');
      if (live.length === 0) return;
      for (const e of live) this.deletions.push({ uri: e.uri, etag: e.etag, modelHash: e.modelHash, lastRun: e.run });
      this.stats.deleted++;
    };
    await next();
    let previous: string | undefined;
    try {
      for await (const entry of listing) {
        const uri = entry.object.uri;
        if (previous !== undefined && compareKeys(previous, uri) >= 0) {
          throw new Error(`the listing is not in uri order (${uri} after ${previous}): an incremental merge needs an S3 prefix or a directory`);
        }
        previous = uri;
        this.stats.listed++;
        while (head && compareKeys(head.uri, uri) < 0) deleted(await group());
        const seen = head && head.uri === uri ? await group() : [];
        const same = seen.find((e) => e.modelHash === this.options.modelHash && e.status !== 'deleted');
        if (same && same.etag !== null && same.etag === entry.object.etag) {
          const retryBefore = this.options.retryErrorsBefore;
          if (retryBefore === undefined || same.status !== 'error' || same.finalizedAt >= retryBefore) {
            this.stats.unchanged++;
            continue;
          }
          this.stats.retried = (this.stats.retried ?? 0) + 1;
        }
        this.stats.planned++;
        yield entry;
      }
      while (head) deleted(await group());
    } finally {
      await index.return?.();
    }
  }
}
