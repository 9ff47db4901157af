import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

/** Bytes of the files under `path` (recursively) whose names `match`; 0 when it does not exist. */
export function bytesUnder(path: string, match: (name: string) => boolean = () => true): number {
  let total = 0;
  let entries;
  try {
    entries = readdirSync(path, { withFileTypes: true });
  } catch {
    return 0;
  }
  for (const entry of entries) {
    const full = join(path, entry.name);
    if (entry.isDirectory()) total += bytesUnder(full, match);
    else if (match(entry.name)) total += statSync(full).size;
  }
  return total;
}

/** Bytes of the processed index: the output's `_index/` and the runs' own `<run>/_index/` (contributions). */
export function indexBytesOf(root: string): { output: number; runs: number; total: number } {
  const output = bytesUnder(join(root, '_index'));
  let runs = 0;
  for (const entry of readdirSync(root, { withFileTypes: true })) {
    if (entry.isDirectory() && !entry.name.startsWith('_')) runs += bytesUnder(join(root, entry.name, '_index'));
  }
  return { output, runs, total: output + runs };
}
