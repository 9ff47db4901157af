import { createRequire } from 'node:module';
import type * as ArrowModule from 'apache-arrow';

const requireArrow = createRequire(import.meta.url);
let loaded: typeof ArrowModule | undefined;
const ARROW_BUILD = 'apache-arrow/Arrow.es2015.min';

/**
 * apache-arrow, loaded on first use rather than at import: it is the largest module of the
 * libraries' start-up (~0.3 s), and commands that never read or write Parquet (`search` with a
 * built cache, `status`, `cancel`, …) never pay for it. Every value use in the libraries goes
 * through this one (CommonJS) instance, so its classes are never mixed with a second copy.
 * Types come from `import type * as arrow from 'apache-arrow'`.
 *
 * The instance is the package's own single-file build (`Arrow.es2015.min.js`, the same sources
 * and version): one file to compile instead of the ~400 CommonJS modules of its `main`, ~60–80
 * ms against ~270–500 ms on the project machine, on the start-up path of every `embed` and
 * worker (labels.parquet is their first write). Nothing here uses its Node-stream adapters.
 */
export const Arrow: typeof ArrowModule = new Proxy({} as typeof ArrowModule, {
  get: (_target, key) => (loaded ??= requireArrow(ARROW_BUILD) as typeof ArrowModule)[key as keyof typeof ArrowModule],
});

/**
 * Loads apache-arrow now, for a process that will write Parquet and has idle time before it
 * does (its model's threads starting): the first write then does not wait ~0.2–0.4 s for it.
 */
export function preloadArrow(): void {
  loaded ??= requireArrow(ARROW_BUILD) as typeof ArrowModule;
}
