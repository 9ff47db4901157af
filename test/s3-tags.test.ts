/**
 * `enqueue --write-s3-tags` against real Redis and moto: after a shard's part file is
 * committed, the worker writes each object's tags (the Parquet `tags` column) back as S3 object
 * tags `siglip:<label>` = score, keeping foreign tags, never more than 10 in all; an object whose
 * foreign tags use all 10 is left alone and counted; a later run replaces our tags.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GetObjectTaggingCommand, PutObjectCommand, PutObjectTaggingCommand, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunRegistry } from '@siglip-batch/pipeline';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { SuiteWorld } from './support/suite-world';
import { makeSampleImage } from './support/sample-images';

const world = new SuiteWorld('s3-tags');
const { prefix, bucket, work, env, readManifest, runFiles, parquetRows } = world;
let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let worker: WorkerProcess;

type Tag = { key: string; value: string };
const foreign = (n: number): Tag[] => Array.from({ length: n }, (_, i) => ({ key: `team-${i}`, value: `owner ${i}` }));
// img-0: no tags; img-1: two foreign tags; img-2: ten foreign tags (full); img-3: nine (room for one of ours).
const FOREIGN_BEFORE: Tag[][] = [[], foreign(2), foreign(10), foreign(9)];

beforeAll(async () => {
  ({ s3, redis } = await world.open());
  registry = new RunRegistry(redis, prefix);
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

afterAll(() => world.close(worker));

function name(i: number): string {
  return `img-${String(i).padStart(5, '0')}.png`;
}

async function tagsOf(i: number): Promise<Tag[]> {
  const response = await s3.send(new GetObjectTaggingCommand({ Bucket: bucket, Key: `src/${name(i)}` }));
  return (response.TagSet ?? []).map((t) => ({ key: t.Key!, value: t.Value! }));
}

const byKey = (tags: Tag[]) => [...tags].sort((a, b) => a.key.localeCompare(b.key));

/** Each row's tags (best first) with their scores, from the run's part files (read with DuckDB). */
async function rowTags(run: string): Promise<Map<string, Array<{ label: string; score: number }>>> {
  const labels = (await readManifest(run)).labels!.map((l) => l.label);
  const result = new Map<string, Array<{ label: string; score: number }>>();
  for (const part of (await runFiles(run)).parts) {
    const rows = await parquetRows<{ uri: string; tags: string[]; scores: number[] }>(`out/${run}/${part.key}`, (from) => `SELECT uri, tags, scores FROM ${from}`);
    for (const row of rows) result.set(row.uri, row.tags.map((label) => ({ label, score: row.scores[labels.indexOf(label)]! })));
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
    const manifest = await readManifest('first');
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
