/**
 * `siglip-batch latest`: the newest embedded row of every object across an output's runs, from
 * the processed index (one entry per uri and model, newest run) and the part files it points
 * to. One set of files per model and decode mode (`_latest/<model hash>[-fast-<gap>]-<n>.parquet`, embedding widths differ
 * between models), listed by `_latest/_latest.json`, which is written after them; files of an
 * earlier `latest` are deleted only after that.
 *
 * Memory: the index is streamed in uri order (all partitions merged) and taken in chunks of at
 * most `chunkEntries` entries, grouped by model and file; each chunk's files are read and its
 * rows written before the next chunk is taken. A shard of a sorted listing holds a contiguous uri
 * range, so each of its files falls in one chunk (two at a boundary) and is read about once.
 * (Chunks per hash partition would read every file once per partition: a shard's uris are spread
 * over all of them.) Nothing held grows with the index: one chunk of entries, one output chunk
 * of rows per model.
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
  /** Index entries taken (and their files read) at a time. @defaultValue 100000 */
  chunkEntries?: number;
}

export async function writeLatest(output: { store: ObjectStore; prefix: string }, options: WriteLatestOptions = {}): Promise<LatestPointer> {
  const { store, prefix } = output;
  const index = new ProcessedIndex(output);
  // model key → "run\0file" → uri → finalizedAt, for one chunk of the index at a time.
  let wanted = new Map<string, Map<string, Map<string, string>>>();
  let wantedEntries = 0;
  // Index entries keep the file names of a run's first manifest; `compact` may have merged
  // them since: the run's manifest maps them to the file that holds the rows now.
  const fileMaps = new Map<string, Promise<RunFileMap>>();
  const fileMapOf = (run: string): Promise<RunFileMap> => {
    let map = fileMaps.get(run);
    if (!map) {
      const folder = new RunFolder(output, run);
      map = folder.readManifest().then((manifest) => runFileMap(folder, manifest));
      fileMaps.set(run, map);
    }
    return map;
  };
  // A file mapped through a manifest read earlier may be gone since: a compaction of that run
  // meanwhile (past its grace period) moved its rows. Mapped again through the run's current
  // manifest, it is read once more; a file that maps to itself is really missing.
  const readRunFile = async (run: string, file: string) => {
    const folder = new RunFolder(output, run);
    const read = (key: string) => readPartRows(() => store.openBlob(folder.keyOf(key)), { withTags: true });
    try {
      return await read(file);
    } catch (error) {
      const now = await runFileMap(folder, await folder.readManifest().catch(() => undefined))
        .then((map) => map(file))
        .catch(() => file);
      if (now === file) throw error;
      return read(now);
    }
  };
  const previous = await getJson(store, `${prefix}${LATEST_DIR}_latest.json`, latestPointerSchema);
  const stamp = Date.now().toString(36);
  const files: LatestPointer['files'] = [];
  const chunkRows = options.chunkRows ?? 100_000;
  const chunkEntries = options.chunkEntries ?? 100_000;
  type Row = { rows: Awaited<ReturnType<typeof readPartRows>>; index: number; run: string; finalizedAt: string };
  // Output rows waiting to be written, per model key, and the next file number of each.
  const pending = new Map<string, { chunk: Row[]; n: number }>();
  const flush = async (modelHash: string) => {
    const out = pending.get(modelHash);
    if (!out || out.chunk.length === 0) return;
    const chunk = out.chunk;
    out.chunk = [];
    // Exact and fast-decoded rows of one model go to files of their own.
    const model = splitModelKey(modelHash);
    const name = model.decode.mode === 'exact' ? model.modelHash.slice(0, 16) : `${model.modelHash.slice(0, 16)}-fast-${model.decode.reducingGap}`;
    const dim = chunk[0]!.rows.dim;
    // Output rows sorted by uri, like every other index file.
    const order = chunk.map((_, i) => i).sort((a, b) => (chunk[a]!.rows.uri[chunk[a]!.index]! < chunk[b]!.rows.uri[chunk[b]!.index]! ? -1 : 1));
    const pick = <T>(get: (c: Row) => T) => order.map((i) => get(chunk[i]!));
    const sorted = new Float32Array(chunk.length * dim);
    order.forEach((from, to) => sorted.set(chunk[from]!.rows.embedding.subarray(chunk[from]!.index * dim, (chunk[from]!.index + 1) * dim), to * dim));
    const key = `${LATEST_DIR}${name}-${stamp}-${String(out.n++).padStart(5, '0')}.parquet`;
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
  };
  /** Reads the files of the chunk of entries taken, and writes out full output chunks. */
  const drain = async () => {
    for (const [modelHash, byFile] of wanted) {
      let out = pending.get(modelHash);
      if (!out) pending.set(modelHash, (out = { chunk: [], n: 0 }));
      for (const [fileId, uris] of byFile) {
        const [run, file] = fileId.split('\0') as [string, string];
        const rows = await readRunFile(run, file);
        rows.uri.forEach((uri, index) => {
          const finalizedAt = uris.get(uri);
          if (finalizedAt !== undefined) out.chunk.push({ rows, index, run, finalizedAt });
        });
        if (out.chunk.length >= chunkRows) await flush(modelHash);
      }
    }
    wanted = new Map();
    wantedEntries = 0;
  };
  const indexGeneration = await index.generation();
  for await (const entry of index.entries()) {
    if (entry.status !== 'ok') continue;
    let byFile = wanted.get(entry.modelHash);
    if (!byFile) wanted.set(entry.modelHash, (byFile = new Map()));
    const fileId = `${entry.run}\0${await (await fileMapOf(entry.run))(entry.file)}`;
    let uris = byFile.get(fileId);
    if (!uris) byFile.set(fileId, (uris = new Map()));
    uris.set(entry.uri, entry.finalizedAt);
    if (++wantedEntries >= chunkEntries) await drain();
  }
  await drain();
  for (const modelHash of pending.keys()) await flush(modelHash);
  const pointer: LatestPointer = {
    schemaVersion: 1,
    files,
    rows: files.reduce((n, f) => n + f.rows, 0),
    indexGeneration,
    updatedAt: new Date().toISOString(),
  };
  await putJson(store, `${prefix}${LATEST_DIR}_latest.json`, pointer, latestPointerSchema);
  const kept = new Set(files.map((f) => f.key));
  for (const file of previous?.files ?? []) if (!kept.has(file.key)) await store.delete(`${prefix}${file.key}`);
  return pointer;
}
