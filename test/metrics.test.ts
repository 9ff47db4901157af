/**
 * Worker metrics (issue 8): a real worker with `--metrics-port` over a small run of images and
 * broken objects, against real Redis and moto. Its `/metrics` counts every object by status and
 * error code exactly as `siglip-batch status --json` does, its histograms saw every batch and
 * shard, and its `/healthz` answers 200 while it runs with Redis, 503 while Redis is away.
 */
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunRegistry, inspectSiglipModel } from '@siglip-batch/pipeline';
import { queueNameForModel } from '@siglip-batch/jobs';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type StatusJson, type WorkerProcess } from './support/cli';
import { freePort } from './support/free-port';
import { parsePrometheusText, sumOf, type Sample } from './support/prometheus-text';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis';
import { BROKEN_OBJECTS, makeSampleImage } from './support/sample-images';
import { SuiteWorld } from './support/suite-world';

const IMAGES = 45;
const SHARD_SIZE = 10;
const BATCH_SIZE = 4;
const world = new SuiteWorld('metrics');
const { prefix, bucket, env } = world;

let s3: S3Client;
let redis: Redis;
let worker: WorkerProcess | undefined;
let metricsUrl: string;

async function scrape(url = metricsUrl): Promise<Sample[]> {
  const response = await fetch(`${url}/metrics`);
  expect(response.status).toBe(200);
  expect(response.headers.get('content-type')).toMatch(/^text\/plain/);
  return parsePrometheusText(await response.text());
}

async function healthz(url: string): Promise<{ status: number; body: string } | undefined> {
  try {
    const response = await fetch(`${url}/healthz`, { signal: AbortSignal.timeout(5_000) });
    return { status: response.status, body: await response.text() };
  } catch {
    return undefined;
  }
}

async function waitForHealth(url: string, status: number, timeoutMs = 60_000): Promise<{ status: number; body: string }> {
  const deadline = Date.now() + timeoutMs;
  let last: { status: number; body: string } | undefined;
  while (Date.now() < deadline) {
    last = await healthz(url);
    if (last?.status === status) return last;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`/healthz of ${url} did not answer ${status} within ${timeoutMs} ms; last: ${JSON.stringify(last)}`);
}

