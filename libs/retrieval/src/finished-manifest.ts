import type { RunManifest } from '@siglip-batch/jobs';
import type { RunFolder } from '@siglip-batch/run-format';

/** The run's manifest, or an error that says the run is not finished (readers trust only it). */
export async function readFinishedManifest(folder: RunFolder): Promise<RunManifest> {
  const manifest = await folder.readManifest();
  if (!manifest) throw new Error(`${folder.uriOf('')} has no _manifest.json: the run is not finalised (or this is not a run folder)`);
  return manifest;
}
