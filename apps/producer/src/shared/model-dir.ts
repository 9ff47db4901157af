import type { S3Options } from '@siglip-batch/io';
import { isRemoteModelUri, ModelCache } from '@siglip-batch/pipeline';

/**
 * `--model`: a local directory as it is, or an `s3://…` model folder downloaded once into the
 * local cache (verified by its content hash) and used from there.
 */
export async function resolveModelDir(model: string, s3: S3Options): Promise<string> {
  if (!isRemoteModelUri(model)) return model;
  return (await new ModelCache({ s3 }).resolve(model)).dir;
}
