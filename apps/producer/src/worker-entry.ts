import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the worker app's entry script is: `SIGLIP_BATCH_WORKER_ENTRY` when set, else the
 * bundle beside ours (dist/apps/worker/main.mjs, as in the container images), else the
 * worker app's bin in a source checkout (apps/worker/bin). The worker is started as a
 * process, never imported: apps do not import each other.
 */
export function resolveWorkerEntry(): string {
  const fromEnv = process.env['SIGLIP_BATCH_WORKER_ENTRY'];
  if (fromEnv) return fromEnv;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', 'worker', 'main.mjs'), // dist/apps/producer/main.mjs → dist/apps/worker/main.mjs
    join(here, '..', '..', 'worker', 'bin', 'siglip-batch-worker.mjs'), // apps/producer/src → apps/worker/bin
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      `cannot find the worker app (looked for ${candidates.join(', ')}): set SIGLIP_BATCH_WORKER_ENTRY to its entry script`,
    );
  }
  return found;
}
