import { forEachBounded } from '@siglip-batch/io';
import type { StoreResolver } from '../store-resolver';
import { mergeTags, type ScoredLabel } from './s3-tag-merge';

/** What writing tags back did for a shard's embedded objects (kept in its stats). */
export interface S3TagCounts {
  /** Objects whose tag set now holds their top tags (written, or already there). */
  tagged: number;
  /** Objects left alone because foreign tags already used all 10 slots. */
  full: number;
  /** Objects whose tags could not be read or written (after the SDK's retries). */
  failed: number;
  /** The first few failures, for logs. */
  failures: string[];
}

export interface S3TagWriteOptions {
  /** Objects tagged at once. @defaultValue 8 */
  concurrency?: number;
  signal?: AbortSignal;
}

const MAX_FAILURE_MESSAGES = 5;

/**
 * Writes each row's tags to its S3 object, merged with the tags it has (see mergeTags). A
 * failure is counted, never thrown: the rows are committed already and tags are a by-product.
 * Idempotent: a retried shard computes the same tag sets and finds them written.
 */
export async function writeS3Tags(resolver: StoreResolver, rows: ReadonlyArray<{ uri: string; labels: ScoredLabel[] }>, options: S3TagWriteOptions = {}): Promise<S3TagCounts> {
  const counts: S3TagCounts = { tagged: 0, full: 0, failed: 0, failures: [] };
  const fail = (uri: string, message: string) => {
    counts.failed++;
    if (counts.failures.length < MAX_FAILURE_MESSAGES) counts.failures.push(`${uri}: ${message}`);
  };
  const tagOne = async (row: { uri: string; labels: ScoredLabel[] }): Promise<void> => {
    let target;
    try {
      target = resolver.resolve(row.uri);
    } catch (error) {
      return fail(row.uri, (error as Error).message);
    }
    const { store, key } = target;
    if (!store.getTags || !store.putTags) return fail(row.uri, 'not an S3 object: only S3 objects have tags');
    try {
      const merged = mergeTags(await store.getTags(key, signalOf(options)), row.labels);
      if (merged.action === 'full') counts.full++;
      else {
        if (merged.action === 'put') await store.putTags(key, merged.tags, signalOf(options));
        counts.tagged++;
      }
    } catch (error) {
      if (options.signal?.aborted) throw options.signal.reason;
      fail(row.uri, (error as Error).message);
    }
  };
  await forEachBounded(rows, Math.max(1, options.concurrency ?? 8), async (row) => {
    if (options.signal?.aborted) throw options.signal.reason;
    await tagOne(row);
  });
  return counts;
}

function signalOf(options: S3TagWriteOptions): { signal?: AbortSignal } {
  return options.signal ? { signal: options.signal } : {};
}