beforeAll(async () => {
  ({ s3, redis } = await world.open());
  const objects = [...(await Promise.all(Array.from({ length: IMAGES }, (_, i) => makeSampleImage(i)))), ...BROKEN_OBJECTS];
  await Promise.all(objects.map((object) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${object.name}`, Body: object.bytes }))));
  const port = await freePort();
  metricsUrl = `http://127.0.0.1:${port}`;
  worker = startWorker(
    ['--model', TINY_MODEL, '--threads', '1', '--batch-size', String(BATCH_SIZE), '--concurrency', '2', '--metrics-port', String(port)],
    env,
  );
  await waitForWorkerStart(worker);
}, 180_000);

afterAll(() => world.close(worker));

describe('worker metrics (--metrics-port)', () => {
  it('answers /healthz 200 once running, and describes itself in an info gauge', async () => {
    expect((await waitForHealth(metricsUrl, 200)).body).toBe('ok\n');
    const samples = await scrape();
    const info = samples.find((sample) => sample.name === 'siglip_batch_worker_info');
    const model = await inspectSiglipModel(TINY_MODEL);
    expect(info?.value).toBe(1);
    expect(info?.labels).toMatchObject({ device: 'cpu', variant: 'fp32', queue: queueNameForModel(model.hash, 'fp32') });
    expect(info?.labels['model']).toBeTruthy();
    expect(sumOf(samples, 'siglip_batch_objects_total')).toBe(0);
  });

  it('counts objects by status and error code as `status --json` does, and times every batch and shard', async () => {
    const enqueued = await runCli(
      ['enqueue', '--json', '--run', 'metrics-run', '--model', TINY_MODEL, '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', String(SHARD_SIZE)],
      env,
    );
    expect(enqueued.code, enqueued.stderr).toBe(0);
    const registry = new RunRegistry(redis, prefix);
    expect(await waitForRunEnd(() => registry.get('metrics-run'))).toBe('completed');

    const result = await runCli(['status', 'metrics-run', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const status = JSON.parse(result.stdout) as StatusJson;
    const planned = IMAGES + BROKEN_OBJECTS.length;
    const shards = Math.ceil(planned / SHARD_SIZE);
    expect(status.objects).toMatchObject({ planned, ok: IMAGES, error: BROKEN_OBJECTS.length });
    const expectedCodes: Record<string, number> = {};
    for (const broken of BROKEN_OBJECTS) expectedCodes[broken.code] = (expectedCodes[broken.code] ?? 0) + 1;
    expect(status.objects.byErrorCode).toEqual(expectedCodes);

    const samples = await scrape();
    // The same counts, from the worker's own /metrics.
    expect(sumOf(samples, 'siglip_batch_objects_total', { status: 'ok' })).toBe(status.objects.ok);
    expect(sumOf(samples, 'siglip_batch_objects_total', { status: 'error' })).toBe(status.objects.error);
    const metricCodes = Object.fromEntries(
      samples.filter((s) => s.name === 'siglip_batch_objects_total' && s.labels['status'] === 'error' && s.value > 0).map((s) => [s.labels['error_code'], s.value]),
    );
    expect(metricCodes).toEqual(status.objects.byErrorCode);
    expect(sumOf(samples, 'siglip_batch_inferred_images_total')).toBe(status.objects.inferred);

    // Shards: every one processed here, once, none failed; each waited in the queue and was timed.
    expect(sumOf(samples, 'siglip_batch_shards_processed_total', { outcome: 'done' })).toBe(shards);
    expect(sumOf(samples, 'siglip_batch_shards_failed_total')).toBe(0);
    expect(sumOf(samples, 'siglip_batch_queue_wait_seconds_count')).toBe(shards);
    expect(sumOf(samples, 'siglip_batch_queue_wait_seconds_sum')).toBeGreaterThan(0);
    expect(sumOf(samples, 'siglip_batch_shard_duration_seconds_count')).toBe(shards);
    expect(sumOf(samples, 'siglip_batch_active_shards')).toBe(0);

    // Batches: at most BATCH_SIZE images each, so at least ceil(images / BATCH_SIZE) of them.
    const batches = sumOf(samples, 'siglip_batch_inference_seconds_count');
    expect(batches).toBeGreaterThanOrEqual(Math.ceil(IMAGES / BATCH_SIZE));
    expect(sumOf(samples, 'siglip_batch_batch_latency_seconds_count')).toBe(batches);
    expect(sumOf(samples, 'siglip_batch_batch_images_count')).toBe(batches);
    expect(sumOf(samples, 'siglip_batch_batch_images_sum')).toBe(IMAGES);
    expect(sumOf(samples, 'siglip_batch_inference_seconds_sum')).toBeGreaterThan(0);
    // Histograms are cumulative: the +Inf bucket holds every observation.
    expect(sumOf(samples, 'siglip_batch_inference_seconds_bucket', { le: '+Inf' })).toBe(batches);
    expect(sumOf(samples, 'siglip_batch_batch_latency_seconds_bucket', { le: '+Inf' })).toBe(batches);
    expect(sumOf(samples, 'siglip_batch_batch_latency_seconds_sum')).toBeGreaterThanOrEqual(sumOf(samples, 'siglip_batch_inference_seconds_sum') * 0.99);
  });

  it('answers /healthz 503 while its Redis is away, and 200 again once it is back', async () => {
    let privateRedis: PrivateRedis | undefined;
    let other: WorkerProcess | undefined;
    try {
      privateRedis = await startPrivateRedis();
      const port = await freePort();
      const url = `http://127.0.0.1:${port}`;
      other = startWorker(['--model', TINY_MODEL, '--threads', '1', '--metrics-port', String(port)], { ...env, REDIS_URL: privateRedis.url });
      await waitForWorkerStart(other);
      await waitForHealth(url, 200);
      await privateRedis.kill('SIGKILL');
      expect((await waitForHealth(url, 503)).body).toMatch(/redis connection/);
      await privateRedis.restart({ keepData: false });
      await waitForHealth(url, 200);
    } finally {
      await other?.stop();
      await privateRedis?.stop();
    }
  });

  it('refuses a --metrics-port that is taken, naming it', async () => {
    const port = Number(new URL(metricsUrl).port);
    const taken = startWorker(['--model', TINY_MODEL, '--threads', '1', '--metrics-port', String(port)], env);
    const code = await new Promise<number | null>((resolve) => taken.child.once('exit', resolve));
    expect(code).toBe(2);
    expect(taken.log()).toMatch(new RegExp(`--metrics-port ${port}: .*EADDRINUSE`));
  });
});
