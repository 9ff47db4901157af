/**
 * The processed index of an output root, `<out>/_index/`: one entry per (uri, model key), the
 * newest run's (see index-entry.ts). Hash-partitioned by uri (index-layout.ts: P partitions,
 * 32-bit FNV-1a of the uri's UTF-8 bytes mod P, fixed when the index is created). Each shard
 * writes its sorted entries when it commits (index-contribution.ts); once the run is finalised,
 * one merge per partition (a BullMQ `index-partition` job, or in-process) merges the run's
 * contributions into a level-0 segment of that partition and runs the partition's size-tiered
 * compaction (index-partition.ts). A nightly run so writes about its own size, never the index's.
 * A run of more than FAN_IN shards is first split by partition once, shared by its P merges
 * (index-run-groups.ts), so that they open about F + P·F/128 files instead of P·F.
 *
 * Readers stream: {@link ProcessedIndex.entries} is the k-way merge of the P partitions, in uri
 * order (what an incremental listing merges against), optionally limited to a uri range; memory
 * holds one batch per open segment, whatever the index's size. An output whose index is still in
 * the old single-pointer layout (legacy-index.ts) is read through it, and converted partition by
 * partition by the next run's merges.
 */
import { forEachBounded, range } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';
import { indexModelKey, type IndexEntry } from './index-entry';
import { batchesOf, entriesOf, mergeBatches, type EntryColumns } from './index-batches';
import { backfillContributions, decodeRunContributions, decodedRunInputs, deletionInputs, outputOf, runInputs, type DecodedContribution } from './index-contribution';
import { deleteGroupFiles, deleteRunGroups, groupInputs, needsGroups, splitAllGroups, splitRunGroups } from './index-run-groups';
import { ensureLayout, partitionDir, readLayout, type IndexLayout, type IndexOutput } from './index-layout';
import { FAN_IN, IndexPartition, SEGMENT_FAN_IN, type PartitionOptions, type PartitionPointer } from './index-partition';
import { deleteLegacyIndex, hasLegacyIndex, legacyEntries } from './legacy-index';
import { belowRange, pastRange, type KeyRange } from './index-files';

export { INDEX_DIR } from './index-layout';

/**
 * A range of uris: `after` (a resumed listing) and `before` exclusive, `from` (a source's prefix)
 * and `upTo` (the end of a planning unit's range) inclusive.
 */
export type EntriesRange = KeyRange;

export class ProcessedIndex {
  constructor(
    private readonly output: IndexOutput,
    private readonly options: PartitionOptions = {},
  ) {}

  layout(): Promise<IndexLayout | undefined> {
    return readLayout(this.output);
  }

  partition(partition: number): IndexPartition {
    return new IndexPartition(this.output, partition, this.options);
  }

  /** Every partition's pointer (undefined for one never merged into), in partition order. */
  async pointers(): Promise<Array<PartitionPointer | undefined>> {
    const layout = await this.layout();
    return Promise.all(Array.from({ length: layout?.partitions ?? 0 }, (_, p) => this.partition(p).readPointer()));
  }

  /**
   * The whole index, sorted by uri then model key: the partitions merged, plus the old layout
   * where it is not merged yet. Given a range, each partition reads only the row groups that
   * overlap it (index-files.ts), not the index from its start.
   */
  async *entries(range: EntriesRange = {}): AsyncGenerator<IndexEntry> {
    const layout = await this.layout();
    const inputs: Array<AsyncIterable<EntryColumns>> = [];
    const unfolded = new Set<number>();
    if (layout) {
      const pointers = await this.pointers();
      pointers.forEach((pointer, p) => {
        if (!pointer?.legacyFolded) unfolded.add(p);
        inputs.push(this.partition(p).batches([], range));
      });
    }
    if ((!layout || unfolded.size > 0) && (await hasLegacyIndex(this.output))) {
      inputs.push(batchesOf(legacyEntries(this.output, layout ? { partition: (p) => unfolded.has(p), partitions: layout.partitions } : undefined)));
    }
    for await (const entry of entriesOf(mergeBatches(inputs))) {
      if (belowRange(entry.uri, range)) continue;
      if (pastRange(entry.uri, range)) return;
      yield entry;
    }
  }

  /** Sum of the partitions' generations: changes whenever a partition's pointer does. */
  async generation(): Promise<number> {
    return (await this.pointers()).reduce((n, pointer) => n + (pointer?.generation ?? 0), 0);
  }
}

/**
 * Makes a finalised run ready for its partition merges: the output's layout, and contributions
 * from its part and errors files when its shards wrote none. Idempotent.
 */
