import { basename, dirname } from 'node:path';
import { RunFolder, openLocation, parseLocation, type S3Options } from '@siglip-batch/io';
import { assertRunId, type RunManifest } from '@siglip-batch/jobs';

/**
 * A run folder named by its own URI (`s3://bucket/out/run-a/`, `/data/out/run-a`): the output
 * root is its parent, the run id its last segment. Close `folder.store` when done.
 */
export function openRunFolderUri(uri: string, s3: S3Options = {}): RunFolder {
  const location = parseLocation(uri);
  if (location.kind === 's3') {
    const path = location.prefix.replace(/\/+$/, '');
    const slash = path.lastIndexOf('/');
    const runId = assertRunId(path.slice(slash + 1));
    const parent = slash === -1 ? '' : path.slice(0, slash + 1);
    const { store, prefix } = openLocation(`s3://${location.bucket}/${parent}`, s3);
    return new RunFolder({ store, prefix }, runId);
  }
  const runId = assertRunId(basename(location.root));
  const { store, prefix } = openLocation(dirname(location.root), s3);
  return new RunFolder({ store, prefix }, runId);
}

/** The run's manifest, or an error that says the run is not finished (readers trust only it). */
export async function readFinishedManifest(folder: RunFolder): Promise<RunManifest> {
  const manifest = await folder.readManifest();
  if (!manifest) throw new Error(`${folder.uriOf('')} has no _manifest.json: the run is not finalised (or this is not a run folder)`);
  return manifest;
}
