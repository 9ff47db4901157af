/**
 * A local, flat copy of a run's embeddings for fast search: `vectors.f32` (rows × D float32,
 * little-endian, row-major, in manifest order) and `uris.txt` (one URI per line, same order).
 *
 * Why: decoding the Parquet `embedding` column (a FixedSizeList, i.e. a repeated field whose
 * levels are decoded per element) runs at ~20,000–26,000 rows/s on this machine in both
 * parquet-wasm and DuckDB (bench/search-bench.ts), ~40–50 s for a million 1,152-d rows. A query
 * must take ≤ 2 s, so the manifest's parts are streamed through once (record batches) into this
 * cache, and every later query reads flat blocks and scores them with onnxruntime's MatMul.
 *
 * An entry is named after the run folder and its manifest's content, so a rewritten manifest
 * (compaction, a re-run) gets a new entry; it is built in a temp dir and renamed into place.
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, open, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import * as arrow from 'apache-arrow';
import { readParquetBatches, type RunFolder } from '@siglip-batch/io';
import type { RunManifest } from '@siglip-batch/jobs';

export interface VectorCacheEntry {
  dir: string;
  rows: number;
  dim: number;
  /** False when the entry was already there. */
  built: boolean;
}

export function defaultSearchCacheRoot(env: NodeJS.ProcessEnv = process.env): string {
  const base = env['SIGLIP_BATCH_CACHE']?.trim();
  return base ? join(base, 'search') : join(homedir(), '.cache', 'siglip-batch', 'search');
}

export function vectorCacheKey(folderUri: string, manifest: RunManifest): string {
  return createHash('sha256').update(folderUri).update('\0').update(JSON.stringify(manifest)).digest('hex').slice(0, 32);
}

const META = 'meta.json';

/** The cache entry of a run, built from the manifest's part files when missing. */
export async function ensureVectorCache(
  folder: RunFolder,
  manifest: RunManifest,
  options: { root?: string; onProgress?(rows: number): void } = {},
): Promise<VectorCacheEntry> {
  const root = options.root ?? defaultSearchCacheRoot();
  const dir = join(root, vectorCacheKey(folder.uriOf(''), manifest));
  const existing = await readMeta(dir);
  if (existing) return { dir, ...existing, built: false };
  await mkdir(root, { recursive: true });
  const temp = await mkdtemp(join(root, '.build-'));
  try {
    const dim = manifest.embeddingDim;
    const vectors = await open(join(temp, 'vectors.f32'), 'w');
    const uris = await open(join(temp, 'uris.txt'), 'w');
    let rows = 0;
    try {
      for (const part of manifest.parts) {
        if (part.rows === 0) continue;
        const blob = await folder.store.openBlob(folder.keyOf(part.key));
        for await (const batch of readParquetBatches(blob, { columns: ['uri', 'embedding'], batchSize: 8192 })) {
          const lines: string[] = [];
          const uriColumn = batch.getChild('uri')!;
          for (let i = 0; i < batch.numRows; i++) {
            const uri = uriColumn.get(i) as string;
            if (uri.includes('\n')) throw new Error(`a URI with a line break cannot be cached: ${JSON.stringify(uri)}`);
            lines.push(uri);
          }
          await uris.write(`${lines.join('\n')}\n`);
          for (const data of batch.getChild('embedding')!.data) {
            const type = data.type as arrow.FixedSizeList;
            if (type.listSize !== dim) throw new Error(`${part.key}: embeddings of ${type.listSize} dimensions, the manifest says ${dim}`);
            const child = data.children[0]!;
            const start = child.offset + data.offset * dim;
            const floats = (child.values as Float32Array).subarray(start, start + data.length * dim);
            await vectors.write(new Uint8Array(floats.buffer, floats.byteOffset, floats.byteLength));
          }
          rows += batch.numRows;
          options.onProgress?.(rows);
        }
      }
    } finally {
      await vectors.close();
      await uris.close();
    }
    await writeFile(join(temp, META), JSON.stringify({ rows, dim }));
    try {
      await rename(temp, dir);
    } catch (error) {
      // Built at the same time by another process: use that one.
      const other = await readMeta(dir);
      if (!other) throw error;
      return { dir, ...other, built: false };
    }
    return { dir, rows, dim, built: true };
  } finally {
    await rm(temp, { recursive: true, force: true });
  }
}

async function readMeta(dir: string): Promise<{ rows: number; dim: number } | undefined> {
  try {
    const meta = JSON.parse(await readFile(join(dir, META), 'utf8')) as { rows: number; dim: number };
    const size = (await stat(join(dir, 'vectors.f32'))).size;
    return size === meta.rows * meta.dim * 4 ? meta : undefined;
  } catch {
    return undefined;
  }
}
