/**
 * One partition of the processed index, `<out>/_index/p-<pppp>/`:
 *
 * - `runs/<run>/seg-<n>.parquet` + `runs/<run>/_segment.json`: the level-0 segment of one run —
 *   its contributions of this partition merged (k-way, hierarchically past {@link FAN_IN} inputs).
 *   Written by the run's merge job under keys derived from run and partition, the marker last:
 *   a repeated or raced job writes the same thing again.
 * - `seg-<generation>-<token>-<n>.parquet`: compacted segments.
 * - `_current.json`: the pointer — the compacted segments (each: base key, chunk count, entries,
 *   bytes), the runs they contain whose run segments still exist (`covered`), the last runs merged
 *   (`recentRuns`, so that a repeated job returns at once), and files it no longer uses (`retired`).
 *
 * Readers merge the pointer's segments with every run segment it does not cover (found by
 * listing `runs/`), so a run is readable as soon as its marker is written, whatever becomes of a
 * racing pointer update. Compaction is size-tiered: segments (compacted or run) are ranked in
 * tiers of {@link TIER_RATIO}× size from {@link TIER_BASE_BYTES}; any tier with TIER_RATIO of them
 * is merged into one segment of the next. A partition so holds O(log N) segments and an entry is
 * rewritten O(log N) times over its life: a nightly run writes about its own size, not the index's.
 *
 * Deletion is deferred: a compaction retires what it merged (with the time), and a later one
 * deletes retired files older than `graceMs` — so readers streaming an older pointer, and a
 * compaction racing from an older pointer (whose pointer may still name them), find them. A
 * compaction that loses a race leaves its new segment unreferenced; the data stays readable
 * through the pointer that won.
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { getJson, putJson, type ObjectStore } from '@siglip-batch/io';
import type { IndexEntry } from './index-entry';
import { batchesOf, fillFinalizedAt, mergeBatches, type EntryColumns } from './index-batches';
import { deleteChunks, readChunkBatches, readIndexBatches, writeChunkBatches, type KeyRange, type WriteChunksOptions, type WrittenSegment } from './index-files';
import { partitionDir, type IndexOutput } from './index-layout';

/**
 * Contribution files merged at once: a shard's rows of one partition are few, so holding many
 * open is cheap. A run with more is split in groups first (index-run-groups.ts).
 */
export const FAN_IN = 128;
/**
 * Larger inputs (split groups, segments) merged at once: each holds a decoded row group while
 * open, so a merge's memory is bounded by this, not by the run; more are merged in levels.
 */
export const SEGMENT_FAN_IN = 16;
export const TIER_RATIO = 4;
export const TIER_BASE_BYTES = 4 * 1024 * 1024;
/** How long a retired file outlives the pointer that dropped it. */
export const DEFAULT_GRACE_MS = 12 * 3600 * 1000;
const RECENT_RUNS = 64;

const segmentSchema = z.object({
  /** Key of the chunks without `-<n>.parquet`, relative to the output prefix. */
  base: z.string(),
  chunks: z.number().int().nonnegative(),
  entries: z.number().int().nonnegative(),
  bytes: z.number().int().nonnegative(),
});
export type Segment = z.infer<typeof segmentSchema>;

