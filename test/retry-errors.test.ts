/**
 * Re-running only what failed: `embed` and `enqueue --retry-errors <run folder> [--codes …]` plan
 * exactly the objects of a finalised run's errors files into a new run (one process over local
 * folders; the queue over real Redis and moto), and incremental runs plan error entries again
 * once they are older than `--retry-errors-after`.
 */
import { copyFileSync, cpSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { planFileSchema, runManifestSchema, runSpecSchema } from '@siglip-batch/jobs';
import { RunRegistry } from '@siglip-batch/pipeline';
import { manifestFiles } from './support/run-files';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { TEST_AWS_ENV, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { BROKEN_OBJECTS, makeSampleImage } from './support/sample-images';

const work = mkdtempSync(join(tmpdir(), 'siglip-retry-'));
const images = join(work, 'images');
const out = join(work, 'out');
const local = { ...process.env, REDIS_URL: 'redis://127.0.0.1:1' };
const GOOD = 4;

async function sql<T>(query: string): Promise<T[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(query)).getRowObjectsJS() as T[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

function manifestOf(run: string) {
  return runManifestSchema.parse(JSON.parse(readFileSync(join(out, run, '_manifest.json'), 'utf8')));
}

/** The objects a run planned, from its frozen plans. */
function plannedOf(folder: string) {
  return readdirSync(join(folder, '_plan'))
    .filter((name) => /^\d+\.json$/.test(name))
    .sort()
    .flatMap((name) => planFileSchema.parse(JSON.parse(readFileSync(join(folder, '_plan', name), 'utf8'))).objects);
}

function files(run: string, keys: Array<{ key: string }>): string {
  return `read_parquet([${keys.map((file) => `'${join(out, run, file.key)}'`).join(', ')}])`;
}

const embed = (args: string[]) => runCli(['embed', '--model', TINY_MODEL, '--threads', '1', '--shard-size', '3', ...args], local);

describe('embed --retry-errors (one process, local folders)', () => {
  beforeAll(async () => {
    mkdirSync(images, { recursive: true });
    const names: string[] = [];
    for (let i = 0; i < GOOD; i++) {
      const image = await makeSampleImage(7000 + i);
      writeFileSync(join(images, image.name), image.bytes);
      names.push(image.name);
    }
    for (const broken of BROKEN_OBJECTS) {
      writeFileSync(join(images, broken.name), broken.bytes);
      names.push(broken.name);
    }
    // A Parquet manifest with a pass-through column: the retry's rows carry it too.
    const rows = names.map((name) => `('${name}', 'caption of ${name}')`).join(', ');
    await sql(`COPY (SELECT * FROM (VALUES ${rows}) AS t(uri, caption)) TO '${join(images, 'list.parquet')}' (FORMAT parquet)`);
    const base = await embed(['--source', join(images, 'list.parquet'), '--out', out, '--run', 'base']);
    expect(base.stderr).toContain(`${GOOD} embedded, ${BROKEN_OBJECTS.length} errors`);
  }, 120_000);

  afterAll(() => rmSync(work, { recursive: true, force: true }));

  it("plans exactly the run's error objects, with their etag, size and extra columns, into a new run beside it; a fixed object becomes an ok row", async () => {
    const base = await manifestFiles(manifestOf('base'), async (key) => readFileSync(join(out, 'base', key)));
    const errors = await sql<{ uri: string; etag: string | null; size_bytes: bigint | null; caption: string }>(
      `SELECT uri, etag, size_bytes, caption FROM ${files('base', base.errors)} ORDER BY uri`,
    );
    expect(errors.map((row) => row.uri.split('/').pop()).sort()).toEqual(BROKEN_OBJECTS.map((b) => b.name).sort());
    // Fix one of them in the source.
    const fixed = BROKEN_OBJECTS.find((b) => b.code === 'unsupported_format')!;
    copyFileSync(join(images, (await makeSampleImage(7000)).name), join(images, fixed.name));

    const retry = await embed(['--retry-errors', join(out, 'base'), '--run', 'retry-1']);
    expect(retry.code, retry.stderr).toBe(0);
    expect(retry.stdout.trim()).toBe(`file://${out}/retry-1`);

    const planned = plannedOf(join(out, 'retry-1'));
    expect(planned.map((object) => ({ uri: object.uri, etag: object.etag, size: object.size, extra: object.extra })).sort((a, b) => a.uri.localeCompare(b.uri))).toEqual(
      errors.map((row) => ({ uri: row.uri, etag: row.etag, size: row.size_bytes === null ? null : Number(row.size_bytes), extra: [row.caption] })),
    );
    const spec = runSpecSchema.parse(JSON.parse(readFileSync(join(out, 'retry-1', '_run.json'), 'utf8')));
    expect(spec).toMatchObject({ sourceKind: 'errors', source: `file://${out}/base`, retryErrors: { codes: null, objectSourceKind: 'manifest-parquet' } });

    const manifest = manifestOf('retry-1');
    expect(manifest.counts).toMatchObject({ planned: BROKEN_OBJECTS.length, ok: 1, error: BROKEN_OBJECTS.length - 1 });
    const listed = await manifestFiles(manifest, async (key) => readFileSync(join(out, 'retry-1', key)));
    const ok = await sql<{ uri: string; caption: string }>(`SELECT uri, caption FROM ${files('retry-1', listed.parts)}`);
    expect(ok).toEqual([{ uri: `file://${images}/${fixed.name}`, caption: `caption of ${fixed.name}` }]);
  });

  it('refuses codes that are not error codes, a run that is not finalised, and --source with --retry-errors', async () => {
    const typo = await embed(['--retry-errors', join(out, 'base'), '--codes', 'decode_failed,decoded_failed', '--run', 'retry-typo']);
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('--codes: "decoded_failed" is not an error code; error codes are not_found,');

    cpSync(join(out, 'base'), join(out, 'unfinished'), { recursive: true });
    rmSync(join(out, 'unfinished', '_manifest.json'));
    const unfinished = await embed(['--retry-errors', join(out, 'unfinished'), '--run', 'retry-unfinished']);
    expect(unfinished.code).not.toBe(0);
    expect(unfinished.stderr).toContain(`cannot retry the errors of file://${out}/unfinished: it has no _manifest.json, so the run is not finalised`);

    const both = await embed(['--retry-errors', join(out, 'base'), '--source', images, '--run', 'retry-both']);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('give --source or --retry-errors, not both');
    for (const run of ['retry-typo', 'retry-unfinished', 'retry-both']) expect(readdirSync(out)).not.toContain(run);
  });
});

describe('enqueue --retry-errors and --retry-errors-after (queue: Redis + moto)', () => {
  const s3Endpoint = inject('s3Endpoint');
  const redisUrl = inject('redisUrl');
  const prefix = uniqueName('retry');
  const bucket = uniqueName('retry-errors').toLowerCase();
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
    for (let i = 0; i < GOOD; i++) {
      const image = await makeSampleImage(7100 + i);
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${image.name}`, Body: image.bytes }));
    }
    for (const broken of BROKEN_OBJECTS) await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${broken.name}`, Body: broken.bytes }));
    worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8'], env);
    await waitForWorkerStart(worker);
  }, 300_000);

  afterAll(async () => {
    await worker?.stop();
    await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
    await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
    redis.disconnect();
    s3.destroy();
  });

  async function json(key: string): Promise<unknown> {
    const response = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    return JSON.parse(await response.Body!.transformToString());
  }

  async function enqueue(run: string, args: string[]): Promise<Record<string, unknown>> {
    const result = await runCli(['enqueue', '--json', '--run', run, '--model', TINY_MODEL, '--shard-size', '3', ...args], env);
    expect(result.code, result.stderr).toBe(0);
    expect(await waitForRunEnd(() => registry.get(run))).toBe('completed');
    return JSON.parse(result.stdout) as Record<string, unknown>;
  }

  const incremental = (run: string, after: string) =>
    enqueue(run, ['--incremental', '--retry-errors-after', after, '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`]);

  it('plans the errors of a run through the queue, resumably, from what its _run.json froze', async () => {
    await enqueue('night-1', ['--incremental', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`]);
    const retry = await enqueue('retry-q', ['--retry-errors', `s3://${bucket}/out/night-1/`, '--codes', 'unsupported_format']);
    const wanted = BROKEN_OBJECTS.filter((b) => b.code === 'unsupported_format');
    expect(retry['objectsPlanned']).toBe(wanted.length);
    const manifest = runManifestSchema.parse(await json('out/retry-q/_manifest.json'));
    expect(manifest.counts).toMatchObject({ planned: wanted.length, ok: 0, error: wanted.length, byErrorCode: { unsupported_format: wanted.length } });
    // --codes: exactly the rows with that code, one shard of them.
    const plan = planFileSchema.parse(await json('out/retry-q/_plan/00000000.json'));
    expect(plan.objects.map((object) => object.uri).sort()).toEqual(wanted.map((b) => `s3://${bucket}/src/${b.name}`).sort());
    const spec = runSpecSchema.parse(await json('out/retry-q/_run.json'));
    expect(spec.retryErrors).toEqual({ codes: ['unsupported_format'], objectSource: `s3://${bucket}/src/`, objectSourceKind: 's3' });

    const resumed = await runCli(['enqueue', '--json', '--resume', 'retry-q', '--out', `s3://${bucket}/out/`], env);
    expect(resumed.code, resumed.stderr).toBe(0);
    expect(JSON.parse(resumed.stdout)).toMatchObject({ alreadyComplete: true, objectsPlanned: wanted.length });
  });

  it('--retry-errors-after plans unchanged error entries older than the duration again, and not recent ones', async () => {
    const recent = await incremental('night-2', '1h');
    expect(recent['incremental']).toEqual({ listed: GOOD + BROKEN_OBJECTS.length, planned: 0, unchanged: GOOD + BROKEN_OBJECTS.length, deleted: 0, retried: 0 });
    // night-1's error entries are now more than a second old.
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const old = await incremental('night-3', '1s');
    expect(old['incremental']).toEqual({ listed: GOOD + BROKEN_OBJECTS.length, planned: BROKEN_OBJECTS.length, unchanged: GOOD, deleted: 0, retried: BROKEN_OBJECTS.length });
    const manifest = runManifestSchema.parse(await json('out/night-3/_manifest.json'));
    expect(manifest.counts).toMatchObject({ planned: BROKEN_OBJECTS.length, error: BROKEN_OBJECTS.length });
  });

  it('refuses a duration that is not one, and --retry-errors-after without --incremental', async () => {
    const bad = await runCli(['enqueue', '--run', 'bad-1', '--incremental', '--retry-errors-after', '7days', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL], env);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--retry-errors-after: "7days" is not a duration: use whole numbers with units s, m, h, d or w, e.g. 7d, 12h');
    const alone = await runCli(['enqueue', '--run', 'bad-2', '--retry-errors-after', '7d', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL], env);
    expect(alone.code).not.toBe(0);
    expect(alone.stderr).toContain('--retry-errors-after applies to incremental runs only: add --incremental');
  });
});
