/**
 * A big run's contributions, split once by partition. Each of the P partition merges needs its
 * rows of every contribution file; for a run of F files that is P·F file opens when each merge
 * reads them itself — fine for a nightly run of a few hundred shards, not for a first run of
 * millions. Past {@link FAN_IN} files the merges first split the run in groups (consecutive files
 * of the listing, at most {@link GROUP_FILES} or {@link GROUP_BYTES}): a group's files are read
 * once, held as their bytes, and written as one sorted file per partition (`<run>/_index/tmp/g-<group>/`),
 * then a `_done.json` marker. The merge of partition p then reads F/GROUP_FILES group files.
 *
 * Who splits: every partition merge, first the groups g ≡ p (mod P), then any group still without
 * a marker — so P merges running at once split the run in parallel, and one alone (a single
 * worker) still finishes. A group is written under derived keys: splitting it twice is harmless.
 */
import { z } from 'zod';
import { forEachBounded, getJson, putJson } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';
import { mergeBatches, type EntryColumns } from './index-batches';
import { readChunkBatches, writeChunkBatches } from './index-files';
import { CONTRIBUTIONS_DIR, contributionSlice, decodeContribution, type DecodedContribution } from './index-contribution';
import { FAN_IN } from './index-partition';

export const GROUP_FILES = 128;
export const GROUP_BYTES = 4 * 1024 * 1024;
/** Bands of partitions a group is split in: each of its files is decoded once per band. */
export const SPLIT_BANDS = 4;
/**
 * Rows per row group of the split files (temporary): a merge reading many of them, and a split
 * writing them, hold one decoded row group each, in wasm memory that never shrinks.
 */
const SPLIT_ROW_GROUP = 1024;
const GROUPS_DIR = `${CONTRIBUTIONS_DIR}tmp/`;
/**
 * Deletes in flight at once when the split files go (one request each): a first run of 1e6
 * shards leaves ~8,000 groups × P partition files, which one delete at a time (~20 ms per S3
 * DELETE) takes hours to remove; the listing is read only as deletes finish.
 */
const DELETE_CONCURRENCY = 16;

const doneSchema = z.object({ schemaVersion: z.literal(1), files: z.number().int(), chunks: z.array(z.number().int().nonnegative()) });

function groupDir(group: number): string {
  return `${GROUPS_DIR}g-${String(group).padStart(8, '0')}/`;
}

/** Contribution files of the run (relative keys), in listing order. */
async function* contributionFiles(folder: RunFolder): AsyncGenerator<{ key: string; size: number }> {
  const prefix = folder.keyOf(CONTRIBUTIONS_DIR);
  for await (const info of folder.store.list(prefix)) {
    const name = info.key.slice(prefix.length);
    if (name.endsWith('.parquet') && !name.includes('/')) yield { key: info.key, size: info.size };
  }
}

/** Consecutive contribution files in groups, numbered. */
async function* groups(folder: RunFolder): AsyncGenerator<{ group: number; keys: string[] }> {
  let keys: string[] = [];
  let bytes = 0;
  let group = 0;
  for await (const file of contributionFiles(folder)) {
    keys.push(file.key);
    bytes += file.size;
    if (keys.length >= GROUP_FILES || bytes >= GROUP_BYTES) {
      yield { group: group++, keys };
      keys = [];
      bytes = 0;
    }
  }
  if (keys.length > 0) yield { group: group++, keys };
}

/** Whether the run has more contribution files than one merge takes at once. */
export async function needsGroups(folder: RunFolder, fanIn = FAN_IN): Promise<boolean> {
  let n = 0;
  for await (const _ of contributionFiles(folder)) if (++n > fanIn) return true;
  return false;
}

/**
 * Reads a group's files (each sorted by partition, then uri) and writes one sorted file per
 * partition. The files are held as their Parquet bytes (at most {@link GROUP_BYTES}); the
 * partitions are taken in {@link SPLIT_BANDS} bands of consecutive partitions, each file decoded
 * once per band (its band's rows are consecutive in it) and every partition's merge taking its
 * slice of each. A group's memory is its bytes plus the decoded rows of one band, and each file
 * is decoded SPLIT_BANDS times, not once per partition.
 */
