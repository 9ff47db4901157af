/**
 * The processed index as it was before partitions (read-only): `_index/_current.json` naming
 * sorted base chunks and the runs they contain, plus `_index/segments/<run>.parquet` of runs not
 * compacted yet. Readers of a partitioned index take it as one more input until every partition
 * has merged it (its pointer says `legacyFolded`); the merge job that sees them all folded
 * deletes it.
 */
import { z } from 'zod';
import { getJson, type ObjectStore } from '@siglip-batch/io';
import { mergeEntries, type IndexEntry } from './index-entry';
import { readIndexFile } from './index-files';
import { INDEX_DIR, partitionOf, type IndexOutput } from './index-layout';

const POINTER = `${INDEX_DIR}_current.json`;
const SEGMENTS = `${INDEX_DIR}segments/`;

const legacyPointerSchema = z.object({
  schemaVersion: z.literal(1),
  base: z.array(z.string()),
  runs: z.array(z.string()),
});

/** Whether the output has an index in the old layout. */
export async function hasLegacyIndex(output: IndexOutput): Promise<boolean> {
  if (await output.store.exists(output.prefix + POINTER)) return true;
  for await (const _ of output.store.list(output.prefix + SEGMENTS)) return true;
  return false;
}

/** The old index's entries, sorted (base merged with pending segments); only those of `partition` when given. */
export async function* legacyEntries(output: IndexOutput, only?: { partition: (p: number) => boolean; partitions: number }): AsyncGenerator<IndexEntry> {
  const { store, prefix } = output;
  const pointer = await getJson(store, prefix + POINTER, legacyPointerSchema);
  const covered = new Set(pointer?.runs ?? []);
  const inputs: Array<AsyncIterable<IndexEntry>> = [];
  const base = pointer?.base ?? [];
  inputs.push(
    (async function* () {
      for (const key of base) yield* readIndexFile(store, prefix + key);
    })(),
  );
  for await (const info of store.list(prefix + SEGMENTS)) {
    const run = /([^/]+)\.parquet$/.exec(info.key)?.[1];
    if (run && !covered.has(run)) inputs.push(readIndexFile(store, info.key));
  }
  for await (const entry of mergeEntries(inputs)) {
    if (!only || only.partition(partitionOf(entry.uri, only.partitions))) yield entry;
  }
}

/** Deletes the old layout: segments and base chunks first, the pointer last. */
export async function deleteLegacyIndex(store: ObjectStore, prefix: string): Promise<void> {
  const pointer = await getJson(store, prefix + POINTER, legacyPointerSchema);
  for await (const info of store.list(prefix + SEGMENTS)) await store.delete(info.key);
  for (const key of pointer?.base ?? []) await store.delete(prefix + key);
  await store.delete(prefix + POINTER);
}
