/**
 * The harness itself, against the real services: objects through moto with the AWS SDK,
 * a BullMQ job round trip through Redis, and the isolation/teardown promises.
 */
import { GetObjectCommand, HeadBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { Queue, QueueEvents, Worker } from 'bullmq';

import { describe, expect, test, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { CreateBucketCommand } from '@aws-sdk/client-s3';

describe('S3 (moto) through @aws-sdk/client-s3', () => {
  test('put, list and get objects in a bucket of this test', async ({ s3, bucket }) => {
    const keys = ['images/a.jpg', 'images/b.jpg', 'images/sub/c.png', 'other.txt'];
    for (const key of keys) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: Buffer.from(`bytes of ${key}`) }));
    }
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'images/' }));
    expect((listed.Contents ?? []).map((o) => o.Key)).toEqual(['images/a.jpg', 'images/b.jpg', 'images/sub/c.png']);
    const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'images/sub/c.png' }));
    expect(await got.Body!.transformToString()).toBe('bytes of images/sub/c.png');
    expect(got.ContentLength).toBe('bytes of images/sub/c.png'.length);
  });

  test('each test sees an empty bucket of its own', async ({ s3, bucket }) => {
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket }));
    expect(listed.KeyCount ?? 0).toBe(0);
  });

  test('teardown removes a bucket with objects in it', async ({ s3Endpoint }) => {
    const s3 = makeS3Client(s3Endpoint);
    const bucket = uniqueName('teardown').toLowerCase();
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'x', Body: 'x' }));
    await emptyAndDeleteBucket(s3, bucket);
    await expect(s3.send(new HeadBucketCommand({ Bucket: bucket }))).rejects.toMatchObject({
      $metadata: { httpStatusCode: 404 },
    });
    s3.destroy();
  });
});

describe('Redis through BullMQ', () => {
  test('a job round trip: added, processed by a worker, result returned', async ({ redisUrl, queuePrefix, redis }) => {
    const connection = { url: redisUrl, maxRetriesPerRequest: null };
    const queue = new Queue('harness', { connection, prefix: queuePrefix });
    const events = new QueueEvents('harness', { connection, prefix: queuePrefix });
    const worker = new Worker('harness', async (job) => ({ doubled: (job.data as { n: number }).n * 2 }), {
      connection,
      prefix: queuePrefix,
    });
    try {
      await events.waitUntilReady();
      const job = await queue.add('double', { n: 21 }, { jobId: 'round-trip' });
      const result = await job.waitUntilFinished(events, 20_000);
      expect(result).toEqual({ doubled: 42 });
      // The job lives under this test's prefix only.
      const keys = await redis.keys(`${queuePrefix}:harness:*`);
      expect(keys.length).toBeGreaterThan(0);
    } finally {
      await worker.close();
      await events.close();
      await queue.close();
    }
  });

  test('prefix cleanup removes every key of a prefix and nothing else', async ({ redis }) => {
    const mine = uniqueName('cleanup');
    const other = uniqueName('keep');
    await redis.set(`${mine}:a`, '1');
    await redis.hset(`${mine}:b:c`, 'f', 'v');
    await redis.set(`${other}:a`, '1');
    try {
      expect(await deleteKeysWithPrefix(redis, mine)).toBe(2);
      expect(await redis.exists(`${mine}:a`, `${mine}:b:c`)).toBe(0);
      expect(await redis.exists(`${other}:a`)).toBe(1);
    } finally {
      await redis.del(`${other}:a`);
    }
  });

  test('a Redis that does not answer is reported, not waited on forever', async () => {
    const { assertRedisReachable } = await import('./support/redis-check');
    await expect(assertRedisReachable('redis://127.0.0.1:1')).rejects.toThrow(/Redis is not reachable.*redis-server/s);
  });
});

