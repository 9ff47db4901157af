/**
 * A local, flat copy of a run's embeddings for fast search, in manifest order:
 *
 * - `vectors.i8` (rows × stride int8, stride = D rounded up to 16) and `scales.f32` (per row: the
 *   int8 scale and the quantisation error norm): the copy every query scans (int8-quantizer.ts);
 * - `vectors.f32` (rows × D float32, little-endian): the exact values, read only for the few
 *   candidate rows the scan cannot rule out, so that printed scores are exact;
 * - `uris.txt` (one URI per line) and `uris.idx` (rows + 1 byte offsets, float64), so that a
 *   query reads the URIs of its hits only.
 *
 * Why: decoding the Parquet `embedding` column (a FixedSizeList, i.e. a repeated field whose
 * levels are decoded per element) runs at ~20,000–26,000 rows/s on this machine in both
 * parquet-wasm and DuckDB (bench/search-bench.ts), ~40–50 s for a million 1,152-d rows. A query
 * must take ≤ 2 s, so the manifest's parts are streamed through once, on the first search, into
 * this cache.
 *
 * An entry lives at `<root>/<hash of the run folder URI>/<hash of the manifest's content and the
 * format>`: a rewritten manifest (compaction, a re-run) names another entry, so a stale copy is
 * never read; building the new one removes the folder's older entries that no search has used
 * for {@link UNUSED_ENTRY_GRACE_MS} (a search of the old manifest may still be between finding
 * its entry and reading it: every use touches `meta.json`). An entry is built in a temp dir and
 * renamed into place, and is only used when every file has the size its `meta.json` implies.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, utimes, writeFile, type FileHandle } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type * as arrow from 'apache-arrow';
import { readParquetBatches, vectorFloats } from '@siglip-batch/io';
import { runFiles, type RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';
import { int8Stride } from './int8-dot-kernel';
import { quantizeRows } from './int8-quantizer';

/** An entry of an older manifest is removed once no search has used it for this long. */
export const UNUSED_ENTRY_GRACE_MS = 3600 * 1000;

/** Bumped whenever the files of an entry change meaning: older entries are then never read. */
const VECTOR_CACHE_FORMAT = 2;

export const VECTOR_CACHE_FILES = {
  meta: 'meta.json',
  vectors: 'vectors.f32',
  codes: 'vectors.i8',
  scales: 'scales.f32',
  uris: 'uris.txt',
  uriIndex: 'uris.idx',
} as const;

export interface VectorCacheEntry {
  dir: string;
  rows: number;
  dim: number;
  /** Values per row of `vectors.i8`. */
  stride: number;
  /** Largest L2 norm of a stored row. */
  maxNorm: number;
  /** False when the entry was already there. */
  built: boolean;
}

interface VectorCacheMeta {
  format: number;
  rows: number;
  dim: number;
  stride: number;
  maxNorm: number;
}

export function defaultSearchCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['SIGLIP_BATCH_CACHE']?.trim();
  return base ? join(base, 'search') : join(homedir(), '.cache', 'siglip-batch', 'search');
}

function sha(...parts: string[]): string {
  const hash = createHash('sha256');
  for (const part of parts) hash.update(part).update('\0');
  return hash.digest('hex').slice(0, 32);
}

/** `<folder hash>/<manifest hash>`: the entry of this manifest of this run folder. */
function vectorCacheKey(folderUri: string, manifest: RunManifest): string {
  return join(sha(folderUri), sha(`format ${VECTOR_CACHE_FORMAT}`, JSON.stringify(manifest)));
}

export interface EnsureVectorCacheOptions {
  /** @defaultValue see defaultSearchCacheRoot */
  root?: string;
  onProgress?(rows: number): void;
}

