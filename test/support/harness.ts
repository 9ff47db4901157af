/**
 * Per-test fixtures over the shared services of global-setup.ts.
 *
 * Every test that asks for them gets its own S3 bucket and its own BullMQ prefix, so tests
 * never see each other's data; teardown deletes the bucket (objects and pending multipart
 * uploads included) and every Redis key under the prefix.
 *
 *   import { test } from '../test/support/harness';
 *   test('round trip', async ({ s3, bucket, redisUrl, queuePrefix }) => { … });
 */
import { randomBytes } from 'node:crypto';
import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { inject, test as base } from 'vitest';
import './provided-context';

/** Credentials moto accepts; they are not secrets. */
export const TEST_AWS_ENV = {
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_REGION: 'us-east-1',
} as const;

export interface HarnessFixtures {
  /** Base URL of the S3 server (moto). */
  s3Endpoint: string;
  /** An S3 client for that server. */
  s3: S3Client;
  /** A bucket created for this test alone, deleted afterwards. */
  bucket: string;
  /** The Redis URL the suite runs against. */
  redisUrl: string;
  /** A plain Redis connection for assertions (closed afterwards). */
  redis: Redis;
  /** A BullMQ prefix of this test alone; every key under it is removed afterwards. */
  queuePrefix: string;
  /** Environment for child processes: the S3 endpoint, test credentials and REDIS_URL. */
  childEnv: NodeJS.ProcessEnv;
}

export function uniqueName(stem: string): string {
  return `${stem}-${Date.now().toString(36)}-${randomBytes(4).toString('hex')}`;
}

export function makeS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: TEST_AWS_ENV.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: TEST_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

export async function emptyAndDeleteBucket(s3: S3Client, bucket: string): Promise<void> {
  let uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  while ((uploads.Uploads ?? []).length > 0) {
    for (const upload of uploads.Uploads ?? []) {
      await s3.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
    }
    uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
  }
  let token: string | undefined;
  do {
    const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, ContinuationToken: token }));
    const keys = (page.Contents ?? []).map((object) => ({ Key: object.Key! }));
    if (keys.length > 0) await s3.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    token = page.NextContinuationToken;
  } while (token);
  await s3.send(new DeleteBucketCommand({ Bucket: bucket }));
}

export async function deleteKeysWithPrefix(redis: Redis, prefix: string): Promise<number> {
  let cursor = '0';
  let deleted = 0;
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 1000);
    cursor = next;
    if (keys.length > 0) deleted += await redis.unlink(...keys);
  } while (cursor !== '0');
  return deleted;
}

export const test = base.extend<HarnessFixtures>({
  // eslint-disable-next-line no-empty-pattern
  s3Endpoint: async ({}, use) => {
    await use(inject('s3Endpoint'));
  },
  s3: async ({ s3Endpoint }, use) => {
    const client = makeS3Client(s3Endpoint);
    await use(client);
    client.destroy();
  },
  bucket: async ({ s3 }, use) => {
    const bucket = uniqueName('t').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await use(bucket);
    await emptyAndDeleteBucket(s3, bucket);
  },
  // eslint-disable-next-line no-empty-pattern
  redisUrl: async ({}, use) => {
    await use(inject('redisUrl'));
  },
  redis: async ({ redisUrl }, use) => {
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    await use(redis);
    redis.disconnect();
  },
  queuePrefix: async ({ redisUrl }, use) => {
    const prefix = uniqueName('test');
    await use(prefix);
    const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
    try {
      await deleteKeysWithPrefix(redis, prefix);
    } finally {
      redis.disconnect();
    }
  },
  childEnv: async ({ s3Endpoint, redisUrl }, use) => {
    await use({ ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3Endpoint, REDIS_URL: redisUrl });
  },
});

export { expect, describe } from 'vitest';