const pointerSchema = z.object({
  schemaVersion: z.literal(2),
  partition: z.number().int().nonnegative(),
  generation: z.number().int().nonnegative(),
  token: z.string(),
  segments: z.array(segmentSchema),
  covered: z.array(z.string()),
  recentRuns: z.array(z.string()),
  retired: z.array(segmentSchema.extend({ marker: z.string().optional(), at: z.string() })),
  /** The old single-pointer index (`_index/_current.json`) is merged into this partition. */
  legacyFolded: z.boolean(),
  entries: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type PartitionPointer = z.infer<typeof pointerSchema>;

const markerSchema = segmentSchema.extend({ schemaVersion: z.literal(1), run: z.string() });

export interface PartitionOptions {
  graceMs?: number;
  /** Inputs merged at once (tests make it small). @defaultValue {@link FAN_IN} */
  fanIn?: number;
  chunkEntries?: number;
  /** Entries per row group of the files written (tests make it small). */
  rowGroupEntries?: number;
  /** Bytes of every index file written (for benchmarks and tests). */
  onBytes?(bytes: number): void;
}

export class IndexPartition {
  readonly dir: string;

  constructor(
    private readonly output: IndexOutput,
    readonly partition: number,
    private readonly options: PartitionOptions = {},
  ) {
    this.dir = partitionDir(partition);
  }

  private get store(): ObjectStore {
    return this.output.store;
  }

  private key(relative: string): string {
    return this.output.prefix + relative;
  }

  readPointer(): Promise<PartitionPointer | undefined> {
    return getJson(this.store, this.key(`${this.dir}_current.json`), pointerSchema);
  }

  runBase(run: string): string {
    return `${this.dir}runs/${run}/seg`;
  }

  private runMarker(run: string): string {
    return `${this.dir}runs/${run}/_segment.json`;
  }

  /** Run segments the pointer does not cover (streamed from the listing). */
  async *pendingRuns(pointer: PartitionPointer | undefined): AsyncGenerator<Segment & { run: string; marker: string }> {
    const covered = new Set(pointer?.covered ?? []);
    for await (const info of this.store.list(this.key(`${this.dir}runs/`))) {
      if (!info.key.endsWith('/_segment.json')) continue;
      const marker = await getJson(this.store, info.key, markerSchema);
      if (!marker || covered.has(marker.run)) continue;
      yield { run: marker.run, base: marker.base, chunks: marker.chunks, entries: marker.entries, bytes: marker.bytes, marker: info.key.slice(this.output.prefix.length) };
    }
  }

  /** Whether the run's segment of this partition is written (or already compacted). */
  async hasRun(run: string): Promise<boolean> {
    const pointer = await this.readPointer();
    return (pointer?.recentRuns.includes(run) ?? false) || (await this.store.exists(this.key(this.runMarker(run))));
  }

  /**
   * The partition's entries, sorted, as column batches: the pointer's segments, run segments it lacks, and `extra`
   * (the legacy index). Given a range, only its entries, read from the row groups that hold them.
   */
  async *batches(extra: Array<AsyncIterable<EntryColumns>> = [], range: KeyRange = {}): AsyncGenerator<EntryColumns> {
    const pointer = await this.readPointer();
    const inputs: Array<AsyncIterable<EntryColumns>> = [...extra];
    for (const segment of pointer?.segments ?? []) inputs.push(readChunkBatches(this.store, this.key(segment.base), segment.chunks, range));
    for await (const run of this.pendingRuns(pointer)) inputs.push(readChunkBatches(this.store, this.key(run.base), run.chunks, range));
    yield* mergeBatches(inputs);
  }

  /**
   * Writes the run's segment from its inputs (lazily opened streams, see index-contribution.ts),
   * the finalisation time filled in. Returns false when the run was merged before.
   */
  async addRun(run: string, finalizedAt: string, inputs: AsyncIterable<() => AsyncIterable<EntryColumns>>, tmpBase: string, fanIn = FAN_IN): Promise<boolean> {
    if (await this.hasRun(run)) return false;
    const merged = await mergeHierarchically(this.store, inputs, this.key(tmpBase), { ...this.chunkOptions(), fanIn: this.options.fanIn ?? fanIn });
    const written = await writeChunkBatches(this.store, this.key(this.runBase(run)), fillFinalizedAt(merged.batches, finalizedAt), this.chunkOptions());
    await putJson(this.store, this.key(this.runMarker(run)), { schemaVersion: 1, run, base: this.runBase(run), ...written }, markerSchema);
    await merged.cleanup();
    return true;
  }

  private chunkOptions(): WriteChunksOptions {
    const { chunkEntries, rowGroupEntries, onBytes } = this.options;
    return { ...(chunkEntries ? { chunkEntries } : {}), ...(rowGroupEntries ? { rowGroupEntries } : {}), ...(onBytes ? { onBytes } : {}) };
  }

  /**
   * Size-tiered compaction (see the file comment), then deletion of retired files past their
   * grace period. `legacy`, when given, is the old index's entries of this partition: merged in
   * once (the pointer then says `legacyFolded`, as it does with `legacyChecked`: the caller found
   * no old index). `run` is recorded as merged.
   */
  async compact(options: { run?: string; legacy?: AsyncIterable<IndexEntry>; legacyChecked?: boolean } = {}): Promise<PartitionPointer> {
    const previous = await this.readPointer();
    const now = Date.now();
    type Candidate = Segment & { run?: string; marker?: string };
    const candidates: Candidate[] = [...(previous?.segments ?? [])];
    for await (const run of this.pendingRuns(previous)) candidates.push(run);
    const token = randomBytes(4).toString('hex');
    const generation = (previous?.generation ?? 0) + 1;
    const retired: PartitionPointer['retired'] = [];
    let legacy = options.legacy;
    let made = 0;
    for (;;) {
      const group = legacy ? candidates.splice(0) : tierToMerge(candidates);
      if (group.length === 0 && !legacy) break;
      const inputs: Array<AsyncIterable<EntryColumns>> = group.map((s) => readChunkBatches(this.store, this.key(s.base), s.chunks));
      if (legacy) inputs.push(batchesOf(legacy));
      legacy = undefined;
      const base = `${this.dir}seg-${String(generation).padStart(8, '0')}-${token}-${made++}`;
      const written = await writeChunkBatches(this.store, this.key(base), mergeBatches(inputs), this.chunkOptions());
      if (written.chunks > 0) candidates.push({ base, ...written });
      for (const s of group) {
        retired.push({ base: s.base, chunks: s.chunks, entries: s.entries, bytes: s.bytes, ...(s.marker ? { marker: s.marker } : {}), at: new Date(now).toISOString() });
      }
    }
    const grace = this.options.graceMs ?? DEFAULT_GRACE_MS;
    const expired = (previous?.retired ?? []).filter((r) => Date.parse(r.at) + grace <= now);
    // Deleted before the pointer that forgets them is written: a pointer that loses its race
    // leaves them retired in the winner, to be deleted (again, harmlessly) later.
    for (const r of expired) await this.deleteRetired(r);
    const stillRetired = (previous?.retired ?? []).filter((r) => !expired.includes(r));
    // The runs folded into segments whose run segments still exist: exactly those retired, and
    // not yet deleted.
    const covered = [...stillRetired, ...retired].flatMap((r) => (r.marker ? [runOfMarker(r.marker)] : []));
    const recentRuns = [...(previous?.recentRuns ?? []).filter((r) => r !== options.run), ...(options.run ? [options.run] : [])].slice(-RECENT_RUNS);
    const changed =
      made > 0 || expired.length > 0 || (options.run !== undefined && !previous?.recentRuns.includes(options.run)) || !previous || (options.legacyChecked === true && !previous.legacyFolded);
    if (!changed && previous) return previous;
    const segments = candidates.filter((c) => !c.run).map((c) => ({ base: c.base, chunks: c.chunks, entries: c.entries, bytes: c.bytes }));
    const pointer: PartitionPointer = {
      schemaVersion: 2,
      partition: this.partition,
      generation,
      token,
      segments,
      covered: [...new Set(covered)].sort(),
      recentRuns,
      retired: [...stillRetired, ...retired],
      legacyFolded: (previous?.legacyFolded ?? false) || options.legacy !== undefined || options.legacyChecked === true,
      entries: segments.reduce((n, s) => n + s.entries, 0),
      updatedAt: new Date().toISOString(),
    };
    await putJson(this.store, this.key(`${this.dir}_current.json`), pointer, pointerSchema);
    return pointer;
  }

  private async deleteRetired(r: PartitionPointer['retired'][number]): Promise<void> {
    await deleteChunks(this.store, this.key(r.base), r.chunks);
    if (r.marker) await this.store.delete(this.key(r.marker));
  }
}

function runOfMarker(marker: string): string {
  return /runs\/([^/]+)\/_segment\.json$/.exec(marker)?.[1] ?? marker;
}

export function tierOf(bytes: number): number {
  return bytes < TIER_BASE_BYTES ? 0 : 1 + Math.floor(Math.log(bytes / TIER_BASE_BYTES) / Math.log(TIER_RATIO));
}

/** Removes and returns the segments of the lowest tier holding TIER_RATIO or more; none when no tier does. */
function tierToMerge<T extends Segment>(candidates: T[]): T[] {
  const counts = new Map<number, number>();
  for (const c of candidates) counts.set(tierOf(c.bytes), (counts.get(tierOf(c.bytes)) ?? 0) + 1);
  const tiers = [...counts].filter(([, n]) => n >= TIER_RATIO).map(([tier]) => tier);
  if (tiers.length === 0) return [];
  const tier = Math.min(...tiers);
  const group = candidates.filter((c) => tierOf(c.bytes) === tier);
  for (const c of group) candidates.splice(candidates.indexOf(c), 1);
  return group;
}

/**
 * K-way merge of many sorted inputs: up to {@link FAN_IN} directly; past that, groups of FAN_IN
 * are merged into temporary segments `<tmpBase>-L<level>-<group>` first (their chunks found
 * again by listing, so nothing here grows with the number of inputs), level by level.
 */
export async function mergeHierarchically(
  store: ObjectStore,
  inputs: AsyncIterable<() => AsyncIterable<EntryColumns>>,
  tmpBase: string,
  options: WriteChunksOptions & { fanIn?: number } = {},
): Promise<{ batches: AsyncIterable<EntryColumns>; cleanup(): Promise<void> }> {
  const fanIn = options.fanIn ?? FAN_IN;
  const cleanup = async () => {
    for await (const info of store.list(`${tmpBase}-L`)) await store.delete(info.key);
  };
  let level = 0;
  let current: AsyncIterable<() => AsyncIterable<EntryColumns>> = inputs;
  for (;;) {
    const iterator = current[Symbol.asyncIterator]();
    let group: Array<() => AsyncIterable<EntryColumns>> = [];
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      group.push(next.value);
      if (group.length > fanIn) break;
    }
    if (group.length <= fanIn) return { batches: mergeBatches(group.map((open) => open())), cleanup };
    level++;
    let groups = 0;
    const writeGroup = async (members: Array<() => AsyncIterable<EntryColumns>>): Promise<WrittenSegment> =>
      writeChunkBatches(store, `${tmpBase}-L${level}-${String(groups++).padStart(8, '0')}`, mergeBatches(members.map((open) => open())), { ...options, keyTables: false });
    const overflow = group.pop()!;
    await writeGroup(group);
    group = [overflow];
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      group.push(next.value);
      if (group.length === fanIn) {
        await writeGroup(group);
        group = [];
      }
    }
    if (group.length > 0) await writeGroup(group);
    const at = level;
    const count = groups;
    current = (async function* () {
      for (let g = 0; g < count; g++) {
        const prefix = `${tmpBase}-L${at}-${String(g).padStart(8, '0')}-`;
        yield async function* () {
          for await (const info of store.list(prefix)) {
            if (info.key.endsWith('.parquet')) yield* readIndexBatches(store, info.key);
          }
        };
      }
    })();
  }
}
