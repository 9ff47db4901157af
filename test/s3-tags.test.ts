/**
 * `enqueue --write-s3-tags` against real Redis and moto: after a shard's part file is
 * committed, the worker writes each object's tags (the Parquet `tags` column) back as S3 object
 * tags `siglip:<label>` = score, keeping foreign tags, never more than 10 in all; an object whose
 * foreign tags use all 10 is left alone and counted; a later run replaces our tags.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, GetObjectTaggingCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runManifestSchema } from '@siglip-batch/jobs';
import { RunRegistry } from '@siglip-batch/pipeline';
import { manifestFiles } from './support/run-files';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { TEST_AWS_ENV, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { makeSampleImage } from './support/sample-images';

const s3Endpoint = inject('s3Endpoint');
const redisUrl = inject('redisUrl');
const prefix = uniqueName('tags');
const bucket = uniqueName('s3-tags').toLowerCase();
const work = mkdtempSync(join(tmpdir(), 'siglip-s3-tags-'));
const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3Endpoint, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: prefix };
let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let worker: WorkerProcess;

type Tag = { key: string; value: string };
const foreign = (n: number): Tag[] => Array.from({ length: n }, (_, i) => ({ key: `team-${i}`, value: `owner ${i}` }));
// img-0: no tags; img-1: two foreign tags; img-2: ten foreign tags (full); img-3: nine (room for one of ours).
const FOREIGN_BEFORE: Tag[][] = [[], foreign(2), foreign(10), foreign(9)];

beforeAll(async () => {
  s3 = makeS3Client(s3Endpoint);
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  registry = new RunRegistry(redis, prefix);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (let i = 0; i < FOREIGN_BEFORE.length; i++) {
    const image = await makeSampleImage(i);
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${name(i)}`, Body: image.bytes }));
    if (FOREIGN_BEFORE[i]!.length > 0) {
      await s3.send(
        new PutObjectTaggingCommand({ Bucket: bucket, Key: `src/${name(i)}`, Tagging: { TagSet: FOREIGN_BEFORE[i]!.map((t) => ({ Key: t.key, Value: t.value })) } }),
      );
    }
  }
  worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8'], env);
  await waitForWorkerStart(worker);
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
  await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
  redis.disconnect();
  s3.destroy();
  rmSync(work, { recursive: true, force: true });
});

function name(i: number): string {
  return `img-${String(i).padStart(5, '0')}.png`;
}

async function readObject(key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

async function tagsOf(i: number): Promise<Tag[]> {
  const response = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: `src/${name(i)}` }));
  return (response.TagSet ?? []).map((t) => ({ key: t.Key!, value: t.Value! }));
}

const byKey = (tags: Tag[]) => [...tags].sort((a, b) => a.key.localeCompare(b.key));

/** Each row's tags (best first) with their scores, from the run's part files (read with DuckDB). */
async function rowTags(run: string): Promise<Map<string, Array<{ label: string; score: number }>>> {
  const manifest = runManifestSchema.parse(JSON.parse((await readObject(`out/${run}/_manifest.json`)).toString()));
  const listed = await manifestFiles(manifest, (key) => readObject(`out/${run}/${key}`));
  const labels = manifest.labels!.map((l) => l.label);
  const result = new Map<string, Array<{ label: string; score: number }>>();
  for (const part of listed.parts) {
    const path = join(work, `${run}-${part.key.replace(/\//g, '_')}`);
    writeFileSync(path, await readObject(`out/${run}/${part.key}`));
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      const rows = (await connection.runAndReadAll(`SELECT uri, tags, scores FROM read_parquet('${path}')`)).getRowObjectsJS() as Array<{
        uri: string;
        tags: string[];
        scores: number[];
      }>;
      for (const row of rows) result.set(row.uri, row.tags.map((label) => ({ label, score: row.scores[labels.indexOf(label)]! })));
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  }
  return result;
}

