/**
 * Soak (issue 6, scenario 12), outside CI: 20,000 small images through two workers, on a
 * private Redis and a moto of its own. Passes when each worker's resident set grows < 10 %
 * after warm-up, Redis `used_memory` stays < 50 MB, no job is left active, waiting, delayed or
 * failed at the end, and the run passes the strong check (nothing lost, nothing doubled).
 *
 *   npm run soak                      # SOAK_IMAGES=2000 for a shorter run
 */
import { CreateBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import sharp from 'sharp';
import { queueNameForModel } from '@siglip-batch/jobs';
import { RunRegistry, inspectSiglipModel } from '@siglip-batch/pipeline';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from '../support/cli';
import { checkRun } from '../support/fault-checks';
import { startMotoServer } from '../support/moto-server';
import { startPrivateRedis } from '../support/private-redis';
import { MiB, descendantPids, redisUsedMemory, rssGrowthAfterWarmup, startRssSampler, type RssSampler } from '../support/process-metrics';

// Not from ../support/harness: that module extends vitest's `test`, which only loads inside vitest.
const TEST_AWS_ENV = { AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing', AWS_REGION: 'us-east-1' } as const;

function makeS3Client(endpoint: string): S3Client {
  return new S3Client({
    endpoint,
    region: TEST_AWS_ENV.AWS_REGION,
    forcePathStyle: true,
    credentials: { accessKeyId: TEST_AWS_ENV.AWS_ACCESS_KEY_ID, secretAccessKey: TEST_AWS_ENV.AWS_SECRET_ACCESS_KEY },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

const IMAGES = Number(process.env['SOAK_IMAGES'] ?? 20_000);
const SHARD_SIZE = 250;
const RSS_GROWTH_LIMIT = 0.1;
const REDIS_LIMIT = 50 * MiB;

function log(message: string): void {
  process.stdout.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${message}\n`);
}

/** A small image: seeded noise over a gradient, 24–64 px, JPEG or PNG. */
async function smallImage(index: number): Promise<{ name: string; bytes: Buffer }> {
  let state = (index * 2654435761) >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const width = 24 + Math.floor(random() * 40);
  const height = 24 + Math.floor(random() * 40);
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = Math.floor(random() * 256);
  const image = sharp(pixels, { raw: { width, height, channels: 3 } });
  const jpeg = index % 2 === 0;
  return { name: `s-${String(index).padStart(6, '0')}.${jpeg ? 'jpg' : 'png'}`, bytes: jpeg ? await image.jpeg().toBuffer() : await image.png().toBuffer() };
}

async function main(): Promise<number> {
  const moto = await startMotoServer();
  const redisServer = await startPrivateRedis();
  const s3 = makeS3Client(moto.endpoint);
  const redis = new Redis(redisServer.url, { maxRetriesPerRequest: null });
  const prefix = 'soak';
  const bucket = 'soak';
  const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: moto.endpoint, REDIS_URL: redisServer.url, SIGLIP_BATCH_PREFIX: prefix };
  const workers: WorkerProcess[] = [];
  const samplers: RssSampler[] = [];
  try {
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    log(`uploading ${IMAGES} images`);
    for (let i = 0; i < IMAGES; i += 64) {
      await Promise.all(
        Array.from({ length: Math.min(64, IMAGES - i) }, async (_, j) => {
          const image = await smallImage(i + j);
          await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${image.name}`, Body: image.bytes }));
        }),
      );
    }
    for (let i = 0; i < 2; i++) {
      const worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '32', '--concurrency', '2'], env);
      workers.push(worker);
      await waitForWorkerStart(worker);
    }
    for (const worker of workers) {
      const app = descendantPids(worker.child.pid!)[0] ?? worker.child.pid!;
      samplers.push(startRssSampler(app, { intervalMs: 1000 }));
    }
    const samplersStarted = Date.now();
    log('enqueuing');
    const started = Date.now();
    let redisPeak = 0;
    const redisWatch = setInterval(() => {
      void redisUsedMemory(redis).then((m) => (redisPeak = Math.max(redisPeak, m.usedMemory)), () => undefined);
    }, 1000);
    const enqueued = await runCli(['enqueue', '--json', '--run', 'soak', '--model', TINY_MODEL, '--labels', 'cat,dog', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', String(SHARD_SIZE)], env, 600_000);
    if (enqueued.code !== 0) throw new Error(`enqueue failed: ${enqueued.stderr}`);
    const registry = new RunRegistry(redis, prefix);
    const state = await waitForRunEnd(() => registry.get('soak'), 3 * 3600_000);
    const durationMs = Date.now() - started;
    clearInterval(redisWatch);
    const memory = await redisUsedMemory(redis);
    redisPeak = Math.max(redisPeak, memory.usedMemory);
    const model = await inspectSiglipModel(TINY_MODEL, 'fp32');
    const queue = new Queue(queueNameForModel(model.hash, model.variant), { connection: redis, prefix });
    const counts = await queue.getJobCounts('active', 'waiting', 'prioritized', 'delayed', 'failed');
    await queue.close();
    const record = await registry.get('soak');
    const check = await checkRun({ s3, bucket, runPrefix: 'out/soak/', inferred: record!.inferred });

    // Warm-up: the first fifth of the run (model loaded, pools and caches filled), counted
    // from the samplers' start (they start with the workers, before the enqueue).
    const warmupMs = started - samplersStarted + Math.floor(durationMs / 5);
    const figures = samplers.map((sampler, i) => {
      const summary = sampler.stop();
      const growth = rssGrowthAfterWarmup(summary.samples, warmupMs, Math.min(30_000, Math.floor(durationMs / 5)));
      return { worker: i + 1, growth, peakMiB: summary.peakRssBytes / MiB, lastMiB: (summary.lastRssBytes ?? 0) / MiB };
    });
    const leftOver = Object.values(counts).reduce((a, b) => a + b, 0);
    log(`run ${state} in ${(durationMs / 1000).toFixed(0)} s: ${IMAGES} images, ${(IMAGES / (durationMs / 1000)).toFixed(0)} images/s`);
    for (const f of figures) {
      log(`worker ${f.worker}: RSS growth after warm-up ${(f.growth * 100).toFixed(1)} % (peak ${f.peakMiB.toFixed(0)} MiB, end ${f.lastMiB.toFixed(0)} MiB)`);
    }
    log(`Redis used_memory: peak ${(redisPeak / MiB).toFixed(1)} MiB, end ${(memory.usedMemory / MiB).toFixed(1)} MiB`);
    log(`jobs left: ${JSON.stringify(counts)}`);
    log(`strong check: lost ${check.lost}, duplicated ${check.duplicated}, amplification ${check.amplification.toFixed(3)}, problems ${JSON.stringify(check.problems)}`);
    const pass =
      state === 'completed' &&
      figures.every((f) => f.growth < RSS_GROWTH_LIMIT) &&
      redisPeak < REDIS_LIMIT &&
      leftOver === 0 &&
      check.problems.length === 0;
    log(pass ? 'PASS' : 'FAIL');
    return pass ? 0 : 1;
  } finally {
    for (const sampler of samplers) sampler.stop();
    await Promise.all(workers.map((worker) => worker.stop()));
    redis.disconnect();
    s3.destroy();
    await redisServer.stop();
    await moto.stop();
  }
}

process.exitCode = await main();
