/**
 * One fault scenario's world: its own bucket (source images under `src/`, runs under `out/`),
 * its own BullMQ prefix, the Redis and S3 endpoints its processes use (which may be a private
 * Redis or the fault proxy), and helpers to enqueue, start workers and check a run.
 */
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { inject } from 'vitest';
import { queueNameForModel } from '@siglip-batch/jobs';
import { RunRegistry, inspectSiglipModel } from '@siglip-batch/pipeline';
import { TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type CliResult, type WorkerProcess } from './cli';
import { checkRun, type CheckRunOptions, type RunCheck } from './fault-checks';
import { TEST_AWS_ENV, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './harness';
import { descendantPids } from './process-metrics';
import { makeSampleImage } from './sample-images';

export interface FaultWorldOptions {
  /** Redis of the processes (and of the assertions). @defaultValue the suite's Redis */
  redisUrl?: string;
  /** S3 endpoint of the processes (e.g. the fault proxy). @defaultValue moto */
  processS3Endpoint?: string;
}

export interface FaultWorld {
  s3: S3Client;
  bucket: string;
  prefix: string;
  redisUrl: string;
  redis: Redis;
  registry: RunRegistry;
  env: NodeJS.ProcessEnv;
  workers: WorkerProcess[];
  /** Uploads `count` generated images as `src/<name>`; returns their URIs. */
  upload(count: number, keyPrefix?: string, offset?: number): Promise<string[]>;
  put(key: string, bytes: Buffer | Uint8Array | string): Promise<void>;
  enqueue(runId: string, args?: string[], extraEnv?: NodeJS.ProcessEnv): Promise<CliResult>;
  worker(args?: string[], extraEnv?: NodeJS.ProcessEnv): Promise<WorkerProcess>;
  waitEnd(runId: string, timeoutMs?: number): Promise<string>;
  check(runId: string, expectedUris?: string[], options?: Pick<CheckRunOptions, 'inferredSlack'>): Promise<RunCheck>;
  queue(): Promise<Queue>;
  close(): Promise<void>;
}

/** Worker flags of the fault suite: one ONNX thread, small batches, a short lock. */
export const FAST_WORKER = ['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8', '--concurrency', '1', '--lock-duration', '4000', '--shutdown-timeout', '5000'];

export async function createFaultWorld(options: FaultWorldOptions = {}): Promise<FaultWorld> {
  const motoEndpoint = inject('s3Endpoint');
  const redisUrl = options.redisUrl ?? inject('redisUrl');
  const s3 = makeS3Client(motoEndpoint);
  const bucket = uniqueName('fault').toLowerCase();
  const prefix = uniqueName('fault');
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: null });
  const registry = new RunRegistry(redis, prefix);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ...TEST_AWS_ENV,
    AWS_ENDPOINT_URL_S3: options.processS3Endpoint ?? motoEndpoint,
    REDIS_URL: redisUrl,
    SIGLIP_BATCH_PREFIX: prefix,
  };
  const workers: WorkerProcess[] = [];
  let queue: Queue | undefined;
  const put = async (key: string, bytes: Buffer | Uint8Array | string) => {
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes }));
  };
  const getQueue = async (): Promise<Queue> => {
    if (!queue) {
      const model = await inspectSiglipModel(TINY_MODEL, 'fp32');
      queue = new Queue(queueNameForModel(model.hash, model.variant), { connection: redis, prefix });
    }
    return queue;
  };
  return {
    s3,
    bucket,
    prefix,
    redisUrl,
    redis,
    registry,
    env,
    workers,
    put,
    async upload(count, keyPrefix = 'src/', offset = 0) {
      const uris: string[] = [];
      for (let i = 0; i < count; i += 16) {
        await Promise.all(
          Array.from({ length: Math.min(16, count - i) }, async (_, j) => {
            const image = await makeSampleImage(offset + i + j);
            await put(`${keyPrefix}${image.name}`, image.bytes);
            uris.push(`s3://${bucket}/${keyPrefix}${image.name}`);
          }),
        );
      }
      return uris.sort();
    },
    enqueue(runId, args = [], extraEnv = {}) {
      const hasSource = args.includes('--source') || args.includes('--resume');
      return runCli(
        [
          'enqueue',
          '--json',
          ...(args.includes('--resume') ? [] : ['--run', runId, '--model', TINY_MODEL]),
          ...(hasSource ? [] : ['--source', `s3://${bucket}/src/`]),
          ...(args.includes('--out') ? [] : ['--out', `s3://${bucket}/out/`]),
          ...args,
        ],
        { ...env, ...extraEnv },
      );
    },
    async worker(args = FAST_WORKER, extraEnv = {}) {
      const worker = startWorker(args, { ...env, ...extraEnv });
      workers.push(worker);
      await waitForWorkerStart(worker);
      return worker;
    },
    async waitEnd(runId, timeoutMs = 240_000) {
      try {
        return await waitForRunEnd(() => registry.get(runId), timeoutMs);
      } catch (error) {
        // Say where it got stuck: the queue, the run record, the workers' warnings and errors.
        const q = await getQueue();
        const jobs = await q.getJobs(['waiting', 'prioritized', 'active', 'delayed', 'failed'], 0, 50);
        const states = await Promise.all(jobs.map(async (job) => `${job.id}:${await job.getState()}`));
        const record = await registry.get(runId).catch(() => undefined);
        const logs = workers.map((w) => w.log().split('\n').filter((line) => /"level":"(warn|error)"/.test(line)).slice(-10).join('\n'));
        throw new Error(
          `${(error as Error).message}\njobs: ${states.join(' ')}\nrecord: ${JSON.stringify(record && { ...record, spec: undefined })}\n${logs.join('\n---\n')}`,
        );
      }
    },
    async check(runId, expectedUris, options = {}) {
      const record = await registry.get(runId);
      return checkRun({
        ...options,
        s3,
        bucket,
        runPrefix: `out/${runId}/`,
        ...(record ? { inferred: record.inferred } : {}),
        ...(expectedUris ? { expectedUris } : {}),
      });
    },
    queue: getQueue,
    async close() {
      await Promise.all(workers.map((worker) => hardKill(worker)));
      await queue?.close().catch(() => undefined);
      await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
      redis.disconnect();
      await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
      s3.destroy();
    },
  };
}

/**
 * SIGKILLs a worker as a preempted node would die: the worker app process (a child of the
 * `siglip-batch` launcher, which would otherwise survive its launcher) and the launcher.
 */
export async function hardKill(worker: WorkerProcess): Promise<void> {
  if (worker.child.exitCode !== null || worker.child.signalCode !== null) return;
  const exited = new Promise((resolve) => worker.child.once('exit', resolve));
  for (const pid of descendantPids(worker.child.pid!)) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  worker.child.kill('SIGKILL');
  await exited;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/** Polls `predicate` until it is true. */
export async function until(predicate: () => Promise<boolean> | boolean, timeoutMs = 60_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await predicate()) return;
    await sleep(100);
  }
  throw new Error(`${what} not reached within ${timeoutMs} ms`);
}
