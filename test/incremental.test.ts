/**
 * Nightly runs against real Redis and moto: `enqueue --incremental` plans only new objects,
 * changed ETags and objects processed with another model, records vanished objects as
 * deletions; finalising updates the output's processed index (`<out>/_index/`); `latest`
 * writes the newest row per object across runs.
 */
import { DeleteObjectCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { S3ObjectStore } from '@siglip-batch/io';
import { ProcessedIndex, RunRegistry } from '@siglip-batch/pipeline';
import { manifestFiles } from './support/run-files';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { SuiteWorld } from './support/suite-world';
import { makeSampleImage } from './support/sample-images';

const world = new SuiteWorld('incremental');
const { prefix, bucket, env, readObject, readManifest } = world;
let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let worker: WorkerProcess;

beforeAll(async () => {
  ({ s3, redis } = await world.open());
  registry = new RunRegistry(redis, prefix);
  for (let i = 0; i < 12; i++) await put(i);
  worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8'], env);
  await waitForWorkerStart(worker);
}, 300_000);

afterAll(() => world.close(worker));

function name(i: number): string {
  return `img-${String(i).padStart(5, '0')}.png`;
}

async function put(i: number, variant = i): Promise<void> {
  const image = await makeSampleImage(variant);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${name(i)}`, Body: image.bytes }));
}

const rows = world.parquetRows;

async function nightly(run: string, extra: string[] = []): Promise<Record<string, unknown>> {
  const result = await runCli(
    ['enqueue', '--json', '--incremental', '--run', run, '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--labels', 'cat,dog', '--shard-size', '5', ...extra],
    env,
  );
  expect(result.code, result.stderr).toBe(0);
  const summary = JSON.parse(result.stdout) as Record<string, unknown>;
  expect(await waitForRunEnd(() => registry.get(run))).toBe('completed');
  // The finaliser merges every partition itself, removing each `index-partition` job no worker
  // took: none is left waiting with nothing to do (KEDA counts waiting jobs).
  const queue = new Queue(summary['queue'] as string, { connection: redis, prefix });
  try {
    const waiting = await queue.getJobs(['waiting', 'prioritized', 'delayed']);
    expect(waiting.filter((job) => job?.name === 'index-partition' && (job.data as { runId?: string }).runId === run).map((job) => job.id)).toEqual([]);
  } finally {
    await queue.close();
  }
  return summary;
}

const uri = (i: number) => `s3://${bucket}/src/${name(i)}`;

/** The output's processed index (partitioned, see libs/pipeline processed-index/processed-index.ts), read through the pipeline's reader. */
function processedIndex(): ProcessedIndex {
  return new ProcessedIndex({ store: new S3ObjectStore({ client: s3, bucket }), prefix: 'out/' });
}

async function indexEntries(): Promise<Array<{ uri: string; run: string; status: string }>> {
  const out: Array<{ uri: string; run: string; status: string }> = [];
  for await (const e of processedIndex().entries()) out.push({ uri: e.uri, run: e.run, status: e.status });
  return out;
}

/** Runs every partition has merged. */
async function indexedRuns(): Promise<string[]> {
  const pointers = await processedIndex().pointers();
  expect(pointers.length).toBe(16);
  const runs = pointers.map((p) => [...(p?.recentRuns ?? [])].sort().join(','));
  expect(new Set(runs).size).toBe(1);
  return runs[0]!.split(',');
}

describe('incremental runs', () => {
  it('plans everything the first night and indexes it when the run is finalised', async () => {
    const summary = await nightly('night-1');
    expect(summary['objectsPlanned']).toBe(12);
    expect(summary['incremental']).toEqual({ listed: 12, planned: 12, unchanged: 0, deleted: 0 });
    // Merged into every partition before the run is completed.
    expect(await indexedRuns()).toEqual(['night-1']);
    const indexed = await indexEntries();
    expect(indexed.map((r) => r.uri)).toEqual(Array.from({ length: 12 }, (_, i) => uri(i)));
    // Written as the shards committed: one contribution per shard (12 objects, shards of 5).
    const contributions = await rows<{ n: bigint }>('out/night-1/_index/00000000.parquet', (f) => `SELECT count(*) AS n FROM ${f}`);
    expect(Number(contributions[0]!.n)).toBe(5);
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

    const manifest = await readManifest('night-2');
    const listed = await manifestFiles(manifest, (key) => readObject(`out/night-2/${key}`));
    expect(manifest.counts.ok).toBe(3);
    expect(manifest.files!.deletions).toBe(listed.deletions.length);
    expect(listed.deletions.reduce((n, d) => n + d.rows, 0)).toBe(2);
    const deleted = await Promise.all(listed.deletions.map((d) => rows<{ uri: string; last_run: string }>(`out/night-2/${d.key}`, (f) => `SELECT uri, last_run FROM ${f}`)));
    expect(deleted.flat().sort((a, b) => a.uri.localeCompare(b.uri))).toEqual([
      { uri: uri(5), last_run: 'night-1' },
      { uri: uri(7), last_run: 'night-1' },
    ]);
    const planned = await Promise.all(listed.parts.map((p) => rows<{ uri: string }>(`out/night-2/${p.key}`, (f) => `SELECT uri FROM ${f}`)));
    expect(planned.flat().map((r) => r.uri).sort()).toEqual([uri(3), uri(12), uri(13)]);
  });

  it('plans nothing when nothing changed, and still completes (an empty run)', async () => {
    const summary = await nightly('night-3');
    expect(summary['objectsPlanned']).toBe(0);
    expect(summary['incremental']).toEqual({ listed: 12, planned: 0, unchanged: 12, deleted: 0 });
    expect(await indexedRuns()).toEqual(['night-1', 'night-2', 'night-3']);
    // 14 objects ever seen: 12 live, 2 tombstones.
    const indexed = await indexEntries();
    expect(indexed).toHaveLength(14);
    expect(indexed.filter((e) => e.status === 'deleted').map((e) => e.uri)).toEqual([uri(5), uri(7)]);
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
