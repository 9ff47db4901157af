import { createRequire } from 'node:module';
import type * as ArrowModule from 'apache-arrow';

const requireArrow = createRequire(import.meta.url);
let loaded: typeof ArrowModule | undefined;

/**
 * apache-arrow, loaded on first use rather than at import: it is the largest module of the
 * libraries' start-up (~0.3 s), and commands that never read or write Parquet (`search` with a
 * built cache, `status`, `cancel`, …) never pay for it. Every value use in the libraries goes
 * through this one (CommonJS) instance, so its classes are never mixed with a second copy.
 * Types come from `import type * as arrow from 'apache-arrow'`.
 */
export const Arrow: typeof ArrowModule = new Proxy({} as typeof ArrowModule, {
  get: (_target, key) => (loaded ??= requireArrow('apache-arrow') as typeof ArrowModule)[key as keyof typeof ArrowModule],
});