async function splitGroup(folder: RunFolder, group: number, keys: string[], partitions: number): Promise<void> {
  const store = folder.store;
  const files: Array<{ key: string; bytes: Uint8Array }> = [];
  for (const key of keys) files.push({ key, bytes: await store.get(key) });
  const chunks: number[] = [];
  const bandSize = Math.ceil(partitions / SPLIT_BANDS);
  for (let from = 0; from < partitions; from += bandSize) {
    const to = Math.min(partitions, from + bandSize);
    const decoded: DecodedContribution[] = [];
    for (const file of files) decoded.push(await decodeContribution(file.bytes, file.key, partitions, from, to));
    for (let p = from; p < to; p++) {
      const inputs = decoded.map((file) => contributionSlice(file, p));
      const base = folder.keyOf(`${groupDir(group)}p-${String(p).padStart(4, '0')}`);
      const written = await writeChunkBatches(store, base, mergeBatches(inputs), { keyTables: false, rowGroupEntries: SPLIT_ROW_GROUP });
      chunks.push(written.chunks);
    }
  }
  await putJson(store, folder.keyOf(`${groupDir(group)}_done.json`), { schemaVersion: 1, files: keys.length, chunks }, doneSchema);
}

/**
 * Makes sure every group of the run is split (see the file comment): the groups of `partition`
 * first, then any other still missing.
 */
export async function splitRunGroups(folder: RunFolder, partition: number, partitions: number): Promise<void> {
  const done = (group: number) => folder.store.exists(folder.keyOf(`${groupDir(group)}_done.json`));
  for await (const { group, keys } of groups(folder)) {
    if (group % partitions === partition && !(await done(group))) await splitGroup(folder, group, keys, partitions);
  }
  for await (const { group, keys } of groups(folder)) {
    if (!(await done(group))) await splitGroup(folder, group, keys, partitions);
  }
}

/** Splits every group not split yet, `concurrency` at a time, from one listing of the run's files. */
export async function splitAllGroups(folder: RunFolder, partitions: number, concurrency: number): Promise<void> {
  const done = (group: number) => folder.store.exists(folder.keyOf(`${groupDir(group)}_done.json`));
  await forEachBounded(groups(folder), concurrency, async ({ group, keys }) => {
    if (!(await done(group))) await splitGroup(folder, group, keys, partitions);
  });
}

/**
 * Deletes the run's split groups and temporary merge levels, once every partition has the run
 * (a split repeated by a merge that raced another leaves files no merge deletes).
 */
export async function deleteRunGroups(folder: RunFolder): Promise<void> {
  await forEachBounded(folder.store.list(folder.keyOf(GROUPS_DIR)), DELETE_CONCURRENCY, (info) => folder.store.delete(info.key));
}

/** The split groups' files of one partition, as lazily opened inputs. */
export async function* groupInputs(folder: RunFolder, partition: number): AsyncGenerator<() => AsyncIterable<EntryColumns>> {
  for await (const info of folder.store.list(folder.keyOf(GROUPS_DIR))) {
    if (!info.key.endsWith('/_done.json')) continue;
    const marker = await getJson(folder.store, info.key, doneSchema);
    const chunks = marker?.chunks[partition] ?? 0;
    if (chunks === 0) continue;
    const base = `${info.key.slice(0, -'_done.json'.length)}p-${String(partition).padStart(4, '0')}`;
    yield () => readChunkBatches(folder.store, base, chunks);
  }
}

/** Deletes the split files of one partition (its merge is written); markers stay. */
export async function deleteGroupFiles(folder: RunFolder, partition: number): Promise<void> {
  const suffix = `/p-${String(partition).padStart(4, '0')}-`;
  await forEachBounded(folder.store.list(folder.keyOf(GROUPS_DIR)), DELETE_CONCURRENCY, async (info) => {
    if (info.key.includes(suffix)) await folder.store.delete(info.key);
  });
}
