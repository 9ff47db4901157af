/**
 * `siglip-batch latest`: the newest embedded row of every object across an output's runs, from
 * the processed index (one entry per uri and model, newest run) and the part files it points
 * to. One set of files per model and decode mode (`_latest/<model hash>[-fast-<gap>]-<n>.parquet`, embedding widths differ
 * between models), listed by `_latest/_latest.json`, which is written after them; files of an
 * earlier `latest` are deleted only after that.
 *
 * Memory: the index is streamed; the wanted uris are grouped per source file (a set of strings
 * per file), and rows are written in chunks.
 */
import { z } from 'zod';
import { RunFolder, encodeLatestFile, getJson, putJson, type ObjectStore } from '@siglip-batch/io';
import { readPartRows } from '../retrieval/part-rows';
import { runFileMap, type RunFileMap } from '../compact/run-file-map';
import { splitModelKey } from './index-entry';
import { ProcessedIndex } from './processed-index';

const LATEST_DIR = '_latest/';
const latestPointerSchema = z.object({
  schemaVersion: z.literal(1),
  files: z.array(z.object({ key: z.string(), modelHash: z.string(), rows: z.number().int().nonnegative() })),
  rows: z.number().int().nonnegative(),
  indexGeneration: z.number().int().nonnegative(),
  updatedAt: z.string(),
});
export type LatestPointer = z.infer<typeof latestPointerSchema>;

/** The `_latest.json` pointer of an output, if `latest` was run there. */
export function readLatestPointer(output: { store: ObjectStore; prefix: string }): Promise<LatestPointer | undefined> {
  return getJson(output.store, `${output.prefix}${LATEST_DIR}_latest.json`, latestPointerSchema);
}

export interface WriteLatestOptions {
  /** Rows per output file. @defaultValue 100000 */
  chunkRows?: number;
}

