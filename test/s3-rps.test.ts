/**
 * The fleet-wide S3 request budget (issue 8, "Fleet"): two `siglip-batch worker` processes with
 * `--s3-rps` over one run against moto and real Redis. The run completes with every row, and
 * the limiter's own account in Redis (grants per second of Redis time) never shows more than
 * `rps + burst` requests in a second; both workers took tokens from the one budget, as their
 * `/metrics` say. Bad values of the flag are refused at start.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDBInstance } from '@duckdb/node-api';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runManifestSchema } from '@siglip-batch/jobs';
import { RunRegistry } from '@siglip-batch/pipeline';
import { readGrantCounts } from '@siglip-batch/io';
import { manifestFiles } from './support/run-files';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { freePort } from './support/free-port';
import { parsePrometheusText, sumOf } from './support/prometheus-text';
import { BROKEN_OBJECTS, makeSampleImage } from './support/sample-images';
import { SuiteWorld } from './support/suite-world';

const IMAGES = 36;
const RPS = 12;
const BURST = 4;
const world = new SuiteWorld('s3rps');
const { prefix, bucket, work, env, readObject } = world;

let s3: S3Client;
let redis: Redis;
let workers: WorkerProcess[] = [];
let ports: number[] = [];
let uris: string[] = [];

beforeAll(async () => {
  ({ s3, redis } = await world.open());
  const objects = [...(await Promise.all(Array.from({ length: IMAGES }, (_, i) => makeSampleImage(i)))).map((image) => ({ name: image.name, bytes: image.bytes })), ...BROKEN_OBJECTS.slice(0, 2)];
  await Promise.all(objects.map((object) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${object.name}`, Body: object.bytes }))));
  uris = objects.map((object) => `s3://${bucket}/src/${object.name}`).sort();
  ports = [await freePort(), await freePort()];
  workers = ports.map((port) =>
    startWorker(
      ['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8', '--concurrency', '2', '--s3-rps', String(RPS), '--s3-burst', String(BURST), '--metrics-port', String(port)],
      env,
    ),
  );
  await Promise.all(workers.map((worker) => waitForWorkerStart(worker)));
}, 180_000);

afterAll(async () => {
  await Promise.all(workers.map((worker) => worker.stop()));
  await world.close();
});

async function query<T>(sql: string): Promise<T[]> {
  const db = await DuckDBInstance.create(':memory:');
  const connection = await db.connect();
  try {
    return (await connection.runAndReadAll(sql)).getRowObjectsJS() as T[];
  } finally {
    connection.closeSync();
    db.closeSync();
  }
}

describe('--s3-rps: one S3 request budget for the fleet', () => {
  it('two limited workers complete a run with every row, never over rps + burst requests in a second', async () => {
    const enqueue = await runCli(
      ['enqueue', '--json', '--run', 'rps', '--model', TINY_MODEL, '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', '4'],
      env,
    );
    expect(enqueue.code, enqueue.stderr).toBe(0);
    expect(await waitForRunEnd(() => new RunRegistry(redis, prefix).get('rps'))).toBe('completed');

    // Every planned object has exactly one row, through the manifest.
    const manifest = runManifestSchema.parse(JSON.parse((await readObject('out/rps/_manifest.json')).toString()));
    const listed = await manifestFiles(manifest, (key) => readObject(`out/rps/${key}`));
    const dir = join(work, 'rps');
    mkdirSync(dir, { recursive: true });
    const paths = await Promise.all(
      [...listed.parts, ...listed.errors].map(async (file) => {
        const path = join(dir, file.key.replaceAll('/', '_'));
        writeFileSync(path, await readObject(`out/rps/${file.key}`));
        return `'${path}'`;
      }),
    );
    const rows = await query<{ uri: string }>(`SELECT uri FROM read_parquet([${paths.join(',')}], union_by_name = true) ORDER BY uri`);
    expect(rows.map((row) => row.uri)).toEqual(uris);
    expect(manifest.counts).toMatchObject({ planned: uris.length, ok: IMAGES, error: 2 });

    // The limiter's account, kept in Redis per second of Redis's clock.
    const perSecond = await readGrantCounts(redis, prefix);
    const granted = [...perSecond.values()].reduce((a, b) => a + b, 0);
    // Per shard at least: the plan, its objects, the part and the stats.
    expect(granted).toBeGreaterThanOrEqual(uris.length + 3 * Math.ceil(uris.length / 4));
    for (const [second, n] of perSecond) expect(n, `grants in second ${second}`).toBeLessThanOrEqual(RPS + BURST);

    // Both workers spent the one budget, and their metrics account for every grant.
    const perWorker = await Promise.all(
      ports.map(async (port) => sumOf(parsePrometheusText(await (await fetch(`http://127.0.0.1:${port}/metrics`)).text()), 'siglip_batch_s3_rate_limit_grants_total')),
    );
    for (const n of perWorker) expect(n).toBeGreaterThan(0);
    expect(perWorker[0]! + perWorker[1]!).toBe(granted);
  });

  it.each(['0', 'abc', '-2'])('--s3-rps %s is refused at start as a configuration error', async (value) => {
    const result = await runCli(['worker', '--model', TINY_MODEL, '--threads', '1', '--s3-rps', value], env);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/invalid configuration: S3 rate limit: --s3-rps must be a positive number of requests per second, got "/);
    expect(result.stderr).toContain(JSON.stringify(value));
  });
});