async function taggedRun(run: string, labelsFile: string): Promise<void> {
  const result = await runCli(
    ['enqueue', '--json', '--write-s3-tags', '--run', run, '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--labels-file', labelsFile, '--shard-size', '2'],
    env,
  );
  expect(result.code, result.stderr).toBe(0);
  expect(await waitForRunEnd(() => registry.get(run))).toBe('completed');
}

/** Labels with threshold 0: every label is a tag of every image, ordered by score. */
function labelsFile(file: string, labels: string[]): string {
  const path = join(work, file);
  writeFileSync(path, JSON.stringify(labels.map((label) => ({ label, threshold: 0 }))));
  return path;
}

const uri = (i: number) => `s3://${bucket}/src/${name(i)}`;

describe('--write-s3-tags', () => {
  it('is refused at enqueue for a local source, and without labels', async () => {
    const local = await runCli(['enqueue', '--write-s3-tags', '--run', 'local', '--source', work, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--labels', 'cat'], env);
    expect(local.code).not.toBe(0);
    expect(local.stderr).toContain('--write-s3-tags needs an S3 source');
    const unlabelled = await runCli(['enqueue', '--write-s3-tags', '--run', 'nolabels', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL], env);
    expect(unlabelled.code).not.toBe(0);
    expect(unlabelled.stderr).toContain('--write-s3-tags needs labels');
  });

  it("writes each object's tags as S3 tags, keeps foreign tags, and leaves an object with 10 foreign tags alone", async () => {
    await taggedRun('first', labelsFile('first.json', ['cat', 'dog', 'hot dog!']));
    const rows = await rowTags('first');
    expect(rows.size).toBe(4);
    const ours = (i: number) => rows.get(uri(i))!.map((t) => ({ key: `siglip:${t.label === 'hot dog!' ? 'hot dog_' : t.label}`, value: t.score.toFixed(4) }));
    for (const i of [0, 1, 2, 3]) expect(rows.get(uri(i))!.map((t) => t.label).sort()).toEqual(['cat', 'dog', 'hot dog!']);

    expect(byKey(await tagsOf(0))).toEqual(byKey(ours(0)));
    expect(byKey(await tagsOf(1))).toEqual(byKey([...foreign(2), ...ours(1)]));
    expect(byKey(await tagsOf(2))).toEqual(byKey(foreign(10)));
    // Nine foreign tags leave room for one of ours: the best-scoring tag.
    expect(byKey(await tagsOf(3))).toEqual(byKey([...foreign(9), ours(3)[0]!]));

    const status = await runCli(['status', 'first', '--json'], env);
    expect(status.code, status.stderr).toBe(0);
    expect((JSON.parse(status.stdout) as { s3Tags: unknown }).s3Tags).toEqual({ tagged: 3, full: 1, failed: 0 });
    const manifest = runManifestSchema.parse(JSON.parse((await readObject('out/first/_manifest.json')).toString()));
    expect(manifest.counts.s3Tags).toEqual({ tagged: 3, full: 1, failed: 0 });
  });

  it('replaces our tags on a later run instead of accumulating them', async () => {
    await taggedRun('second', labelsFile('second.json', ['red', 'blue']));
    const rows = await rowTags('second');
    const ours = (i: number) => rows.get(uri(i))!.map((t) => ({ key: `siglip:${t.label}`, value: t.score.toFixed(4) }));
    expect(byKey(await tagsOf(0))).toEqual(byKey(ours(0)));
    expect(byKey(await tagsOf(1))).toEqual(byKey([...foreign(2), ...ours(1)]));
    expect(byKey(await tagsOf(2))).toEqual(byKey(foreign(10)));
    expect(byKey(await tagsOf(3))).toEqual(byKey([...foreign(9), ours(3)[0]!]));
    expect((await tagsOf(0)).some((t) => t.key === 'siglip:cat')).toBe(false);
  });
});
