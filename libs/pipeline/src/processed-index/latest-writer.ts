/**
 * `siglip-batch latest`: the newest embedded row of every object across an output's runs, from
 * the processed index (one entry per uri and model, newest run) and the part files it points
 * to. One set of files per model and decode mode (`_latest/<model hash>[-fast-<gap>]-<n>.parquet`,
 * embedding widths differ between models), listed by `_latest/_latest.json`, which is written after them; files of an
 * earlier `latest` are deleted only after that.
 *
 * Memory: the index is streamed in uri order (all partitions merged, one record batch per open
 * segment) and taken in windows of at most `chunkEntries` entries, grouped by model and file;
 * each window's files are read, its rows sorted by uri and appended to the model's output file,
 * which is written as they come (one row group at a time, a new file every `chunkRows` rows),
 * before the next window is taken. A shard of a sorted listing holds a contiguous uri range, so
 * each of its files falls in one window (two at a boundary) and is read about once. (Windows per
 * hash partition would read every file once per partition: a shard's uris are spread over all of
 * them.) Nothing held grows with the index: one window of entries and of the rows they point to,
 * and one row group being written per model.
 */
import { z } from 'zod';
import { compareKeys, encodeLatestFileStream, getJson, putJson, type LatestRowsInput, type ObjectStore } from '@siglip-batch/io';
import { RunFolder, readPartRows } from '@siglip-batch/run-format';
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
  /** Rows per output file (written as they come, in row groups of 8192). @defaultValue 500000 */
  chunkRows?: number;
  /** Index entries taken (and their files read) at a time: the window. @defaultValue 16384 */
  chunkEntries?: number;
}

type Rows = Awaited<ReturnType<typeof readPartRows>>;
/** One output row: row `index` of a part file read in the current window. */
interface Row {
  rows: Rows;
  index: number;
  uri: string;
  run: string;
  finalizedAt: string;
}

export async function writeLatest(output: { store: ObjectStore; prefix: string }, options: WriteLatestOptions = {}): Promise<LatestPointer> {
  const { store, prefix } = output;
  const index = new ProcessedIndex(output);
  // Index entries keep the file names of a run's first manifest; `compact` may have merged
  // them since: the run's manifest maps them to the file that holds the rows now. One map per
  // run (runs, not objects).
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
  const chunkRows = options.chunkRows ?? 500_000;
  const windowEntries = options.chunkEntries ?? 16_384;
  // The output file being written of each model key.
  const writers = new Map<string, LatestFileWriter>();
  const n = new Map<string, number>();
  const close = async (modelHash: string) => {
    const writer = writers.get(modelHash);
    if (!writer) return;
    writers.delete(modelHash);
    await writer.close();
    files.push({ key: writer.key, modelHash, rows: writer.rows });
  };
  /** Appends a window's rows of one model, sorted by uri, to its output file. */
  const append = async (modelHash: string, rows: Row[]) => {
    if (rows.length === 0) return;
    rows.sort((a, b) => compareKeys(a.uri, b.uri));
    for (let at = 0; at < rows.length; ) {
      let writer = writers.get(modelHash);
      if (!writer) {
        const number = n.get(modelHash) ?? 0;
        n.set(modelHash, number + 1);
        writer = new LatestFileWriter(store, prefix, latestKey(modelHash, stamp, number), modelHash, rows[0]!.rows.dim);
        writers.set(modelHash, writer);
      }
      const take = rows.slice(at, at + Math.min(LATEST_BATCH, chunkRows - writer.rows));
      await writer.append(take);
      at += take.length;
      if (writer.rows >= chunkRows) await close(modelHash);
    }
  };
  // The window: model key → "run\0file" → uri → finalizedAt, at most `windowEntries` entries.
  let wanted = new Map<string, Map<string, Map<string, string>>>();
  let wantedEntries = 0;
  /** Reads the files of the window, and appends their wanted rows. */
  const drain = async () => {
    for (const [modelHash, byFile] of wanted) {
      const rows: Row[] = [];
      for (const [fileId, uris] of byFile) {
        const [run, file] = fileId.split('\0') as [string, string];
        const read = await readRunFile(run, file);
        read.uri.forEach((uri, index) => {
          const finalizedAt = uris.get(uri);
          if (finalizedAt !== undefined) rows.push({ rows: read, index, uri, run, finalizedAt });
        });
      }
      await append(modelHash, rows);
    }
    wanted = new Map();
    wantedEntries = 0;
  };
  const indexGeneration = await index.generation();
  try {
    for await (const entry of index.entries()) {
      if (entry.status !== 'ok') continue;
      let byFile = wanted.get(entry.modelHash);
      if (!byFile) wanted.set(entry.modelHash, (byFile = new Map()));
      const fileId = `${entry.run}\0${await (await fileMapOf(entry.run))(entry.file)}`;
      let uris = byFile.get(fileId);
      if (!uris) byFile.set(fileId, (uris = new Map()));
      uris.set(entry.uri, entry.finalizedAt);
      if (++wantedEntries >= windowEntries) await drain();
    }
    await drain();
    for (const modelHash of [...writers.keys()]) await close(modelHash);
  } finally {
    for (const writer of writers.values()) await writer.close().catch(() => undefined);
  }
  const pointer: LatestPointer = {
    schemaVersion: 1,
    files,
    rows: files.reduce((total, f) => total + f.rows, 0),
    indexGeneration,
    updatedAt: new Date().toISOString(),
  };
  await putJson(store, `${prefix}${LATEST_DIR}_latest.json`, pointer, latestPointerSchema);
  const kept = new Set(files.map((f) => f.key));
  for (const file of previous?.files ?? []) if (!kept.has(file.key)) await store.delete(`${prefix}${file.key}`);
  return pointer;
}

