/**
 * What the AWS SDK needs before a first request, checked up front so that a missing setting is
 * one clear configuration error at start rather than a request that fails, is retried as if the
 * network were at fault, and fails a run seconds later with the SDK's bare "Region is missing".
 */
import { createS3Client, type S3Options } from './open-store';
import { S3ConfigError } from './s3-config-error';
import { missingRegionMessage } from './s3-config-messages';

/**
 * Resolves the region the way the SDK will for these options (flag, environment, profile);
 * throws {@link S3ConfigError} naming what to set when there is none.
 */
export async function assertS3RegionConfigured(options: S3Options, env: NodeJS.ProcessEnv = process.env): Promise<string> {
  if (options.region) return options.region;
  const client = createS3Client(options);
  try {
    const region = await client.config.region();
    if (!region) throw new Error('Region is missing');
    return region;
  } catch (error) {
    if (error instanceof S3ConfigError) throw error;
    throw new S3ConfigError(missingRegionMessage(env));
  } finally {
    client.destroy();
  }
}
