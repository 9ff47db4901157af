/**
 * The pipeline end to end, as users run it: real Redis, moto S3, `siglip-batch enqueue` and two
 * `siglip-batch worker` processes over ≥ 1,000 generated images plus broken objects.
 *
 * Checked the strong way, with DuckDB over exactly the files each manifest lists: one row per
 * planned object, embeddings equal to libs/model called directly, the right error codes, manifest
 * counts equal to the rows; re-enqueuing a finished run (after Redis dropped its jobs) changes
 * nothing; another shard size, a local-directory source and a manifest source give the same rows;
 * a worker serving another model never takes the run's jobs.
 */
import { cpSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { encodeManifestParquet } from '@siglip-batch/run-format';
import { queueNameForModel, runManifestSchema, type RunManifest } from '@siglip-batch/jobs';
import { RunRegistry, inspectSiglipModel } from '@siglip-batch/pipeline';
import { SiglipModel, computeContentHash } from '@siglip-batch/model';
import { manifestFiles, type ManifestFiles } from './support/run-files';
import { BROKEN_OBJECTS, makeSampleImage, type SampleImage } from './support/sample-images';
import { cosine } from './support/fault-checks';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { TEST_AWS_ENV, emptyAndDeleteBucket, makeS3Client, uniqueName, deleteKeysWithPrefix } from './support/harness';
import { CreateBucketCommand } from '@aws-sdk/client-s3';

const IMAGES = 1000;
const s3Endpoint = inject('s3Endpoint');
const redisUrl = inject('redisUrl');
const prefix = uniqueName('e2e');
const bucket = uniqueName('pipeline').toLowerCase();
const work = mkdtempSync(join(tmpdir(), 'siglip-e2e-'));
const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3Endpoint, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: prefix };

let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let images: SampleImage[];
let workers: WorkerProcess[] = [];
let otherWorker: WorkerProcess;
let otherModelDir: string;

interface Row {
  uri: string;
  sha256: string;
  width: number;
  height: number;
  embedding: number[];
  tags: string[] | null;
  caption?: string | null;
  id?: bigint | number | null;
}

