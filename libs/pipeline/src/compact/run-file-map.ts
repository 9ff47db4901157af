/**
 * After `compact`, the files a run listed before are gone: references kept elsewhere (the
 * processed index's entries name a run and a file) are mapped through the manifest's
 * `compaction.replaced` to the file that holds those rows now.
 */
import type { RunManifest } from '@siglip-batch/jobs';

export type RunFileMap = (key: string) => string;

export function runFileMap(manifest: Pick<RunManifest, 'compaction'>): RunFileMap {
  const replaced = new Map((manifest.compaction?.replaced ?? []).map((entry) => [entry.key, entry.into]));
  return (key) => replaced.get(key) ?? key;
}
