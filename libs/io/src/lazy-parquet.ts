import { createRequire } from 'node:module';
import type * as ParquetModule from 'parquet-wasm';
import { Arrow } from './lazy-arrow';

const requireParquet = createRequire(import.meta.url);
let loaded: typeof ParquetModule | undefined;
const PARQUET_BUILD = 'parquet-wasm';

function load(): typeof ParquetModule {
  return (loaded ??= requireParquet(PARQUET_BUILD) as typeof ParquetModule);
}

/**
 * parquet-wasm, loaded on first use rather than at import. Its node build compiles its
 * WebAssembly module synchronously when it is loaded (50–150 ms), and importing it eagerly put
 * that before the command had even read its arguments. `require` resolves the package's `node`
 * export, the same CommonJS instance `import … from 'parquet-wasm'` would load. Used as the
 * module namespace was: `parquet.Table.fromIPCStream(…)`, `parquet.RecordBatch` as a type.
 */
export const parquet: typeof ParquetModule = new Proxy({} as typeof ParquetModule, {
  get: (_target, key) => load()[key as keyof typeof ParquetModule],
});

/** The module's types under the same name as the value above, for `parquet.RecordBatch` and the like. */
// eslint-disable-next-line @typescript-eslint/no-namespace
export declare namespace parquet {
  export type RecordBatch = ParquetModule.RecordBatch;
  export type ParquetFile = ParquetModule.ParquetFile;
  export type Table = ParquetModule.Table;
  export type WriterProperties = ParquetModule.WriterProperties;
  export type WriterPropertiesBuilder = ParquetModule.WriterPropertiesBuilder;
}

/**
 * Loads parquet-wasm and writes a one-row table with it, for a process that will write Parquet
 * and has idle time before it does (its model's threads starting). V8 compiles a wasm function
 * when it is first called, and the run's first write (labels.parquet) paid 60–90 ms for the
 * reader of Arrow IPC and the writer's functions; paid here, it overlaps the sessions' load.
 * Loads apache-arrow too (the table is built with it).
 */
export function preloadParquet(): void {
  const wasm = load();
  const table = Arrow.tableFromArrays({ name: ['x'], value: Float32Array.of(0), count: BigInt64Array.of(0n) });
  const properties = new wasm.WriterPropertiesBuilder().setCompression(wasm.Compression.ZSTD).setDictionaryEnabled(false).build();
  wasm.writeParquet(wasm.Table.fromIPCStream(Arrow.tableToIPC(table, 'stream')), properties);
}
