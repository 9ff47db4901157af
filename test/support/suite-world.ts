/**
 * One test file's own corner of the shared services, for suites whose tests share one set-up
 * (a worker, runs) made in `beforeAll` — where harness.ts's fixtures are per test. It owns an S3
 * bucket, a Redis key prefix and a scratch folder, the environment a child process (CLI, worker)
 * needs to reach them, and clients for the checks; `close` stops the given processes, then
 * removes all of it.
 *
 *   const world = new SuiteWorld('compact');
 *   const { prefix, bucket, work, env } = world;
 *   let s3: S3Client;
 *   let redis: Redis;
 *   beforeAll(async () => ({ s3, redis } = await world.open()));
 *   afterAll(() => world.close(worker));
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CreateBucketCommand, GetObjectCommand, HeadObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { runManifestSchema, type RunManifest } from '@siglip-batch/jobs';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { TEST_AWS_ENV, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './harness';
import { manifestFiles, type ManifestFiles } from './run-files';
import './provided-context';

export interface SuiteWorldOptions {
  /** `SIGLIP_BATCH_CACHE` in the child environment: a folder of the scratch folder (default false). */
  cache?: boolean;
}

/** A process `close` stops first (a worker, a scheduler). */
export interface Stoppable {
  stop(): Promise<unknown>;
}

export class SuiteWorld {
  readonly s3Endpoint = inject('s3Endpoint');
  readonly redisUrl = inject('redisUrl');
  /** The Redis key prefix (`SIGLIP_BATCH_PREFIX`) of this file alone. */
  readonly prefix: string;
  /** The bucket of this file alone, created by `open`. */
  readonly bucket: string;
  /** A scratch folder of this file alone. */
  readonly work: string;
  /** Environment for child processes: test credentials, the S3 endpoint, Redis and the prefix. */
  readonly env: NodeJS.ProcessEnv;
  private clients: { s3: S3Client; redis: Redis } | undefined;

  constructor(stem: string, options: SuiteWorldOptions = {}) {
    this.prefix = uniqueName(stem);
    this.bucket = uniqueName(stem).toLowerCase();
    this.work = mkdtempSync(join(tmpdir(), `siglip-${stem}-`));
    this.env = {
      ...process.env,
      ...TEST_AWS_ENV,
      AWS_ENDPOINT_URL_S3: this.s3Endpoint,
      REDIS_URL: this.redisUrl,
      SIGLIP_BATCH_PREFIX: this.prefix,
      ...(options.cache ? { SIGLIP_BATCH_CACHE: join(this.work, 'cache') } : {}),
    };
  }

  /** Connects the clients and creates the bucket. */
  async open(): Promise<{ s3: S3Client; redis: Redis }> {
    const s3 = makeS3Client(this.s3Endpoint);
    const redis = new Redis(this.redisUrl, { maxRetriesPerRequest: 2 });
    this.clients = { s3, redis };
    await s3.send(new CreateBucketCommand({ Bucket: this.bucket }));
    return this.clients;
  }

  /** Stops `processes` (in order), then deletes the bucket, the prefix's keys and the scratch folder. */
  async close(...processes: Array<Stoppable | undefined>): Promise<void> {
    for (const process of processes) await process?.stop();
    if (this.clients) {
      const { s3, redis } = this.clients;
      await emptyAndDeleteBucket(s3, this.bucket).catch(() => undefined);
      await deleteKeysWithPrefix(redis, this.prefix).catch(() => undefined);
      redis.disconnect();
      s3.destroy();
      this.clients = undefined;
    }
    rmSync(this.work, { recursive: true, force: true });
  }

  private get s3(): S3Client {
    if (!this.clients) throw new Error('SuiteWorld: open() first');
    return this.clients.s3;
  }

  /** The bytes of a key of the bucket. */
  readonly readObject = async (key: string): Promise<Buffer> => {
    const response = await this.s3.send(new GetObjectCommand({ Bucket: this.bucket, Key: key }));
    return Buffer.from(await response.Body!.transformToByteArray());
  };

  /** The keys under a prefix of the bucket (one page: test folders are small). */
  readonly keysUnder = async (keyPrefix: string): Promise<string[]> => {
    const listed = await this.s3.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: keyPrefix }));
    return (listed.Contents ?? []).map((object) => object.Key!);
  };

  readonly exists = async (key: string): Promise<boolean> =>
    this.s3.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key })).then(
      () => true,
      () => false,
    );

  /** A run's `_manifest.json` under `out` (a key prefix ending in `/`), checked by its schema. */
  readonly readManifest = async (run: string, out = 'out/'): Promise<RunManifest> =>
    runManifestSchema.parse(JSON.parse((await this.readObject(`${out}${run}/_manifest.json`)).toString()));

  /** The files a run's manifest lists (part, errors, deletions, replaced). */
  readonly runFiles = async (run: string, out = 'out/'): Promise<ManifestFiles> =>
    manifestFiles(await this.readManifest(run, out), (key) => this.readObject(`${out}${run}/${key}`));

  /** Rows of a Parquet object read by DuckDB: `sql` gets the `read_parquet(…)` to select from. */
  readonly parquetRows = async <T>(key: string, sql: (from: string) => string): Promise<T[]> => {
    const path = join(this.work, `rows-${key.replace(/\//g, '_')}`);
    writeFileSync(path, await this.readObject(key));
    const db = await DuckDBInstance.create(':memory:');
    const connection = await db.connect();
    try {
      return (await connection.runAndReadAll(sql(`read_parquet('${path}')`))).getRowObjectsJS() as T[];
    } finally {
      connection.closeSync();
      db.closeSync();
    }
  };
}
