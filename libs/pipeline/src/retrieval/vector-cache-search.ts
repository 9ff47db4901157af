/**
 * A query over a {@link VectorCacheEntry}: blocks of `vectors.f32` read into one reused buffer,
 * scored by onnxruntime's MatMul (see onnx-dot.ts), a bounded top-k heap of row numbers; URIs
 * are looked up for the k winners only.
 */
import { open, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DotProductSession } from './onnx-dot';
import type { SearchHit } from './embedding-scan';
import { TopK } from './top-k';
import type { VectorCacheEntry } from './vector-cache';

export interface VectorSearchOptions {
  k: number;
  /** Rows scored per MatMul. @defaultValue 32768 (144 MiB at 1,152 dimensions) */
  blockRows?: number;
  /** onnxruntime intra-op threads. @defaultValue one per core */
  threads?: number;
}

export async function searchVectorCache(entry: VectorCacheEntry, query: Float32Array, options: VectorSearchOptions): Promise<SearchHit[]> {
  const { rows, dim } = entry;
  if (query.length !== dim) throw new Error(`the query has ${query.length} dimensions, the run ${dim}`);
  const blockRows = Math.max(1, Math.min(options.blockRows ?? 32768, rows || 1));
  const top = new TopK<number>(options.k);
  const session = await DotProductSession.create(dim, 'float32', options.threads);
  const file = await open(join(entry.dir, 'vectors.f32'), 'r');
  try {
    // Two buffers: the next block is read while the current one is scored.
    const buffers = [new Float32Array(blockRows * dim), new Float32Array(blockRows * dim)];
    const read = async (first: number, buffer: Float32Array): Promise<number> => {
      const count = Math.min(blockRows, rows - first);
      const bytes = new Uint8Array(buffer.buffer, 0, count * dim * 4);
      let done = 0;
      while (done < bytes.length) {
        const { bytesRead } = await file.read(bytes, done, bytes.length - done, first * dim * 4 + done);
        if (bytesRead === 0) throw new Error(`${entry.dir}/vectors.f32 is shorter than its ${rows} rows`);
        done += bytesRead;
      }
      return count;
    };
    let pending = rows > 0 ? read(0, buffers[0]!) : undefined;
    for (let first = 0, turn = 0; first < rows; first += blockRows, turn ^= 1) {
      const count = await pending!;
      const next = first + blockRows;
      pending = next < rows ? read(next, buffers[turn ^ 1]!) : undefined;
      const scores = await session.scores(buffers[turn]!, count, query);
      for (let r = 0; r < count; r++) {
        const score = scores[r]!;
        if (score > top.threshold) top.offer(score, () => first + r);
      }
    }
  } finally {
    await file.close();
    await session.close();
  }
  const winners = top.sorted();
  const wanted = new Map(winners.map((w) => [w.item, '']));
  const lines = (await readFile(join(entry.dir, 'uris.txt'), 'utf8')).split('\n');
  for (const row of wanted.keys()) wanted.set(row, lines[row]!);
  return winners.map((w) => ({ uri: wanted.get(w.item)!, score: w.score }));
}
