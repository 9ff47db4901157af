import { PutObjectCommand, PutObjectTaggingCommand, GetObjectTaggingCommand } from '@aws-sdk/client-s3';
import { vi } from 'vitest';
import { describe, expect, test, TEST_AWS_ENV } from '@siglip-batch/testing';
import { StoreResolver } from '../store-resolver';
import { writeS3Tags } from './s3-tag-writer';

describe('writeS3Tags (moto)', () => {
  test('tags objects, counts full ones and failures without throwing, and is idempotent', async ({ s3, s3Endpoint, bucket }) => {
    for (const [name, value] of Object.entries(TEST_AWS_ENV)) vi.stubEnv(name, value);
    for (const key of ['a.png', 'full.png']) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: 'x' }));
    const ten = Array.from({ length: 10 }, (_, i) => ({ Key: `k${i}`, Value: `v${i}` }));
    await s3.send(new PutObjectTaggingCommand({ Bucket: bucket, Key: 'full.png', Tagging: { TagSet: ten } }));
    const resolver = new StoreResolver({ endpoint: s3Endpoint, maxAttempts: 1 });
    try {
      const rows = [
        { uri: `s3://${bucket}/a.png`, labels: [{ label: 'cat', score: 0.75 }] },
        { uri: `s3://${bucket}/full.png`, labels: [{ label: 'cat', score: 0.5 }] },
        { uri: `s3://${bucket}/gone.png`, labels: [{ label: 'cat', score: 0.5 }] },
      ];
      const counts = await writeS3Tags(resolver, rows, { concurrency: 2 });
      expect(counts).toMatchObject({ tagged: 1, full: 1, failed: 1 });
      expect(counts.failures).toHaveLength(1);
      expect(counts.failures[0]).toContain(`s3://${bucket}/gone.png`);
      const tagsOf = async (key: string) => (await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: key }))).TagSet;
      expect(await tagsOf('a.png')).toEqual([{ Key: 'siglip:cat', Value: '0.7500' }]);
      expect(await tagsOf('full.png')).toEqual(ten);
      expect(await writeS3Tags(resolver, rows.slice(0, 2))).toEqual({ tagged: 1, full: 1, failed: 0, failures: [] });
      expect(await tagsOf('a.png')).toEqual([{ Key: 'siglip:cat', Value: '0.7500' }]);
      // A local file has no tags: counted as a failure, never thrown.
      const local = await writeS3Tags(resolver, [{ uri: 'file:///tmp/not-tagged.png', labels: [{ label: 'cat', score: 0.5 }] }]);
      expect(local).toEqual({ tagged: 0, full: 0, failed: 1, failures: ['file:///tmp/not-tagged.png: not an S3 object: only S3 objects have tags'] });
    } finally {
      resolver.close();
      vi.unstubAllEnvs();
    }
  });
});
