/**
 * Top-k by inner product with DuckDB over local Parquet files. Stored embeddings are
 * L2-normalised, so the inner product with a unit query is the cosine similarity.
 *
 * Measured with bench/search-bench.ts: parquet-wasm decodes the FixedSizeList embedding column
 * at ~20,000 rows/s (one thread, nested-list levels decoded per element), i.e. ~50 s for a
 * million rows; DuckDB's native reader does the same query within the 2 s budget, so search
 * runs on DuckDB and keeps only `ORDER BY … LIMIT k` rows (its top-N operator is a bounded heap).
 */
import type { SearchHit } from './embedding-scan';

export interface DuckDbSearchOptions {
  k: number;
  /** DuckDB threads. @defaultValue DuckDB's default (one per core) */
  threads?: number;
}

function sqlString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

/** The k rows of `paths` (local Parquet part files) with the highest `embedding · query`. */
export async function duckDbTopK(paths: readonly string[], query: Float32Array, options: DuckDbSearchOptions): Promise<SearchHit[]> {
  if (paths.length === 0) return [];
  if (!Number.isInteger(options.k) || options.k < 1) throw new RangeError(`k must be a positive integer, got ${options.k}`);
  for (const value of query) if (!Number.isFinite(value)) throw new RangeError('the query vector has a non-finite value');
  const dim = query.length;
  // Loaded here, not at the top: importing DuckDB costs ~0.2–0.3 s, which every other user of
  // this library (the default search engine, the CLI's start) would pay for nothing.
  const { DuckDBInstance } = await import('@duckdb/node-api');
  const db = await DuckDBInstance.create(':memory:', options.threads ? { threads: String(options.threads) } : {});
  const connection = await db.connect();
  try {
    const files = `[${paths.map(sqlString).join(', ')}]`;
    // Float32 values printed with 9 significant digits round-trip exactly.
    const literal = `[${Array.from(query, (v) => v.toPrecision(9)).join(',')}]::FLOAT[${dim}]`;
    const reader = await connection.runAndReadAll(
      `SELECT uri, array_inner_product(embedding::FLOAT[${dim}], ${literal})::DOUBLE AS score ` +
        `FROM read_parquet(${files}) ORDER BY score DESC, uri LIMIT ${options.k}`,
    );
    const rows = reader.getRowObjectsJS() as Array<{ uri: string; score: number }>;
    return rows.map((row) => ({ uri: row.uri, score: row.score }));
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}
