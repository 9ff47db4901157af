import type { S3Options } from '@siglip-batch/io';
import { resolveModelLocation } from '@siglip-batch/pipeline';

/**
 * `--model`: a local directory as it is, or an `s3://…` model folder or `hf://org/name[@rev]`
 * Hub repository (the files of `variant`) downloaded once into the local cache
 * (`$SIGLIP_BATCH_CACHE/models/<hash>`, else ~/.cache/siglip-batch/models/<hash>), verified by
 * its content hash, and used from there.
 */
export function resolveModelDir(model: string, s3: S3Options, variant?: string): Promise<string> {
  return resolveModelLocation(model, s3, variant === undefined ? {} : { variant });
}
