import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import { Arrow } from './lazy-arrow';
import { parquet, preloadParquet } from './lazy-parquet';

describe('lazy parquet-wasm', () => {
  it('is the one CommonJS instance of the package, whose values and types it passes through', () => {
    preloadParquet();
    const loaded = createRequire(import.meta.url)('parquet-wasm') as typeof parquet;
    expect(parquet.Table).toBe(loaded.Table);
    expect(parquet.Compression.ZSTD).toBe(loaded.Compression.ZSTD);
    const table = Arrow.tableFromArrays({ n: Int32Array.of(1, 2, 3) });
    const properties: parquet.WriterProperties = new parquet.WriterPropertiesBuilder().build();
    const bytes = parquet.writeParquet(parquet.Table.fromIPCStream(Arrow.tableToIPC(table, 'stream')), properties);
    const back = Arrow.tableFromIPC(parquet.readParquet(bytes).intoIPCStream());
    expect(back.getChild('n')?.toArray()).toEqual(Int32Array.of(1, 2, 3));
  });
});
