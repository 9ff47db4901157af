/**
 * S3 Inventory reports as a source, against real Redis and moto, with reports written the way
 * S3 delivers them (test/support/s3-inventory.ts): `enqueue` from an inventory configuration's
 * folder plans exactly the objects its newest report lists (never listing the source bucket:
 * an object put there after the report is not planned), a nightly `--incremental` run from the
 * next report (Parquet this time) plans only new and changed objects and records deletions,
 * `embed` reads a report's manifest.json in one process, a schedule takes each night's newest
 * report, and bad reports are configuration errors (exit 2).
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, DeleteObjectCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RUN_LAYOUT } from '@siglip-batch/jobs';
import { RunRegistry } from '@siglip-batch/pipeline';
import { CLI, REPO_ROOT, TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { TEST_AWS_ENV, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { objectsOf, writeInventory, type WrittenInventory } from './support/s3-inventory';
import { makeSampleImage } from './support/sample-images';

const s3Endpoint = inject('s3Endpoint');
const redisUrl = inject('redisUrl');
const prefix = uniqueName('inv');
const source = uniqueName('photos').toLowerCase();
const dest = uniqueName('inventories').toLowerCase();
const work = mkdtempSync(join(tmpdir(), 'siglip-inventory-'));
const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3Endpoint, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: prefix };
const configUri = `s3://${dest}/reports/${source}/daily/`;
let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let worker: WorkerProcess;

/** Keys S3 URL-encodes in a CSV report: a space, a plus, a comma, unicode. */
const name = (i: number) => [`src/img ${i}.png`, `src/img+${i}.png`, `src/caf\u00e9,${i}.png`, `src/\u732b-${i}.png`][i % 4]!;
const uri = (i: number) => `s3://${source}/${name(i)}`;

beforeAll(async () => {
  s3 = makeS3Client(s3Endpoint);
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  registry = new RunRegistry(redis, prefix);
  await s3.send(new CreateBucketCommand({ Bucket: source }));
  await s3.send(new CreateBucketCommand({ Bucket: dest }));
  for (let i = 0; i < 8; i++) await put(i);
  worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8'], env);
  await waitForWorkerStart(worker);
}, 300_000);

afterAll(async () => {
  await worker?.stop();
  for (const bucket of [source, dest]) await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
  await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
  redis.disconnect();
  s3.destroy();
  rmSync(work, { recursive: true, force: true });
});

async function put(i: number, variant = i): Promise<void> {
  const image = await makeSampleImage(variant);
  await s3.send(new PutObjectCommand({ Bucket: source, Key: name(i), Body: image.bytes }));
}

/** Tonight's report of the source bucket, as S3 would deliver it. */
async function report(day: number, format: 'CSV' | 'Parquet'): Promise<WrittenInventory> {
  return writeInventory({
    s3,
    destinationBucket: dest,
    destinationPrefix: 'reports',
    sourceBucket: source,
    configId: 'daily',
    format,
    reportTime: new Date(Date.UTC(2026, 11, day, 1, 0)),
    objects: await objectsOf(s3, source),
    files: 3,
  });
}

async function readObject(key: string): Promise<Buffer> {
  const response = await s3.send(new GetObjectCommand({ Bucket: dest, Key: key }));
  return Buffer.from(await response.Body!.transformToByteArray());
}