beforeAll(async () => {
  s3 = makeS3Client(s3Endpoint);
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  registry = new RunRegistry(redis, prefix);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  images = [];
  for (let i = 0; i < IMAGES; i++) images.push(await makeSampleImage(i));
  const localDir = join(work, 'local-source');
  mkdirSync(localDir, { recursive: true });
  const uploads = [...images.map((image) => ({ name: image.name, bytes: image.bytes })), ...BROKEN_OBJECTS];
  for (let i = 0; i < uploads.length; i += 32) {
    await Promise.all(
      uploads.slice(i, i + 32).map(async (object) => {
        await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${object.name}`, Body: object.bytes }));
        writeFileSync(join(localDir, object.name), object.bytes);
      }),
    );
  }
  // A model that differs only in its files' content hash: another queue.
  otherModelDir = join(work, 'other-model');
  cpSync(TINY_MODEL, otherModelDir, { recursive: true });
  const config = JSON.parse(readFileSync(join(otherModelDir, 'config.json'), 'utf8')) as Record<string, unknown>;
  writeFileSync(join(otherModelDir, 'config.json'), JSON.stringify({ ...config, _note: 'another model' }, null, 2));
  const sidecarPath = join(otherModelDir, 'siglip-batch.json');
  const sidecar = JSON.parse(readFileSync(sidecarPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(sidecarPath, JSON.stringify({ ...sidecar, content_hash: await computeContentHash(otherModelDir) }, null, 2));

  // The local-directory run and the manifest (in manifests/, naming objects in src/) are read
  // only because the workers are told so: by default a worker reads its runs' own S3 folders.
  const allow = ['--allow', `s3://${bucket}/src/,${localDir}`];
  workers = [1, 2].map(() => startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '16', '--concurrency', '2', ...allow], env));
  otherWorker = startWorker(['--model', otherModelDir, '--threads', '1'], env);
  await Promise.all([...workers, otherWorker].map((worker) => waitForWorkerStart(worker)));
}, 300_000);

afterAll(async () => {
  await Promise.all([...workers, otherWorker].filter(Boolean).map((worker) => worker.stop()));
  await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
  await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
  redis.disconnect();
  s3.destroy();
  rmSync(work, { recursive: true, force: true });
});

async function enqueue(args: string[]): Promise<Record<string, unknown>> {
  const result = await runCli(['enqueue', '--json', '--model', TINY_MODEL, '--labels', 'cat,dog,rocket', ...args], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Record<string, unknown>;
}

async function readObject(key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

/** Downloads the run's manifest and the files it lists; returns the manifest and local paths. */
async function fetchRun(runId: string, outPrefix: string): Promise<{ manifest: RunManifest; listed: ManifestFiles; parts: string[]; errors: string[] }> {
  const folder = join(work, 'download', runId);
  mkdirSync(folder, { recursive: true });
  const manifest = runManifestSchema.parse(JSON.parse((await readObject(`${outPrefix}${runId}/_manifest.json`)).toString()));
  const download = async (key: string) => {
    const path = join(folder, key.replaceAll('/', '_'));
    writeFileSync(path, await readObject(`${outPrefix}${runId}/${key}`));
    return path;
  };
  const listed = await manifestFiles(manifest, (key) => readObject(`${outPrefix}${runId}/${key}`));
  return {
    manifest,
    listed,
    parts: await Promise.all(listed.parts.map((part) => download(part.key))),
    errors: await Promise.all(listed.errors.map((file) => download(file.key))),
  };
}

async function query<T>(sql: string): Promise<T[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    const reader = await connection.runAndReadAll(sql);
    return reader.getRowObjectsJS() as T[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

const files = (paths: string[]) => `[${paths.map((p) => `'${p}'`).join(', ')}]`;

function baseName(uri: string): string {
  return uri.slice(uri.lastIndexOf('/') + 1);
}

describe('pipeline end to end', () => {
  let runA: { manifest: RunManifest; listed: ManifestFiles; parts: string[]; errors: string[] };
  let rowsA: Row[];

  it('embeds 1,000 images and broken objects through two workers into one row per planned object', async () => {
    const summary = await enqueue(['--run', 'run-a', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', '100']);
    expect(summary['objectsPlanned']).toBe(IMAGES + BROKEN_OBJECTS.length);
    expect(await waitForRunEnd(() => registry.get('run-a'))).toBe('completed');

    runA = await fetchRun('run-a', 'out/');
    const { manifest } = runA;
    expect(manifest.counts.planned).toBe(IMAGES + BROKEN_OBJECTS.length);
    expect(manifest.counts.ok).toBe(IMAGES);
    expect(manifest.counts.error).toBe(BROKEN_OBJECTS.length);
    expect(manifest.shards).toBe(Math.ceil((IMAGES + BROKEN_OBJECTS.length) / 100));

    rowsA = await query<Row>(`SELECT uri, sha256, width, height, embedding, tags FROM read_parquet(${files(runA.parts)}) ORDER BY uri`);
    expect(rowsA.length).toBe(manifest.counts.ok);
    expect(runA.listed.parts.reduce((n, part) => n + part.rows, 0)).toBe(rowsA.length);
    const errorRows = await query<{ uri: string; error_code: string }>(`SELECT uri, error_code FROM read_parquet(${files(runA.errors)}) ORDER BY uri`);
    expect(runA.listed.errors.reduce((n, file) => n + file.rows, 0)).toBe(errorRows.length);

    // Exactly one row per planned object, across both files.
    const planned = [...images.map((i) => i.name), ...BROKEN_OBJECTS.map((b) => b.name)].map((name) => `s3://${bucket}/src/${name}`).sort();
    expect([...rowsA.map((r) => r.uri), ...errorRows.map((r) => r.uri)].sort()).toEqual(planned);
    // The right error code for each broken object.
    expect(Object.fromEntries(errorRows.map((row) => [baseName(row.uri), row.error_code]))).toEqual(
      Object.fromEntries(BROKEN_OBJECTS.map((b) => [b.name, b.code])),
    );
    for (const row of rowsA) {
      expect(row.embedding.length).toBe(manifest.embeddingDim);
    }
    // Work amplification: inferred ≤ planned + objects of retried shards (none retried here).
    const record = await registry.get('run-a');
    expect(record!.inferred).toBeGreaterThanOrEqual(IMAGES);
    expect(record!.inferred).toBeLessThanOrEqual(IMAGES + (await retriedObjects('out/run-a/')));
  });

  it('stores embeddings equal to libs/model called directly', async () => {
    const model = await SiglipModel.load(TINY_MODEL, { device: 'cpu', intraOpThreads: 1 });
    try {
      const sample = rowsA.filter((_, i) => i % 50 === 0);
      for (const row of sample) {
        const image = images.find((i) => i.name === baseName(row.uri))!;
        const { pixels } = await model.preprocessor.preprocess(image.bytes);
        const direct = await model.embedImages(pixels, 1);
        expect(cosine(direct, row.embedding)).toBeGreaterThanOrEqual(0.9999);
        expect(row.sha256).toMatch(/^[0-9a-f]{64}$/);
      }
    } finally {
      await model.close();
    }
  });

  it('shows a finished run with its counts in `status`', async () => {
    const result = await runCli(['status', 'run-a', '--prefix', prefix], env);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(/run run-a: completed/);
    expect(result.stdout).toContain(`${IMAGES} ok, ${BROKEN_OBJECTS.length} error`);
    const json = JSON.parse((await runCli(['status', 'run-a', '--json', '--prefix', prefix], env)).stdout) as Record<string, unknown>;
    expect(Object.keys(json)).toEqual(expect.arrayContaining(['run', 'state', 'shards', 'objects', 'rate', 'eta']));
    expect(json['state']).toBe('completed');
  });

  it('adds nothing when a finished run is enqueued again after Redis dropped its jobs', async () => {
    const model = await inspectSiglipModel(TINY_MODEL, 'fp32');
    const queue = new Queue(queueNameForModel(model.hash, model.variant), { connection: redis, prefix });
    try {
      await queue.clean(0, 100_000, 'completed');
      const manifestBefore = await readObject('out/run-a/_manifest.json');
      const summary = await enqueue(['--run', 'run-a', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', '100']);
      expect(summary['alreadyComplete']).toBe(true);
      expect(summary['shardsEnqueued']).toBe(0);
      const counts = await queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed');
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(0);
      expect((await readObject('out/run-a/_manifest.json')).equals(manifestBefore)).toBe(true);
    } finally {
      await queue.close();
    }
  });

  it('gives the same rows with another shard size', async () => {
    await enqueue(['--run', 'run-b', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', '37']);
    expect(await waitForRunEnd(() => registry.get('run-b'))).toBe('completed');
    const runB = await fetchRun('run-b', 'out/');
    expect(runB.manifest.shards).toBe(Math.ceil((IMAGES + BROKEN_OBJECTS.length) / 37));
    const rowsB = await query<Row>(`SELECT uri, sha256, width, height, embedding, tags FROM read_parquet(${files(runB.parts)}) ORDER BY uri`);
    expectSameRows(rowsB, rowsA);
  });

  it('gives the same rows from a local-directory source', async () => {
    const out = join(work, 'local-out');
    await enqueue(['--run', 'run-local', '--source', join(work, 'local-source'), '--out', out, '--shard-size', '250']);
    expect(await waitForRunEnd(() => registry.get('run-local'))).toBe('completed');
    const manifest = runManifestSchema.parse(JSON.parse(readFileSync(join(out, 'run-local', '_manifest.json'), 'utf8')));
    const listed = await manifestFiles(manifest, async (key) => readFileSync(join(out, 'run-local', key)));
    const rows = await query<Row>(
      `SELECT uri, sha256, width, height, embedding, tags FROM read_parquet(${files(listed.parts.map((p) => join(out, 'run-local', p.key)))}) ORDER BY uri`,
    );
    expect(rows[0]!.uri).toMatch(/^file:\/\//);
    expectSameRows(rows, rowsA);
    expect(manifest.counts.byErrorCode).toEqual(runA.manifest.counts.byErrorCode);
  });

  it('passes the extra columns of a Parquet manifest through to the rows', async () => {
    const chosen = images.slice(0, 60);
    const manifestBytes = encodeManifestParquet({
      uri: [...chosen.map((i) => `s3://${bucket}/src/${i.name}`), `s3://${bucket}/src/does-not-exist.jpg`],
      extra: {
        columns: [
          { name: 'caption', type: 'string' },
          { name: 'id', type: 'int64' },
        ],
        values: [...chosen.map((image, i) => [`caption of ${image.name}`, String(1000 + i)]), ['missing', '9999']],
      },
    });
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'manifests/m.parquet', Body: manifestBytes }));
    await enqueue(['--run', 'run-manifest', '--source', `s3://${bucket}/manifests/m.parquet`, '--out', `s3://${bucket}/out/`, '--shard-size', '25']);
    expect(await waitForRunEnd(() => registry.get('run-manifest'))).toBe('completed');
    const run = await fetchRun('run-manifest', 'out/');
    const rows = await query<Row>(`SELECT uri, sha256, caption, id, embedding FROM read_parquet(${files(run.parts)}) ORDER BY id`);
    expect(rows.length).toBe(60);
    rows.forEach((row, i) => {
      expect(row.caption).toBe(`caption of ${chosen[i]!.name}`);
      expect(Number(row.id)).toBe(1000 + i);
    });
    const errors = await query<{ uri: string; error_code: string; caption: string }>(`SELECT uri, error_code, caption FROM read_parquet(${files(run.errors)})`);
    expect(errors).toEqual([{ uri: `s3://${bucket}/src/does-not-exist.jpg`, error_code: 'not_found', caption: 'missing' }]);
    expectSameRows(rows, rowsA.filter((r) => chosen.some((c) => r.uri.endsWith(`/${c.name}`))));
  });

  it('never lets a worker of another model take the runs’ jobs', async () => {
    const otherLog = otherWorker.log();
    expect(otherLog).toContain('"worker started"');
    expect(otherLog).not.toContain('"shard done"');
    const statsKeys = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'out/run-a/_stats/' }));
    const otherPid = String(otherWorker.child.pid);
    for (const object of statsKeys.Contents ?? []) {
      const stats = JSON.parse((await readObject(object.Key!)).toString()) as { worker: string };
      expect(stats.worker.endsWith(`:${otherPid}`)).toBe(false);
    }
  });
});

/** Objects run again by later executions of their shard (each may have been inferred once more per execution). */
async function retriedObjects(runPrefix: string): Promise<number> {
  const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: `${runPrefix}_stats/` }));
  let objects = 0;
  for (const object of listed.Contents ?? []) {
    const stats = JSON.parse((await readObject(object.Key!)).toString()) as { attempt: number; planned: number };
    objects += stats.planned * (stats.attempt - 1);
  }
  return objects;
}

function expectSameRows(actual: Row[], expected: Row[]): void {
  const byName = new Map(expected.map((row) => [baseName(row.uri), row]));
  expect(actual.length).toBe(expected.length);
  for (const row of actual) {
    const other = byName.get(baseName(row.uri));
    expect(other, baseName(row.uri)).toBeDefined();
    expect(row.sha256).toBe(other!.sha256);
    expect(cosine(row.embedding, other!.embedding)).toBeGreaterThanOrEqual(0.99999);
  }
}