export async function prepareRunIndex(folder: RunFolder, modelKey: string): Promise<IndexLayout> {
  const layout = await ensureLayout(outputOf(folder));
  await backfillContributions(folder, modelKey);
  return layout;
}

export interface MergeRunPartitionOptions extends PartitionOptions {
  /** The run's finalisation time (its manifest's when not given). */
  finalizedAt?: string;
  /**
   * The run's contributions, decoded once by the caller for all partitions (a small run merged
   * in one process, see {@link indexFinalizedRun}); read from the store when not given.
   */
  decoded?: readonly DecodedContribution[];
}

/**
 * The merge job of one partition for one finalised run: the run's segment of that partition,
 * then the partition's compaction (which folds the old layout in, the first time). Safe to
 * repeat and to race (see index-partition.ts). Returns false when the run was merged before.
 */
export async function mergeRunPartition(folder: RunFolder, partition: number, options: MergeRunPartitionOptions = {}): Promise<boolean> {
  const output = outputOf(folder);
  const layout = await ensureLayout(output);
  if (partition >= layout.partitions) throw new Error(`partition ${partition} of an index of ${layout.partitions}`);
  const finalizedAt = options.finalizedAt ?? (await folder.readManifest())?.timings.finalizedAt;
  if (!finalizedAt) throw new Error(`run ${folder.runId} has no manifest: it is not finalised`);
  const index = new IndexPartition(output, partition, options);
  const tmp = `${folder.runId}/_index/tmp/${partitionDir(partition).slice('_index/'.length)}m`;
  // A big run is split by partition first, by all its partition merges together (index-run-groups.ts).
  const grouped = !options.decoded && !(await index.hasRun(folder.runId)) && (await needsGroups(folder, options.fanIn));
  if (grouped) await splitRunGroups(folder, partition, layout.partitions);
  const inputs = grouped
    ? (async function* () {
        yield* groupInputs(folder, partition);
        yield* deletionInputs(folder, partition, layout.partitions);
      })()
    : options.decoded
      ? decodedRunInputs(folder, options.decoded, partition, layout.partitions)
      : runInputs(folder, partition, layout.partitions);
  const added = await index.addRun(folder.runId, finalizedAt, inputs, tmp, grouped ? SEGMENT_FAN_IN : FAN_IN);
  if (grouped) await deleteGroupFiles(folder, partition);
  const pointer = await index.readPointer();
  const legacy = !pointer?.legacyFolded && (await hasLegacyIndex(output)) ? legacyEntries(output, { partition: (p) => p === partition, partitions: layout.partitions }) : undefined;
  await index.compact({ run: folder.runId, legacyChecked: true, ...(legacy ? { legacy } : {}) });
  if (legacy) {
    const pointers = await new ProcessedIndex(output).pointers();
    if (pointers.every((p) => p?.legacyFolded)) await deleteLegacyIndex(output.store, output.prefix);
  }
  return added;
}

/**
 * Contribution bytes a run may have for {@link indexFinalizedRun} to decode them once for all
 * partitions (held decoded while the P merges run): a few tens of thousands of entries.
 */
const DECODE_ONCE_BYTES = 1024 * 1024;

export interface IndexRunOptions extends PartitionOptions {
  /** Partition merges at once. @defaultValue 4 */
  concurrency?: number;
}

/**
 * After a run is finalised, without a queue (the local `embed` path, tests, the bench): every
 * partition's merge in this process, a few at once. Safe to repeat.
 */
export async function indexFinalizedRun(folder: RunFolder, manifest: RunManifest, _output?: IndexOutput, options: IndexRunOptions = {}): Promise<{ partitions: number; merged: number }> {
  const layout = await prepareRunIndex(folder, indexModelKey(manifest.model.hash, manifest.decode));
  const concurrency = Math.min(options.concurrency ?? 4, layout.partitions);
  // A small run (a local run, a nightly one) is read and decoded once here for all P merges; a
  // big one is split by partition once, in parallel, before the partitions merge (index-run-groups.ts).
  const decoded = await decodeRunContributions(folder, layout.partitions, { maxFiles: options.fanIn ?? FAN_IN, maxBytes: DECODE_ONCE_BYTES });
  if (!decoded && (await needsGroups(folder, options.fanIn))) await splitAllGroups(folder, layout.partitions, concurrency);
  let merged = 0;
  await forEachBounded(range(layout.partitions), concurrency, async (partition) => {
    if (await mergeRunPartition(folder, partition, { ...options, finalizedAt: manifest.timings.finalizedAt, ...(decoded ? { decoded } : {}) })) merged++;
  });
  await deleteRunGroups(folder);
  return { partitions: layout.partitions, merged };
}
