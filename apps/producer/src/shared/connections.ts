import { Option, type Command } from 'commander';
import { s3OptionsFromEnv, type S3Options } from '@siglip-batch/io';
import { redisUrlFromEnv } from '@siglip-batch/jobs';

export interface ConnectionOptions {
  redisUrl?: string;
  s3Endpoint?: string;
  /** AWS region of S3; the SDK's chain (AWS_REGION, AWS_DEFAULT_REGION, the profile) when unset. */
  region?: string;
  prefix: string;
}

/** Flags every command that talks to Redis or S3 shares; each falls back to the environment. */
export function addConnectionOptions(command: Command, withRedis = true): Command {
  if (withRedis) {
    command
      .option('--redis-url <url>', 'Redis URL (default: REDIS_URL or redis://127.0.0.1:6379)')
      .addOption(new Option('--prefix <prefix>', 'BullMQ key prefix').env('SIGLIP_BATCH_PREFIX').default('bull'));
  }
  return command
    .option('--s3-endpoint <url>', 'S3 endpoint (default: AWS_ENDPOINT_URL_S3; credentials from the AWS chain)')
    .option('--region <region>', 'AWS region of S3 (default: AWS_REGION, AWS_DEFAULT_REGION or the profile; us-east-1 with --s3-endpoint)');
}

export function redisUrlOf(options: ConnectionOptions): string {
  return options.redisUrl ?? redisUrlFromEnv();
}

export function s3OptionsOf(options: ConnectionOptions): S3Options {
  return s3OptionsFromEnv(process.env, { ...(options.s3Endpoint ? { endpoint: options.s3Endpoint } : {}), ...(options.region ? { region: options.region } : {}) });
}
