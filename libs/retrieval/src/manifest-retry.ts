/**
 * Readers of a finished run and `compact`: `compact` switches the manifest to merged files and
 * deletes the replaced ones only after a grace period (run-compactor.ts), so a reader that
 * started before a compaction normally finds every file its manifest lists. One that takes
 * longer than the grace, or meets a compaction run with no grace, finds a file gone: it then
 * re-reads the manifest and, when the manifest has been rewritten meanwhile (compacted or
 * finalised again), starts over once on the new one. A failure with an unchanged manifest is a
 * real one and is thrown as it is.
 */
import type { RunFolder } from '@siglip-batch/run-format';
import type { RunManifest } from '@siglip-batch/jobs';

export interface ManifestRetryOptions {
  /** Called before the second attempt (e.g. to remove what the first one wrote). */
  onRetry?(error: Error, current: RunManifest): void | Promise<void>;
}

export async function withManifestRetry<T>(
  folder: RunFolder,
  manifest: RunManifest,
  read: (manifest: RunManifest) => Promise<T>,
  options: ManifestRetryOptions = {},
): Promise<T> {
  try {
    return await read(manifest);
  } catch (error) {
    const current = await folder.readManifest().catch(() => undefined);
    if (!current || versionOf(current) === versionOf(manifest)) throw error;
    await options.onRetry?.(error as Error, current);
    return read(current);
  }
}

/** What changes when a manifest is rewritten: its finalisation and its compaction. */
function versionOf(manifest: RunManifest): string {
  return JSON.stringify([manifest.runId, manifest.timings.finalizedAt, manifest.compaction?.compactedAt ?? null]);
}
