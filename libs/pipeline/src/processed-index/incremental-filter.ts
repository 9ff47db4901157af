/**
 * The planner's {@link ListingFilter} for an incremental run: the source listing merged against
 * the processed index of the run's output, deletions written as `deletions/deletions-<shard>.parquet`
 * in the run folder right before the plan they precede (the finaliser lists them in the manifest).
 */
import { encodeDeletionsFile, openLocation, type S3Options } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import { padShard, RUN_LAYOUT, type RunSpec } from '@siglip-batch/jobs';
import { inventoryListingScope } from '../inventory-source';
import type { ListingFilter } from '../run-planner';
import type { SourceEntry } from '../source-lister';
import { IncrementalListing, type IncrementalStats } from './incremental-listing';
import { indexModelKey } from './index-entry';
import { ProcessedIndex } from './processed-index';

export const DELETIONS_PREFIX = `${RUN_LAYOUT.deletionsDir}deletions-`;
/** Where runs planned before the per-kind folders put their deletions files. */
export const LEGACY_DELETIONS_PREFIX = 'deletions-';

export function deletionsKey(shard: number): string {
  return `${DELETIONS_PREFIX}${padShard(shard)}.parquet`;
}

export interface IncrementalFilter extends ListingFilter {
  readonly stats: IncrementalStats;
}

export function createIncrementalFilter(spec: RunSpec, folder: RunFolder, s3: S3Options = {}): IncrementalFilter {
  // An S3 Inventory report is listed in uri order too (its data files in the order of their first keys).
  if (spec.sourceKind !== 's3' && spec.sourceKind !== 'file' && spec.sourceKind !== 's3-inventory') {
    throw new Error(`an incremental run needs an S3 prefix, a directory or an S3 Inventory report as its source (listed in uri order), not a ${spec.sourceKind}`);
  }
  let listing: IncrementalListing | undefined;
  // Frozen with the spec (its creation time), so that a resumed listing retries the same entries.
  const retryErrorsBefore =
    spec.retryErrorsAfterSeconds === undefined ? undefined : new Date(Date.parse(spec.createdAt) - spec.retryErrorsAfterSeconds * 1000).toISOString();
  const stats: IncrementalStats = { listed: 0, planned: 0, unchanged: 0, deleted: 0, ...(retryErrorsBefore !== undefined ? { retried: 0 } : {}) };
  return {
    get stats() {
      return listing?.stats ?? stats;
    },
    filter(entries: AsyncIterable<SourceEntry>, resumeAfterKey: string | null, upToKey: string | null = null): AsyncIterable<SourceEntry> {
      const output = openLocation(spec.output, s3);
      // A planning unit's upper bound (a key of an S3 prefix or directory source): index entries
      // beyond it are the next unit's to find deleted, never this one's.
      const upToUri = upToKey === null ? undefined : listingScope(spec.source, upToKey, s3).afterUri;
      const { sourceUri, afterUri } = spec.sourceKind === 's3-inventory' ? inventoryListingScope(spec.source, resumeAfterKey) : listingScope(spec.source, resumeAfterKey, s3);
      listing = new IncrementalListing({
        // Only the index's part for this unit: its row groups between the bounds are read.
        index: new ProcessedIndex(output).entries({ from: sourceUri, ...(afterUri !== undefined ? { after: afterUri } : {}), ...(upToUri !== undefined ? { upTo: upToUri } : {}) }),
        modelHash: indexModelKey(spec.model.hash, spec.decode),
        sourceUri,
        suffixes: spec.filters.suffixes,
        ...(afterUri !== undefined ? { afterUri } : {}),
        ...(upToUri !== undefined ? { upToUri } : {}),
        ...(retryErrorsBefore !== undefined ? { retryErrorsBefore } : {}),
      });
      const filtered = listing.filter(entries);
      return (async function* () {
        try {
          yield* filtered;
        } finally {
          output.store.close();
        }
      })();
    },
    async beforePlan(shard: number): Promise<void> {
      const deletions = listing?.takeDeletions() ?? [];
      if (deletions.length === 0) return;
      const bytes = encodeDeletionsFile(
        { uri: deletions.map((d) => d.uri), etag: deletions.map((d) => d.etag), modelHash: deletions.map((d) => d.modelHash), lastRun: deletions.map((d) => d.lastRun) },
        { 'siglip_batch.run_id': spec.runId },
      );
      await folder.store.put(folder.keyOf(deletionsKey(shard)), bytes, { contentType: 'application/vnd.apache.parquet' });
    },
  };
}

/** The uri prefix of an S3 prefix or directory source, and the uri a resumed listing starts after. */
function listingScope(source: string, resumeAfterKey: string | null, s3: S3Options): { sourceUri: string; afterUri?: string } {
  const opened = openLocation(source, s3);
  let sourceUri = opened.store.uriOf(opened.prefix);
  if (!sourceUri.endsWith('/')) sourceUri += '/';
  const afterUri = resumeAfterKey === null ? undefined : opened.store.uriOf(resumeAfterKey);
  opened.store.close();
  return afterUri === undefined ? { sourceUri } : { sourceUri, afterUri };
}
