/**
 * Brute-force nearest neighbours over Parquet part files: record batches streamed through
 * parquet-wasm (`uri` + `embedding` only), one dot product per row against the unit query
 * vector (= cosine similarity, since stored embeddings are L2-normalised), a bounded top-k
 * heap. Memory is one record batch plus k rows, whatever the size of the run.
 */
import type * as arrow from 'apache-arrow';
import { readParquetBatches, vectorFloats, type ParquetSource } from '@siglip-batch/io';
import { TopK } from './top-k';

export interface SearchHit {
  uri: string;
  score: number;
}

export interface ScanOptions {
  k: number;
  /**
   * Rows per record batch.
   * @defaultValue 8192
   */
  batchSize?: number;
  signal?: AbortSignal;
}

export interface ScanResult {
  hits: SearchHit[];
  rows: number;
}

/** Scans `sources` one after another (part files of a run, in manifest order). */
export async function scanEmbeddings(
  sources: AsyncIterable<ParquetSource> | Iterable<ParquetSource>,
  query: Float32Array,
  options: ScanOptions,
): Promise<ScanResult> {
  const top = new TopK<string>(options.k);
  const dim = query.length;
  let rows = 0;
  for await (const source of sources) {
    for await (const batch of readParquetBatches(source, { columns: ['uri', 'embedding'], batchSize: options.batchSize ?? 8192 })) {
      options.signal?.throwIfAborted();
      const uris = batch.getChild('uri')!;
      const vectors = batch.getChild('embedding')!;
      let row = 0;
      for (const data of vectors.data) {
        const type = data.type as arrow.FixedSizeList;
        if (type.listSize !== dim) throw new Error(`the run's embeddings have ${type.listSize} dimensions, the query ${dim}`);
        const values = vectorFloats(data, dim);
        for (let r = 0; r < data.length; r++, row++) {
          const base = r * dim;
          let dot = 0;
          for (let i = 0; i < dim; i++) dot += values[base + i]! * query[i]!;
          const at = row;
          top.offer(dot, () => uris.get(at) as string);
        }
      }
      rows += batch.numRows;
    }
  }
  return { hits: top.sorted().map(({ score, item }) => ({ uri: item, score })), rows };
}
