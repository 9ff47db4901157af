/**
 * The partitioning of an output's processed index, `<out>/_index/_layout.json`: the number of
 * partitions P, fixed when the index is created, and the hash that sends a uri to one.
 *
 * The hash is 32-bit FNV-1a over the uri's UTF-8 bytes (offset basis 0x811c9dc5, prime
 * 0x01000193), and the partition is `hash mod P` — simple enough for any other tool (DuckDB,
 * pyarrow) to reimplement, and stable across processes and versions. Partition `p` lives in
 * `_index/p-<pppp>/` (four decimal digits).
 */
import { z } from 'zod';
import { getJson, putJson, type ObjectStore } from '@siglip-batch/io';

export const INDEX_DIR = '_index/';
export const LAYOUT_KEY = `${INDEX_DIR}_layout.json`;
/** Partitions of a new index. 16 spreads a nightly run over 16 parallel merge jobs. */
export const DEFAULT_PARTITIONS = 16;

const layoutSchema = z.object({
  schemaVersion: z.literal(1),
  partitions: z.number().int().positive().max(4096),
  hash: z.literal('fnv1a32-utf8'),
});
export type IndexLayout = z.infer<typeof layoutSchema>;

export interface IndexOutput {
  store: ObjectStore;
  /** The output's prefix ('' or ending in '/'). */
  prefix: string;
}

const encoder = new TextEncoder();

/** 32-bit FNV-1a of the UTF-8 bytes of `text`. */
export function fnv1a32(text: string): number {
  let hash = 0x811c9dc5;
  for (const byte of encoder.encode(text)) {
    hash ^= byte;
    hash = Math.imul(hash, 0x01000193) >>> 0;
  }
  return hash >>> 0;
}

export function partitionOf(uri: string, partitions: number): number {
  return fnv1a32(uri) % partitions;
}

/** `_index/p-0003/`, relative to the output prefix. */
export function partitionDir(partition: number): string {
  return `${INDEX_DIR}p-${String(partition).padStart(4, '0')}/`;
}

export function readLayout(output: IndexOutput): Promise<IndexLayout | undefined> {
  return getJson(output.store, output.prefix + LAYOUT_KEY, layoutSchema);
}

/**
 * The output's layout, created with `partitions` when there is none. Two processes creating it
 * at once write the same document (P is the default everywhere but in tests), so the race is
 * harmless; the one read back is the one used.
 */
export async function ensureLayout(output: IndexOutput, partitions = DEFAULT_PARTITIONS): Promise<IndexLayout> {
  const existing = await readLayout(output);
  if (existing) return existing;
  await putJson(output.store, output.prefix + LAYOUT_KEY, { schemaVersion: 1, partitions, hash: 'fnv1a32-utf8' }, layoutSchema);
  return (await readLayout(output))!;
}

/** Layouts read per output, for shard commits (one GET per output and process, not per shard). */
const cached = new WeakMap<ObjectStore, Map<string, Promise<IndexLayout>>>();

export function cachedLayout(output: IndexOutput): Promise<IndexLayout> {
  let byPrefix = cached.get(output.store);
  if (!byPrefix) cached.set(output.store, (byPrefix = new Map()));
  let layout = byPrefix.get(output.prefix);
  if (!layout) {
    layout = ensureLayout(output);
    layout.catch(() => byPrefix.delete(output.prefix));
    byPrefix.set(output.prefix, layout);
  }
  return layout;
}