/** The cache entry of a run, built from the manifest's part files when missing. */
export async function ensureVectorCache(folder: RunFolder, manifest: RunManifest, options: EnsureVectorCacheOptions = {}): Promise<VectorCacheEntry> {
  const root = options.root ?? defaultSearchCacheRoot();
  const key = vectorCacheKey(folder.uriOf(''), manifest);
  const dir = join(root, key);
  const existing = await readMeta(dir);
  if (existing) {
    // In use: not removed by a build of a newer manifest's entry for a while.
    const now = new Date();
    await utimes(join(dir, VECTOR_CACHE_FILES.meta), now, now).catch(() => undefined);
    return entryOf(dir, existing, false);
  }
  const folderDir = join(root, key.split('/')[0]!);
  await mkdir(folderDir, { recursive: true });
  const temp = await mkdtemp(join(folderDir, '.build-'));
  try {
    const meta = await buildEntry(temp, folder, manifest, options.onProgress);
    try {
      await rename(temp, dir);
    } catch {
      // Built at the same time by another process: use that one. Otherwise what is there is a
      // damaged entry (a file cut short, an interrupted removal): it is replaced.
      const other = await readMeta(dir);
      if (other) return entryOf(dir, other, false);
      await rm(dir, { recursive: true, force: true });
      await rename(temp, dir);
    }
    await removeOlderEntries(folderDir, dir);
    return entryOf(dir, meta, true);
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

function entryOf(dir: string, meta: VectorCacheMeta, built: boolean): VectorCacheEntry {
  return { dir, rows: meta.rows, dim: meta.dim, stride: meta.stride, maxNorm: meta.maxNorm, built };
}

async function buildEntry(temp: string, folder: RunFolder, manifest: RunManifest, onProgress?: (rows: number) => void): Promise<VectorCacheMeta> {
  const dim = manifest.embeddingDim;
  const stride = int8Stride(dim);
  const files: FileHandle[] = [];
  const create = async (name: string) => {
    const handle = await open(join(temp, name), 'w');
    files.push(handle);
    return handle;
  };
  let rows = 0;
  let maxNorm = 0;
  try {
    const vectors = await create(VECTOR_CACHE_FILES.vectors);
    const codes = await create(VECTOR_CACHE_FILES.codes);
    const scales = await create(VECTOR_CACHE_FILES.scales);
    const uris = await create(VECTOR_CACHE_FILES.uris);
    const offsets: number[] = [0];
    let offset = 0;
    let listed = 0;
    for await (const part of runFiles(folder, manifest, { kind: 'part' })) {
      listed += part.rows;
      if (part.rows === 0) continue;
      const blob = await folder.store.openBlob(folder.keyOf(part.key));
      for await (const batch of withFileContext(folder.uriOf(part.key), readParquetBatches(blob, { columns: ['uri', 'embedding'], batchSize: 8192 }))) {
        const lines: string[] = [];
        const uriColumn = batch.getChild('uri')!;
        for (let i = 0; i < batch.numRows; i++) {
          const uri = uriColumn.get(i) as string;
          if (uri.includes('\n')) throw new Error(`a URI with a line break cannot be cached: ${JSON.stringify(uri)}`);
          lines.push(uri);
          offset += Buffer.byteLength(uri) + 1;
          offsets.push(offset);
        }
        await uris.write(`${lines.join('\n')}\n`);
        for (const data of batch.getChild('embedding')!.data) {
          const type = data.type as arrow.FixedSizeList;
          if (type.listSize !== dim) throw new Error(`${part.key}: embeddings of ${type.listSize} dimensions, the manifest says ${dim}`);
          // float16 runs are cast to float32 here (the cache holds float32 either way).
          const floats = vectorFloats(data, dim);
          const quantized = quantizeRows(floats, data.length, dim, stride);
          maxNorm = Math.max(maxNorm, quantized.maxNorm);
          await vectors.write(bytesOf(floats));
          await codes.write(bytesOf(quantized.codes));
          await scales.write(bytesOf(quantized.scales));
        }
        rows += batch.numRows;
        onProgress?.(rows);
      }
    }
    if (rows !== listed) {
      throw new Error(`the part files of ${folder.uriOf('')} hold ${rows} rows, its manifest lists ${listed}`);
    }
    await writeFile(join(temp, VECTOR_CACHE_FILES.uriIndex), bytesOf(Float64Array.from(offsets)));
  } finally {
    await Promise.all(files.map((file) => file.close()));
  }
  const meta: VectorCacheMeta = { format: VECTOR_CACHE_FORMAT, rows, dim, stride, maxNorm };
  await writeFile(join(temp, VECTOR_CACHE_FILES.meta), JSON.stringify(meta));
  return meta;
}

/** Read errors that do not say which file (a local file gone: "The blob could not be read") get its URI. */
async function* withFileContext<T>(uri: string, batches: AsyncGenerator<T>): AsyncGenerator<T> {
  try {
    yield* batches;
  } catch (error) {
    const message = (error as Error).message ?? String(error);
    if (message.includes(uri)) throw error;
    throw new Error(`${uri}: ${message}`, { cause: error });
  }
}

function bytesOf(view: ArrayBufferView): Uint8Array {
  return new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
}

/**
 * Entries of the same run folder for other manifests (or formats) are never found again by a
 * new search; one still in use by a search that found it earlier is left until unused.
 */
async function removeOlderEntries(folderDir: string, keep: string): Promise<void> {
  const before = Date.now() - UNUSED_ENTRY_GRACE_MS;
  for (const name of await readdir(folderDir)) {
    // Dot-names are builds in progress (this process's is already renamed).
    if (name.startsWith('.') || join(folderDir, name) === keep) continue;
    const usedAt = await stat(join(folderDir, name, VECTOR_CACHE_FILES.meta)).then((s) => s.mtimeMs, () => 0);
    if (usedAt > before) continue;
    await rm(join(folderDir, name), { recursive: true, force: true });
  }
}

async function readMeta(dir: string): Promise<VectorCacheMeta | undefined> {
  let meta: VectorCacheMeta;
  try {
    meta = JSON.parse(await readFile(join(dir, VECTOR_CACHE_FILES.meta), 'utf8')) as VectorCacheMeta;
  } catch {
    return undefined;
  }
  if (meta.format !== VECTOR_CACHE_FORMAT) return undefined;
  const expected: Array<[string, number]> = [
    [VECTOR_CACHE_FILES.vectors, meta.rows * meta.dim * 4],
    [VECTOR_CACHE_FILES.codes, meta.rows * meta.stride],
    [VECTOR_CACHE_FILES.scales, meta.rows * 8],
    [VECTOR_CACHE_FILES.uriIndex, (meta.rows + 1) * 8],
  ];
  for (const [name, size] of expected) {
    const actual = await stat(join(dir, name)).then((s) => s.size, () => -1);
    if (actual !== size) return undefined;
  }
  return meta;
}
