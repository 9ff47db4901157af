import { createRequire } from 'node:module';
import type * as ArrowModule from 'apache-arrow';
import { describe, expect, it } from 'vitest';
import { Arrow, preloadArrow, useSingleFileArrow } from './lazy-arrow';

const require = createRequire(import.meta.url);

/** A table with the column types the libraries' Parquet files use, built with one instance. */
function sampleIpc(A: typeof ArrowModule): Uint8Array {
  const embedding = new A.FixedSizeList(3, new A.Field('item', new A.Float32(), false));
  const tags = new A.List(new A.Field('item', new A.Utf8(), true));
  const table = new A.Table({
    key: A.vectorFromArray(['a.jpg', 'b.png', 'ü/c.webp'], new A.Utf8()),
    size: A.vectorFromArray([1n, 2n ** 40n, 0n], new A.Int64()),
    ok: A.vectorFromArray([true, false, true], new A.Bool()),
    score: A.vectorFromArray([0.5, -1.25, Number.NaN], new A.Float32()),
    at: A.vectorFromArray([0, 1_700_000_000_000, 86_400_000], new A.TimestampMillisecond()),
    tags: A.vectorFromArray([['cat'], [], null], tags),
    embedding: A.makeVector(A.makeData({ type: embedding, length: 3, nullCount: 0, child: A.makeData({ type: new A.Float32(), data: Float32Array.of(1, 2, 3, 4, 5, 6, 7, 8, 9) }) })),
  });
  return A.tableToIPC(table, 'stream');
}

describe('apache-arrow, loaded lazily', () => {
  it("loads the one-file build when asked before first use: the same bytes as the package's main, read back by either", () => {
    useSingleFileArrow();
    preloadArrow();
    const singleFile = require('apache-arrow/Arrow.esnext.min') as typeof ArrowModule;
    const main = require('apache-arrow') as typeof ArrowModule;
    expect(Arrow.Table).toBe(singleFile.Table);
    expect(Arrow.Table).not.toBe(main.Table);
    const bytes = sampleIpc(Arrow);
    expect(Buffer.from(bytes).equals(Buffer.from(sampleIpc(main)))).toBe(true);
    expect(main.tableFromIPC(bytes).getChild('key')?.toArray()).toEqual(['a.jpg', 'b.png', 'ü/c.webp']);
  });
});
