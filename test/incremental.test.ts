/**
 * Nightly runs against real Redis and moto: `enqueue --incremental` plans only new objects,
 * changed ETags and objects processed with another model, records vanished objects as
 * deletions; finalising updates the output's processed index (`<out>/_index/`); `latest`
 * writes the newest row per object across runs.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { runManifestSchema } from '@siglip-batch/jobs';
import { RunRegistry } from '@siglip-batch/pipeline';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { TEST_AWS_ENV, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { makeSampleImage } from './support/sample-images';

const s3Endpoint = inject('s3Endpoint');
const redisUrl = inject('redisUrl');
const prefix = uniqueName('incr');
const bucket = uniqueName('incremental').toLowerCase();
const work = mkdtempSync(join(tmpdir(), 'siglip-incremental-'));
const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3Endpoint, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: prefix };
let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let worker: WorkerProcess;

beforeAll(async () => {
  s3 = makeS3Client(s3Endpoint);
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  registry = new RunRegistry(redis, prefix);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  for (let i = 0; i < 12; i++) await put(i);
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

async function put(i: number, variant = i): Promise<void> {
  const image = await makeSampleImage(variant);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${name(i)}`, Body: image.bytes }));
}

async function readObject(key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

async function rows<T>(key: string, sql: (file: string) => string): Promise<T[]> {
  const path = join(work, key.replace(/\//g, '_'));
  writeFileSync(path, await readObject(key));
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(sql(`read_parquet('${path}')`))).getRowObjectsJS() as T[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

async function nightly(run: string, extra: string[] = []): Promise<Record<string, unknown>> {
  const result = await runCli(
    ['enqueue', '--json', '--incremental', '--run', run, '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--labels', 'cat,dog', '--shard-size', '5', ...extra],
    env,
  );
  expect(result.code, result.stderr).toBe(0);
  const summary = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(await waitForRunEnd(() => registry.get(run))).toBe('completed');
  return summary;
}

const uri = (i: number) => `s3://${bucket}/src/${name(i)}`;

describe('incremental runs', () => {
  it('plans everything the first night and indexes it when the run is finalised', async () => {
    const summary = await nightly('night-1');
    expect(summary['objectsPlanned']).toBe(12);
    expect(summary['incremental']).toEqual({ listed: 12, planned: 12, unchanged: 0, deleted: 0 });
    const pointer = JSON.parse((await readObject('out/_index/_current.json')).toString()) as { base: string[]; runs: string[]; entries: number };
    expect(pointer.runs).toEqual(['night-1']);
    expect(pointer.entries).toBe(12);
    const indexed = await rows<{ uri: string; run: string; status: string }>(`out/${pointer.base[0]!}`, (f) => `SELECT uri, run, status FROM ${f}`);
    expect(indexed.map((r) => r.uri)).toEqual(Array.from({ length: 12 }, (_, i) => uri(i)));
    expect(new Set(indexed.map((r) => `${r.run} ${r.status}`))).toEqual(new Set(['night-1 ok']));
  });

  it('plans only new and changed objects the next night, and records deletions', async () => {
    await put(12);
    await put(13);
    await put(3, 100); // rewritten: another ETag
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `src/${name(5)}` }));
    await s3.send(new DeleteObjectCommand({ Bucket: bucket, Key: `src/${name(7)}` }));
    const summary = await nightly('night-2');
    expect(summary['incremental']).toEqual({ listed: 12, planned: 3, unchanged: 9, deleted: 2 });
    expect(summary['objectsPlanned']).toBe(3);

    const manifest = runManifestSchema.parse(JSON.parse((await readObject('out/night-2/_manifest.json')).toString()));
    expect(manifest.counts.ok).toBe(3);
    expect(manifest.deletions?.reduce((n, d) => n + d.rows, 0)).toBe(2);
    const deleted = await Promise.all(manifest.deletions!.map((d) => rows<{ uri: string; last_run: string }>(`out/night-2/${d.key}`, (f) => `SELECT uri, last_run FROM ${f}`)));
    expect(deleted.flat().sort((a, b) => a.uri.localeCompare(b.uri))).toEqual([
      { uri: uri(5), last_run: 'night-1' },
      { uri: uri(7), last_run: 'night-1' },
    ]);
    const planned = await Promise.all(manifest.parts.map((p) => rows<{ uri: string }>(`out/night-2/${p.key}`, (f) => `SELECT uri FROM ${f}`)));
    expect(planned.flat().map((r) => r.uri).sort()).toEqual([uri(3), uri(12), uri(13)]);
  });

  it('plans nothing when nothing changed, and still completes (an empty run)', async () => {
    const summary = await nightly('night-3');
    expect(summary['objectsPlanned']).toBe(0);
    expect(summary['incremental']).toEqual({ listed: 12, planned: 0, unchanged: 12, deleted: 0 });
    const pointer = JSON.parse((await readObject('out/_index/_current.json')).toString()) as { runs: string[]; entries: number };
    expect(pointer.runs).toEqual(['night-1', 'night-2', 'night-3']);
    // 14 objects ever seen: 12 live, 2 tombstones.
    expect(pointer.entries).toBe(14);
  });

  it('writes the newest row per object across runs with `latest`', async () => {
    const result = await runCli(['latest', '--out', `s3://${bucket}/out/`, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const latest = JSON.parse(result.stdout) as { rows: number; files: Array<{ key: string }> };
    expect(latest.rows).toBe(12);
    const all = (
      await Promise.all(latest.files.map((f) => rows<{ uri: string; run: string; tags: string[] }>(`out/${f.key}`, (file) => `SELECT uri, run, tags FROM ${file}`)))
    ).flat();
    const byUri = Object.fromEntries(all.map((r) => [r.uri, r.run]));
    expect(Object.keys(byUri).sort()).toEqual([0, 1, 2, 3, 4, 6, 8, 9, 10, 11, 12, 13].map(uri).sort());
    expect(byUri[uri(3)]).toBe('night-2');
    expect(byUri[uri(12)]).toBe('night-2');
    expect(byUri[uri(0)]).toBe('night-1');
  });

  it('plans every object again for a fast-decode night after exact ones, then nothing; latest keeps the modes apart', async () => {
    const fast = ['--decode', 'fast', '--reducing-gap', '2'];
    expect((await nightly('fast-1', fast))['incremental']).toEqual({ listed: 12, planned: 12, unchanged: 0, deleted: 0 });
    expect((await nightly('fast-2', fast))['incremental']).toEqual({ listed: 12, planned: 0, unchanged: 12, deleted: 0 });
    const result = await runCli(['latest', '--out', `s3://${bucket}/out/`, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const latest = JSON.parse(result.stdout) as { rows: number; files: Array<{ key: string; modelHash: string; rows: number }> };
    const fastFiles = latest.files.filter((f) => f.modelHash.endsWith('+fast-2'));
    expect(fastFiles.reduce((n, f) => n + f.rows, 0)).toBe(12);
    for (const f of fastFiles) expect(f.key).toMatch(/^_latest\/[0-9a-f]{16}-fast-2-/);
    expect(latest.rows).toBe(24);
    const runs = await Promise.all(fastFiles.map((f) => rows<{ run: string }>(`out/${f.key}`, (file) => `SELECT DISTINCT run FROM ${file}`)));
    expect(runs.flat().map((r) => r.run)).toEqual(['fast-1']);
  });
});