/** Rows handed to a file's writer at a time (one row group). */
const LATEST_BATCH = 8192;

/** `_latest/<hash16>[-fast-<gap>]-<stamp>-<n>.parquet`: exact and fast-decoded rows of one model go to files of their own. */
function latestKey(modelHash: string, stamp: string, number: number): string {
  const model = splitModelKey(modelHash);
  const name = model.decode.mode === 'exact' ? model.modelHash.slice(0, 16) : `${model.modelHash.slice(0, 16)}-fast-${model.decode.reducingGap}`;
  return `${LATEST_DIR}${name}-${stamp}-${String(number).padStart(5, '0')}.parquet`;
}

/**
 * One output file, written while rows are appended (libs/io `encodeLatestFileStream`): an append
 * waits until the writer has taken the previous batch, so at most one batch waits.
 */
class LatestFileWriter {
  rows = 0;
  private readonly handover = new Handover<LatestRowsInput>();
  private readonly put: Promise<void>;

  constructor(
    store: ObjectStore,
    prefix: string,
    readonly key: string,
    modelHash: string,
    private readonly dim: number,
  ) {
    const model = splitModelKey(modelHash);
    const bytes = encodeLatestFileStream(this.handover, { 'siglip_batch.model.hash': model.modelHash, 'siglip_batch.decode': JSON.stringify(model.decode) }, dim);
    this.put = store.put(`${prefix}${key}`, bytes, { contentType: 'application/vnd.apache.parquet' });
    // Failures are raised by append and close.
    this.put.catch(() => undefined);
  }

  async append(rows: Row[]): Promise<void> {
    const dim = this.dim;
    const embedding = new Float32Array(rows.length * dim);
    rows.forEach((r, i) => {
      if (r.rows.dim !== dim) throw new Error(`${r.run}: embeddings of ${r.rows.dim} values in a file of ${dim}`);
      embedding.set(r.rows.embedding.subarray(r.index * dim, (r.index + 1) * dim), i * dim);
    });
    const input: LatestRowsInput = {
      rowId: rows.map((r) => r.rows.rowId?.[r.index] ?? null),
      uri: rows.map((r) => r.uri),
      etag: rows.map((r) => r.rows.etag[r.index] ?? null),
      sizeBytes: rows.map((r) => Number(r.rows.sizeBytes[r.index] ?? 0)),
      sha256: rows.map((r) => r.rows.sha256[r.index]!),
      width: rows.map((r) => Number(r.rows.width[r.index] ?? 0)),
      height: rows.map((r) => Number(r.rows.height[r.index] ?? 0)),
      embedding,
      tags: rows.map((r) => r.rows.tags?.[r.index] ?? []),
      run: rows.map((r) => r.run),
      finalizedAt: rows.map((r) => r.finalizedAt),
    };
    await this.handover.give(input, this.put);
    this.rows += rows.length;
  }

  async close(): Promise<void> {
    this.handover.end();
    await this.put;
  }
}

/** A one-slot hand-over from a producer to a pulling consumer (the Parquet writer). */
class Handover<T> implements AsyncIterable<T> {
  private slot: T | undefined;
  private ended = false;
  private wakeTaker: (() => void) | undefined;
  private wakeGiver: (() => void) | undefined;

  /** Waits until the slot is free (or `consumer` settles: it failed, or ended early), then fills it. */
  async give(value: T, consumer: Promise<unknown>): Promise<void> {
    const gone = consumer.then(
      () => Promise.reject(new Error('the writer ended before its input')),
      (error: unknown) => Promise.reject(error),
    );
    gone.catch(() => undefined);
    while (this.slot !== undefined) await Promise.race([new Promise<void>((wake) => (this.wakeGiver = wake)), gone]);
    this.slot = value;
    this.wakeTaker?.();
  }

  end(): void {
    this.ended = true;
    this.wakeTaker?.();
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<T> {
    for (;;) {
      while (this.slot === undefined && !this.ended) await new Promise<void>((wake) => (this.wakeTaker = wake));
      if (this.slot === undefined) return;
      const value = this.slot;
      this.slot = undefined;
      this.wakeGiver?.();
      yield value;
    }
  }
}
