/**
 * `_cancelled.json` in a run's folder: the store's record that a run was cancelled. Redis decides
 * (the cancel wins there, atomically, before the finaliser's commit point); this marker is what
 * remains once Redis has forgotten the run (records expire after a run ends), so that `status
 * --out` still says `cancelled` and enqueuing the run again is refused. A run never has both it
 * and `_manifest.json`.
 */
import { z } from 'zod';
import { getJson, putJson } from '@siglip-batch/io';
import type { RunFolder } from '@siglip-batch/run-format';

export const CANCEL_MARKER_KEY = '_cancelled.json';

const cancelMarkerSchema = z.object({
  runId: z.string(),
  cancelledAt: z.string(),
  reason: z.string(),
});
export type CancelMarker = z.infer<typeof cancelMarkerSchema>;

export function writeCancelMarker(folder: RunFolder, marker: Omit<CancelMarker, 'runId'>): Promise<void> {
  return putJson(folder.store, folder.keyOf(CANCEL_MARKER_KEY), { runId: folder.runId, ...marker }, cancelMarkerSchema);
}

export function readCancelMarker(folder: RunFolder): Promise<CancelMarker | undefined> {
  return getJson(folder.store, folder.keyOf(CANCEL_MARKER_KEY), cancelMarkerSchema);
}