async function parquetUris(key: string, column = 'uri'): Promise<string[]> {
  const path = join(work, key.replace(/\//g, '_'));
  writeFileSync(path, await readObject(key));
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return ((await connection.runAndReadAll(`SELECT ${column} AS u FROM read_parquet('${path}')`)).getRowObjectsJS() as Array<{ u: string }>).map((r) => r.u);
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

async function nightly(run: string): Promise<Record<string, unknown>> {
  const result = await runCli(
    ['enqueue', '--json', '--incremental', '--run', run, '--source-kind', 'inventory', '--source', configUri, '--out', `s3://${dest}/out/`, '--model', TINY_MODEL, '--labels', 'cat,dog', '--shard-size', '3'],
    env,
  );
  expect(result.code, result.stderr).toBe(0);
  const summary = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(await waitForRunEnd(() => registry.get(run))).toBe('completed');
  return summary;
}

/** The uris of a finished run's part files and deletions files (its folder's parts/ and deletions/). */
async function plannedUris(run: string): Promise<{ parts: string[]; deletions: string[] }> {
  expect(JSON.parse((await readObject(`out/${run}/_manifest.json`)).toString())).toMatchObject({ runId: run });
  const read = async (folder: string) => {
    const keys = (await objectsOf(s3, dest, `out/${run}/${folder}`)).map((o) => o.key);
    return (await Promise.all(keys.map((key) => parquetUris(key)))).flat().sort();
  };
  return { parts: await read(RUN_LAYOUT.partsDir), deletions: await read(RUN_LAYOUT.deletionsDir) };
}

describe('S3 Inventory sources', () => {
  it('plans exactly the objects of the newest report of a configuration, without listing the bucket', async () => {
    await report(4, 'CSV'); // an older report: not the one used
    const tonight = await report(5, 'CSV');
    // Put after the report: a listing would plan it, the report does not name it.
    await s3.send(new PutObjectCommand({ Bucket: source, Key: 'src/after-the-report.png', Body: (await makeSampleImage(60)).bytes }));

    const summary = await nightly('night-1');
    expect(summary['inventory']).toBe(tonight.manifestUri);
    expect(summary['objectsPlanned']).toBe(8);
    expect(summary['incremental']).toEqual({ listed: 8, planned: 8, unchanged: 0, deleted: 0 });
    const { parts } = await plannedUris('night-1');
    expect(parts).toEqual(Array.from({ length: 8 }, (_, i) => uri(i)).sort());
  });

  it('plans only new and changed objects from the next report (Parquet), and records deletions', async () => {
    await s3.send(new DeleteObjectCommand({ Bucket: source, Key: 'src/after-the-report.png' }));
    await put(8);
    await put(9);
    await put(2, 100); // rewritten: another ETag
    await s3.send(new DeleteObjectCommand({ Bucket: source, Key: name(5) }));
    await s3.send(new DeleteObjectCommand({ Bucket: source, Key: name(6) }));
    const tonight = await report(6, 'Parquet');
    await s3.send(new PutObjectCommand({ Bucket: source, Key: 'src/after-the-report.png', Body: (await makeSampleImage(61)).bytes }));

    const summary = await nightly('night-2');
    expect(summary['inventory']).toBe(tonight.manifestUri);
    expect(summary['incremental']).toEqual({ listed: 8, planned: 3, unchanged: 5, deleted: 2 });
    const { parts, deletions } = await plannedUris('night-2');
    expect(parts).toEqual([uri(2), uri(8), uri(9)].sort());
    expect(deletions).toEqual([uri(5), uri(6)].sort());
  });

  it('embeds a report in one process with `embed`', async () => {
    const tonight = await report(7, 'CSV');
    const out = join(work, 'embed-out');
    const result = await runCli(['embed', '--json', '--run', 'local-1', '--source', tonight.manifestUri, '--out', out, '--model', TINY_MODEL, '--labels', 'cat,dog'], env);
    expect(result.code, result.stderr).toBe(0);
    const printed = JSON.parse(result.stdout) as { counts: { ok: number; error: number } };
    // Tonight's report: 0–4, 7, 8, 9, and the object put after the last report.
    expect(printed.counts).toMatchObject({ ok: 9, error: 0 });
    const spec = JSON.parse(readFileSync(join(out, 'local-1', '_run.json'), 'utf8')) as { sourceKind: string; source: string };
    expect(spec).toMatchObject({ sourceKind: 's3-inventory', source: tonight.manifestUri });
  });

  it('runs nightly from a schedule: each firing takes the newest report of the configuration', async () => {
    const refused = await runCli(['schedule', '--name', 'inv', '--every', '3000', '--source', (await report(7, 'CSV')).manifestUri, '--out', `s3://${dest}/out/`, '--model', TINY_MODEL], env);
    expect(refused.code, refused.stderr).toBe(2);
    expect(refused.stderr).toMatch(/is one S3 Inventory report: a schedule needs the inventory's configuration folder/);
    const newest = await report(8, 'CSV');
    const scheduled = await runCli(['schedule', '--name', 'inv', '--every', '3000', '--source-kind', 'inventory', '--source', configUri, '--out', `s3://${dest}/out/`, '--model', TINY_MODEL, '--labels', 'cat,dog'], env);
    expect(scheduled.code, scheduled.stderr).toBe(0);
    const scheduler = spawn(CLI, ['scheduler'], { env, cwd: REPO_ROOT, stdio: 'ignore' });
    try {
      const lastRun = `${prefix}:siglip:schedule:inv:last-run`;
      let run: string | null = null;
      for (let i = 0; i < 300 && run === null; i++) {
        run = await redis.get(lastRun);
        if (run === null) await new Promise((resolve) => setTimeout(resolve, 200));
      }
      expect(run).toMatch(/^inv-\d{8}-\d{6}$/);
      expect(await waitForRunEnd(() => registry.get(run!))).toBe('completed');
      const spec = JSON.parse((await readObject(`out/${run!}/_run.json`)).toString()) as { source: string; sourceKind: string; incremental: boolean };
      expect(spec).toMatchObject({ source: newest.manifestUri, sourceKind: 's3-inventory', incremental: true });
      // Since night-2: only the object put after that report is new.
      expect((await plannedUris(run!)).parts).toEqual([`s3://${source}/src/after-the-report.png`]);
    } finally {
      expect((await runCli(['schedule', '--remove', 'inv'], env)).code).toBe(0);
      scheduler.kill('SIGTERM');
      await new Promise((resolve) => (scheduler.exitCode !== null ? resolve(null) : scheduler.once('exit', resolve)));
    }
  });

  it.each([
    ['ORC', (t: string) => t.replace('"fileFormat": "CSV"', '"fileFormat": "ORC"'), /the report is ORC: only CSV and Parquet inventories are read/],
    ['no Key column', (t: string) => t.replace('Bucket, Key, Size', 'Bucket, Size'), /"fileSchema" has no Key column/],
  ])('refuses a report with %s as a configuration error (exit 2)', async (_what, alter, message) => {
    const bad = await writeInventory({
      s3,
      destinationBucket: dest,
      destinationPrefix: 'bad',
      sourceBucket: source,
      configId: `c-${_what.replace(/\W/g, '')}`,
      format: 'CSV',
      reportTime: new Date(Date.UTC(2026, 11, 8, 1, 0)),
      objects: await objectsOf(s3, source),
      alterManifest: alter,
    });
    const result = await runCli(['enqueue', '--run', 'bad-1', '--source', bad.manifestUri, '--out', `s3://${dest}/out/`, '--model', TINY_MODEL], env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(message);
  });

  it('refuses a report whose manifest.json does not match its manifest.checksum, and a folder without reports (exit 2)', async () => {
    const tonight = await report(9, 'CSV');
    await s3.send(new PutObjectCommand({ Bucket: dest, Key: tonight.manifestKey, Body: `${(await readObject(tonight.manifestKey)).toString()}\n` }));
    let result = await runCli(['enqueue', '--run', 'bad-2', '--source', tonight.manifestUri, '--out', `s3://${dest}/out/`, '--model', TINY_MODEL], env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/does not match its manifest.checksum/);
    result = await runCli(['enqueue', '--run', 'bad-3', '--source-kind', 'inventory', '--source', `s3://${source}/src/`, '--out', `s3://${dest}/out/`, '--model', TINY_MODEL], env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/holds no inventory report/);
    const hive = `s3://${dest}/reports/${source}/daily/hive/dt=2026-12-09-01-00/symlink.txt`;
    result = await runCli(['enqueue', '--run', 'bad-4', '--source', hive, '--out', `s3://${dest}/out/`, '--model', TINY_MODEL], env);
    expect(result.code, result.stderr).toBe(2);
    expect(result.stderr).toMatch(/is the Hive symlink file of an S3 Inventory report: give the report's manifest.json/);
  });
});
