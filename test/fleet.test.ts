/**
 * Fleet: `--model s3://…` model folders downloaded into a local cache, verified by their
 * content hash (moto S3), reused when present, never half-installed.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll } from 'vitest';
import { computeContentHash } from '@siglip-batch/model';
import { ModelCache } from '@siglip-batch/pipeline';
import { queueNameForModel } from '@siglip-batch/jobs';
import { TINY_MODEL, runCli } from './support/cli';
import { TEST_AWS_ENV, describe, expect, test } from './support/harness';

const work = mkdtempSync(join(tmpdir(), 'siglip-fleet-'));
const saved = { ...process.env };
beforeAll(() => Object.assign(process.env, TEST_AWS_ENV));
afterAll(() => {
  process.env = saved;
  rmSync(work, { recursive: true, force: true });
});

function files(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).filter((p) => statSync(join(dir, p)).isFile());
}

describe('model cache', () => {
  test('downloads an s3:// model folder once, verified by its content hash, and reuses it', async ({ s3, bucket, s3Endpoint }) => {
    for (const path of files(TINY_MODEL)) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `models/tiny/${relative(TINY_MODEL, join(TINY_MODEL, path))}`, Body: readFileSync(join(TINY_MODEL, path)) }));
    }
    const root = join(work, 'cache-1');
    const hash = (JSON.parse(readFileSync(join(TINY_MODEL, 'siglip-batch.json'), 'utf8')) as { content_hash: string }).content_hash;
    // Two processes starting at once (one worker per GPU) share one verified entry.
    const [a, b] = await Promise.all([0, 1].map(() => new ModelCache({ root, s3: { endpoint: s3Endpoint } }).resolve(`s3://${bucket}/models/tiny/`)));
    expect(a!.dir).toBe(join(root, hash));
    expect(b!.dir).toBe(a!.dir);
    expect(await computeContentHash(a!.dir)).toBe(hash);
    expect(readdirSync(root).filter((name) => name.startsWith('.download-'))).toEqual([]);
    const again = await new ModelCache({ root, s3: { endpoint: s3Endpoint } }).resolve(`s3://${bucket}/models/tiny`);
    expect(again).toEqual({ dir: a!.dir, hash, downloaded: false });
  });

  test('`enqueue --model s3://…` resolves the model through the cache', async ({ s3, bucket, childEnv, queuePrefix }) => {
    for (const path of files(TINY_MODEL)) {
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `models/tiny/${path}`, Body: readFileSync(join(TINY_MODEL, path)) }));
    }
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'src/a.jpg', Body: readFileSync(join(TINY_MODEL, '..', '..', 'images', 'astronaut_baseline.jpg')) }));
    const env = { ...childEnv, SIGLIP_BATCH_CACHE: join(work, 'cli-cache'), SIGLIP_BATCH_PREFIX: queuePrefix };
    const result = await runCli(['enqueue', '--json', '--run', 'f1', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', `s3://${bucket}/models/tiny/`], env);
    expect(result.code, result.stderr).toBe(0);
    const hash = (JSON.parse(readFileSync(join(TINY_MODEL, 'siglip-batch.json'), 'utf8')) as { content_hash: string }).content_hash;
    expect((JSON.parse(result.stdout) as { queue: string }).queue).toBe(queueNameForModel(hash, 'fp32'));
    expect(readdirSync(join(work, 'cli-cache', 'models'))).toEqual([hash]);
  });

  test('refuses a model whose files do not hash to its sidecar, leaving nothing behind', async ({ s3, bucket, s3Endpoint }) => {
    for (const path of files(TINY_MODEL)) {
      let body = readFileSync(join(TINY_MODEL, path));
      if (path === 'config.json') body = Buffer.from(body.toString('utf8').replace('{', '{"tampered": true, '));
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `models/bad/${path}`, Body: body }));
    }
    const root = join(work, 'cache-2');
    await expect(new ModelCache({ root, s3: { endpoint: s3Endpoint } }).resolve(`s3://${bucket}/models/bad/`)).rejects.toThrow(/hash to/);
    expect(readdirSync(root)).toEqual([]);
    await expect(new ModelCache({ root, s3: { endpoint: s3Endpoint } }).resolve(`s3://${bucket}/models/none/`)).rejects.toThrow(/no siglip-batch\.json/);
  });
});
