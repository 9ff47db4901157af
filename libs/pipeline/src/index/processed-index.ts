/**
 * The processed index of an output root, `<out>/_index/`:
 *
 * - `segments/<run>.parquet`: the entries of one finalised run, sorted (written by whoever
 *   finalises the run — one writer per run, the finalise job has a fixed id — and idempotent:
 *   the same manifest gives the same segment);
 * - `base-<generation>-<token>-<n>.parquet`: the compacted index, in sorted chunks;
 * - `_current.json`: the pointer — which base chunks make the index, and which runs' segments
 *   they already contain. Every put is atomic, so readers see one pointer or the next.
 *
 * Readers merge the base with every segment the pointer does not cover yet. Compaction merges
 * both into a new base under new names, writes the pointer, and only then deletes files — and
 * only those the pointer it started from had already compacted (base files of older
 * generations and the segments of runs in its base), and only if its own pointer is still the
 * current one. Two compactions racing therefore never delete a segment the winning pointer
 * lacks; the loser's new base files are left unreferenced (garbage, never read).
 */
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import {
  encodeIndexFile,
  getJson,
  putJson,
  readParquetBatches,
  type ObjectStore,
  type RunFolder,
} from '@siglip-batch/io';
import type { RunManifest } from '@siglip-batch/jobs';
import { compareEntries, indexModelKey, mergeEntries, type IndexEntry } from './index-entry';

export const INDEX_DIR = '_index/';
const POINTER = `${INDEX_DIR}_current.json`;
const SEGMENTS = `${INDEX_DIR}segments/`;

