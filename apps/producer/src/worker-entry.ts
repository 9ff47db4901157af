import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the worker app's entry script is: `SIGLIP_BATCH_WORKER_ENTRY` when set, else, in a source
 * checkout, the worker app's bin (apps/worker/bin: it runs the worker's bundle when current, else
 * its sources), else the bundle beside ours (dist/apps/worker/main.mjs: the installed package, the
 * container images). The worker is started as a process, never imported: apps do not import each
 * other.
 */
export function resolveWorkerEntry(): string {
  const fromEnv = process.env['SIGLIP_BATCH_WORKER_ENTRY'];
  if (fromEnv) return fromEnv;
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [
    join(here, '..', '..', 'worker', 'bin', 'siglip-batch-worker.mjs'), // apps/producer/src → apps/worker/bin
    join(here, '..', '..', '..', 'apps', 'worker', 'bin', 'siglip-batch-worker.mjs'), // dist/apps/producer → apps/worker/bin
    join(here, '..', 'worker', 'main.mjs'), // dist/apps/producer → dist/apps/worker/main.mjs
  ];
  const found = candidates.find((path) => existsSync(path));
  if (!found) {
    throw new Error(
      `cannot find the worker app (looked for ${candidates.join(', ')}): set SIGLIP_BATCH_WORKER_ENTRY to its entry script`,
    );
  }
  return found;
}
