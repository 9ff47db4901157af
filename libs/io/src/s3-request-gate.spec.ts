import { createS3Client } from './open-store';
import { isObjectStoreError } from './object-store-error';
import { S3ObjectStore } from './s3-object-store';
import type { S3RequestInfo } from './s3-request-gate';
import { describe, expect, patternBytes, test, TEST_PART_SIZE, useTestCredentials } from './testing/store-fixtures';

describe('S3 request gate (beforeRequest)', () => {
  test('every request waits for the gate: puts, multipart parts, listings, heads, gets and ranged reads', async ({ s3Endpoint, bucket }) => {
    useTestCredentials();
    const seen: S3RequestInfo[] = [];
    const store = new S3ObjectStore({
      client: createS3Client({
        endpoint: s3Endpoint,
        beforeRequest: async (request) => {
          await new Promise((resolve) => setImmediate(resolve));
          seen.push(request);
        },
      }),
      bucket,
      ownsClient: true,
      multipartThresholdBytes: TEST_PART_SIZE,
      partSizeBytes: TEST_PART_SIZE,
    });
    try {
      await store.put('small.bin', patternBytes(100));
      await store.put('big.bin', patternBytes(2 * TEST_PART_SIZE + 10));
      for await (const info of store.list('')) expect(info.key).toMatch(/\.bin$/);
      await store.get('small.bin');
      const blob = await store.openBlob('big.bin');
      await blob.slice(0, 10).arrayBuffer();
      const names = seen.map((request) => request.operation);
      expect([...names].sort()).toEqual(
        ['PutObjectCommand', 'CreateMultipartUploadCommand', 'UploadPartCommand', 'UploadPartCommand', 'UploadPartCommand', 'CompleteMultipartUploadCommand', 'ListObjectsV2Command', 'GetObjectCommand', 'HeadObjectCommand', 'GetObjectCommand'].sort(),
      );
      expect(seen.every((request) => request.bucket === bucket)).toBe(true);
    } finally {
      store.close();
    }
  });

  test('a gate that refuses fails the request as a transient store error; nothing is sent', async ({ s3Endpoint, bucket }) => {
    useTestCredentials();
    const store = new S3ObjectStore({
      client: createS3Client({ endpoint: s3Endpoint, beforeRequest: () => Promise.reject(new Error('no token for you')) }),
      bucket,
      ownsClient: true,
    });
    const plain = new S3ObjectStore({ client: createS3Client({ endpoint: s3Endpoint }), bucket, ownsClient: true });
    try {
      const error = await store.put('refused.bin', patternBytes(10)).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isObjectStoreError(error, 'transient')).toBe(true);
      expect((error as Error).message).toMatch(/no token for you/);
      expect(await plain.exists('refused.bin')).toBe(false);
    } finally {
      store.close();
      plain.close();
    }
  });
});
