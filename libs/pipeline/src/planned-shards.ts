import type { RunFolder } from '@siglip-batch/io';
import type { ListingState } from '@siglip-batch/jobs';

/** A block of consecutive shard ids of a run, all planned. */
export interface PlannedShardRange {
  first: number;
  count: number;
}

/**
 * The shard ids a run has planned, as ranges in ascending order, streamed: whoever walks every
 * shard of a run (the finaliser, cancel, status) goes through here, so that how shard ids are
 * laid out is known in one place. A run planned by one listing has the one range
 * `[0, shardsPlanned)`.
 */
export async function* plannedShardRanges(_folder: RunFolder, listing: ListingState): AsyncGenerator<PlannedShardRange> {
  if (listing.shardsPlanned > 0) yield { first: 0, count: listing.shardsPlanned };
}