const pointerSchema = z.object({
  schemaVersion: z.literal(1),
  generation: z.number().int().nonnegative(),
  token: z.string(),
  /** Base chunks, relative to the output prefix, in order. */
  base: z.array(z.string()),
  /** Runs whose segments the base contains. */
  runs: z.array(z.string()),
  entries: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type IndexPointer = z.infer<typeof pointerSchema>;

export interface ProcessedIndexOptions {
  /** Entries per base chunk. @defaultValue 500000 */
  chunkEntries?: number;
}

export class ProcessedIndex {
  private readonly chunkEntries: number;

  constructor(
    private readonly output: { store: ObjectStore; prefix: string },
    options: ProcessedIndexOptions = {},
  ) {
    this.chunkEntries = options.chunkEntries ?? 500_000;
  }

  private key(relative: string): string {
    return this.output.prefix + relative;
  }

  readPointer(): Promise<IndexPointer | undefined> {
    return getJson(this.output.store, this.key(POINTER), pointerSchema);
  }

  /** Runs with a segment not yet compacted, by key. */
  private async pendingSegments(pointer: IndexPointer | undefined): Promise<Array<{ run: string; key: string }>> {
    const covered = new Set(pointer?.runs ?? []);
    const segments: Array<{ run: string; key: string }> = [];
    for await (const info of this.output.store.list(this.key(SEGMENTS))) {
      const run = /([^/]+)\.parquet$/.exec(info.key)?.[1];
      if (run && !covered.has(run)) segments.push({ run, key: info.key });
    }
    return segments;
  }

  /** The whole index, sorted, one entry per (uri, model): the base merged with pending segments. */
  async *entries(): AsyncGenerator<IndexEntry> {
    const pointer = await this.readPointer();
    const segments = await this.pendingSegments(pointer);
    yield* this.merged(pointer, segments);
  }

  private merged(pointer: IndexPointer | undefined, segments: Array<{ key: string }>): AsyncGenerator<IndexEntry> {
    const store = this.output.store;
    const keys = (pointer?.base ?? []).map((key) => this.key(key));
    const base = (async function* () {
      for (const key of keys) yield* readIndexFile(store, key);
    })();
    return mergeEntries([base, ...segments.map((segment) => readIndexFile(store, segment.key))]);
  }

  /** Writes the segment of a finalised run (idempotent), from the files its manifest lists. */
  async addRun(folder: RunFolder, manifest: RunManifest): Promise<number> {
    const entries: IndexEntry[] = [];
    const finalizedAt = manifest.timings.finalizedAt;
    const modelKey = indexModelKey(manifest.model.hash, manifest.decode);
    const files = [...manifest.parts.map((p) => ({ key: p.key, status: 'ok' as const })), ...manifest.errors.map((e) => ({ key: e.key, status: 'error' as const }))];
    for (const file of files) {
      const blob = await folder.store.openBlob(folder.keyOf(file.key));
      for await (const batch of readParquetBatches(blob, { columns: ['uri', 'etag'], batchSize: 8192 })) {
        const uri = batch.getChild('uri')!;
        const etag = batch.getChild('etag')!;
        for (let i = 0; i < batch.numRows; i++) {
          entries.push({
            uri: uri.get(i) as string,
            etag: (etag.get(i) as string | null) ?? null,
            modelHash: modelKey,
            run: manifest.runId,
            file: file.key,
            status: file.status,
            finalizedAt,
          });
        }
      }
    }
    // Tombstones for what the listing of an incremental run no longer had.
    for (const file of manifest.deletions ?? []) {
      const blob = await folder.store.openBlob(folder.keyOf(file.key));
      for await (const batch of readParquetBatches(blob, { columns: ['uri', 'etag', 'model_hash'], batchSize: 8192 })) {
        const [uri, etag, modelHash] = ['uri', 'etag', 'model_hash'].map((name) => batch.getChild(name)!);
        for (let i = 0; i < batch.numRows; i++) {
          entries.push({
            uri: uri!.get(i) as string,
            etag: (etag!.get(i) as string | null) ?? null,
            modelHash: modelHash!.get(i) as string,
            run: manifest.runId,
            file: file.key,
            status: 'deleted',
            finalizedAt,
          });
        }
      }
    }
    entries.sort(compareEntries);
    // A manifest source may name an object twice: keep one entry per key.
    const unique = entries.filter((entry, i) => i === 0 || compareEntries(entries[i - 1]!, entry) !== 0);
    await this.output.store.put(this.key(`${SEGMENTS}${manifest.runId}.parquet`), encode(unique), { contentType: 'application/vnd.apache.parquet' });
    return unique.length;
  }

  /** Merges the base and pending segments into a new base; see the file comment for safety. */
  async compact(): Promise<IndexPointer> {
    const store = this.output.store;
    const previous = await this.readPointer();
    const segments = await this.pendingSegments(previous);
    if (previous && segments.length === 0) return previous;
    const generation = (previous?.generation ?? 0) + 1;
    const token = randomBytes(4).toString('hex');
    const base: string[] = [];
    let chunk: IndexEntry[] = [];
    let entries = 0;
    const flush = async () => {
      const key = `${INDEX_DIR}base-${String(generation).padStart(8, '0')}-${token}-${String(base.length).padStart(5, '0')}.parquet`;
      await store.put(this.key(key), encode(chunk), { contentType: 'application/vnd.apache.parquet' });
      base.push(key);
      chunk = [];
    };
    for await (const entry of this.merged(previous, segments)) {
      chunk.push(entry);
      entries++;
      if (chunk.length >= this.chunkEntries) await flush();
    }
    if (chunk.length > 0 || base.length === 0) await flush();
    const pointer: IndexPointer = {
      schemaVersion: 1,
      generation,
      token,
      base,
      runs: [...new Set([...(previous?.runs ?? []), ...segments.map((s) => s.run)])].sort(),
      entries,
      updatedAt: new Date().toISOString(),
    };
    await putJson(store, this.key(POINTER), pointer, pointerSchema);
    const current = await this.readPointer();
    if (current?.token === token && previous) {
      // Only what the pointer we started from had already compacted.
      for (const key of previous.base) await store.delete(this.key(key));
      for (const run of previous.runs) await store.delete(this.key(`${SEGMENTS}${run}.parquet`));
    }
    return pointer;
  }
}

function encode(entries: IndexEntry[]): Uint8Array {
  return encodeIndexFile({
    uri: entries.map((e) => e.uri),
    etag: entries.map((e) => e.etag),
    modelHash: entries.map((e) => e.modelHash),
    run: entries.map((e) => e.run),
    file: entries.map((e) => e.file),
    status: entries.map((e) => e.status),
    finalizedAt: entries.map((e) => e.finalizedAt),
  });
}

async function* readIndexFile(store: ObjectStore, key: string): AsyncGenerator<IndexEntry> {
  for await (const batch of readParquetBatches(await store.openBlob(key), { batchSize: 8192 })) {
    const col = (name: string) => batch.getChild(name)!;
    const [uri, etag, modelHash, run, file, status, finalizedAt] = ['uri', 'etag', 'model_hash', 'run', 'file', 'status', 'finalized_at'].map(col);
    for (let i = 0; i < batch.numRows; i++) {
      yield {
        uri: uri!.get(i) as string,
        etag: (etag!.get(i) as string | null) ?? null,
        modelHash: modelHash!.get(i) as string,
        run: run!.get(i) as string,
        file: file!.get(i) as string,
        status: status!.get(i) as IndexEntry['status'],
        finalizedAt: finalizedAt!.get(i) as string,
      };
    }
  }
}

/** After a run is finalised: its segment, then a compaction. Safe to repeat. */
export async function indexFinalizedRun(folder: RunFolder, manifest: RunManifest, output: { store: ObjectStore; prefix: string }): Promise<IndexPointer> {
  const index = new ProcessedIndex(output);
  await index.addRun(folder, manifest);
  // A compaction racing another may find base files of the pointer it read already replaced
  // and deleted: read the new pointer and merge again.
  for (let attempt = 1; ; attempt++) {
    try {
      return await index.compact();
    } catch (error) {
      if (attempt >= 5) throw error;
      await new Promise((resolve) => setTimeout(resolve, 100 * attempt + Math.random() * 200));
    }
  }
}
