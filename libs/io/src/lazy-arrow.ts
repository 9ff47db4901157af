import { createRequire } from 'node:module';
import type * as ArrowModule from 'apache-arrow';

const requireArrow = createRequire(import.meta.url);
let loaded: typeof ArrowModule | undefined;
const ARROW_BUILD = 'apache-arrow';
let build = ARROW_BUILD;

/**
 * apache-arrow, loaded on first use rather than at import: it is the largest module of the
 * libraries' start-up (~0.3 s), and commands that never read or write Parquet (`search` with a
 * built cache, `status`, `cancel`, …) never pay for it. Every value use in the libraries goes
 * through this one (CommonJS) instance, so its classes are never mixed with a second copy.
 * Types come from `import type * as arrow from 'apache-arrow'`.
 *
 * The instance is the package's `main` (CommonJS), the one @lancedb/lancedb loads too: tables
 * built here are handed to LanceDB, which checks them against its own classes. (The package's
 * single-file build, `Arrow.es2015.min.js`, loads ~0.2–0.4 s faster but is a second copy of the
 * classes, and LanceDB then fails to read the tables it is given.)
 */
export const Arrow: typeof ArrowModule = new Proxy({} as typeof ArrowModule, {
  get: (_target, key) => (loaded ??= requireArrow(build) as typeof ArrowModule)[key as keyof typeof ArrowModule],
});

/**
 * Makes this process load the package's single-file build (`Arrow.esnext.min.js`, the same
 * version's code in one file: ~25 ms to load against ~150 ms of CPU for the ~400 files of its
 * `main`), for a process that never hands a table to LanceDB: `embed`, whose start-up loads
 * apache-arrow for its Parquet files. Call it before anything uses {@link Arrow}; once loaded,
 * the instance does not change (this is then a no-op).
 */
export function useSingleFileArrow(): void {
  if (!loaded) build = 'apache-arrow/Arrow.esnext.min';
}

/**
 * Loads apache-arrow now, for a process that will write Parquet and has idle time before it
 * does (its model's threads starting): the first write then does not wait ~0.2–0.4 s for it.
 */
export function preloadArrow(): void {
  loaded ??= requireArrow(build) as typeof ArrowModule;
}