export async function writeLatest(output: { store: ObjectStore; prefix: string }, options: WriteLatestOptions = {}): Promise<LatestPointer> {
  const { store, prefix } = output;
  const index = new ProcessedIndex(output);
  // The index is compacted first, so every reader of `latest` sees what the pointer says.
  const indexPointer = await index.compact();
  // model hash → "run\0file" → uri → finalizedAt
  const wanted = new Map<string, Map<string, Map<string, string>>>();
  // Index entries keep the file names of a run's first manifest; `compact` may have merged
  // them since: the run's manifest maps them to the file that holds the rows now.
  const fileMaps = new Map<string, Promise<RunFileMap>>();
  const fileMapOf = (run: string): Promise<RunFileMap> => {
    let map = fileMaps.get(run);
    if (!map) {
      map = new RunFolder(output, run).readManifest().then((manifest) => runFileMap(manifest ?? {}));
      fileMaps.set(run, map);
    }
    return map;
  };
  for await (const entry of index.entries()) {
    if (entry.status !== 'ok') continue;
    let byFile = wanted.get(entry.modelHash);
    if (!byFile) wanted.set(entry.modelHash, (byFile = new Map()));
    const fileId = `${entry.run}\0${(await fileMapOf(entry.run))(entry.file)}`;
    let uris = byFile.get(fileId);
    if (!uris) byFile.set(fileId, (uris = new Map()));
    uris.set(entry.uri, entry.finalizedAt);
  }
  // A file mapped through a manifest read earlier may be gone since: a compaction of that run
  // meanwhile (past its grace period) moved its rows. Mapped again through the run's current
  // manifest, it is read once more; a file that maps to itself is really missing.
  const readRunFile = async (run: string, file: string) => {
    const folder = new RunFolder(output, run);
    const read = (key: string) => readPartRows(() => store.openBlob(folder.keyOf(key)), { withTags: true });
    try {
      return await read(file);
    } catch (error) {
      const now = runFileMap((await folder.readManifest().catch(() => undefined)) ?? {})(file);
      if (now === file) throw error;
      return read(now);
    }
  };
  const previous = await getJson(store, `${prefix}${LATEST_DIR}_latest.json`, latestPointerSchema);
  const stamp = Date.now().toString(36);
  const files: LatestPointer['files'] = [];
  const chunkRows = options.chunkRows ?? 100_000;
  for (const [modelHash, byFile] of wanted) {
    // Exact and fast-decoded rows of one model go to files of their own.
    const model = splitModelKey(modelHash);
    const name = model.decode.mode === 'exact' ? model.modelHash.slice(0, 16) : `${model.modelHash.slice(0, 16)}-fast-${model.decode.reducingGap}`;
    let chunk: Array<{ rows: Awaited<ReturnType<typeof readPartRows>>; index: number; run: string; finalizedAt: string }> = [];
    let n = 0;
    const flush = async () => {
      if (chunk.length === 0) return;
      const dim = chunk[0]!.rows.dim;
      const embedding = new Float32Array(chunk.length * dim);
      chunk.forEach((c, i) => embedding.set(c.rows.embedding.subarray(c.index * dim, (c.index + 1) * dim), i * dim));
      // Output rows sorted by uri, like every other index file.
      const order = chunk.map((_, i) => i).sort((a, b) => (chunk[a]!.rows.uri[chunk[a]!.index]! < chunk[b]!.rows.uri[chunk[b]!.index]! ? -1 : 1));
      const pick = <T>(get: (c: (typeof chunk)[number]) => T) => order.map((i) => get(chunk[i]!));
      const sorted = new Float32Array(embedding.length);
      order.forEach((from, to) => sorted.set(embedding.subarray(from * dim, (from + 1) * dim), to * dim));
      const key = `${LATEST_DIR}${name}-${stamp}-${String(n++).padStart(5, '0')}.parquet`;
      await store.put(
        `${prefix}${key}`,
        encodeLatestFile({
          rowId: pick((c) => c.rows.rowId?.[c.index] ?? null),
          uri: pick((c) => c.rows.uri[c.index]!),
          etag: pick((c) => c.rows.etag[c.index] ?? null),
          sizeBytes: pick((c) => Number(c.rows.sizeBytes[c.index] ?? 0)),
          sha256: pick((c) => c.rows.sha256[c.index]!),
          width: pick((c) => Number(c.rows.width[c.index] ?? 0)),
          height: pick((c) => Number(c.rows.height[c.index] ?? 0)),
          embedding: sorted,
          dim,
          tags: pick((c) => c.rows.tags?.[c.index] ?? []),
          run: pick((c) => c.run),
          finalizedAt: pick((c) => c.finalizedAt),
          metadata: { 'siglip_batch.model.hash': model.modelHash, 'siglip_batch.decode': JSON.stringify(model.decode) },
        }),
        { contentType: 'application/vnd.apache.parquet' },
      );
      files.push({ key, modelHash, rows: chunk.length });
      chunk = [];
    };
    for (const [fileId, uris] of byFile) {
      const [run, file] = fileId.split('\0') as [string, string];
      const rows = await readRunFile(run, file);
      rows.uri.forEach((uri, index) => {
        const finalizedAt = uris.get(uri);
        if (finalizedAt !== undefined) chunk.push({ rows, index, run, finalizedAt });
      });
      if (chunk.length >= chunkRows) await flush();
    }
    await flush();
  }
  const pointer: LatestPointer = {
    schemaVersion: 1,
    files,
    rows: files.reduce((n, f) => n + f.rows, 0),
    indexGeneration: indexPointer.generation,
    updatedAt: new Date().toISOString(),
  };
  await putJson(store, `${prefix}${LATEST_DIR}_latest.json`, pointer, latestPointerSchema);
  const kept = new Set(files.map((f) => f.key));
  for (const file of previous?.files ?? []) if (!kept.has(file.key)) await store.delete(`${prefix}${file.key}`);
  return pointer;
}
