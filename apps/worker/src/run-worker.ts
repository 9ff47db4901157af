import { s3OptionsFromEnv, type S3Options } from '@siglip-batch/io';
import { queueNameForModel, redactRedisUrl, redisOptions, redisUrlFromEnv } from '@siglip-batch/jobs';
import { ConfigError, ProblemList, RunRegistry, connectCheckedRedis, loadSiglipModel, resolveModelLocation, type LoadedModel } from '@siglip-batch/pipeline';
import type { Redis } from 'ioredis';
import { AllowList } from './allow-list';
import type { WorkerCliOptions } from './program';
import { RunContexts } from './run-contexts';
import { ShardWorker } from './shard-worker';
import { createLogger } from './logger';
import { startMetricsServer, workerHealthProblem } from './metrics/metrics-server';
import { WorkerMetrics } from './metrics/worker-metrics';

/**
 * Starts a worker: every problem of its configuration is found first and reported together
 * (unreachable or evicting Redis, a bad model dir, unknown device, a bad --allow list); then
 * it loads the model once, consumes its model's queue, and shuts down gracefully on SIGTERM.
 */
export async function runWorker(options: WorkerCliOptions): Promise<number> {
  const log = createLogger(options.json);
  const redisUrl = options.redisUrl ?? redisUrlFromEnv();
  const s3: S3Options = s3OptionsFromEnv(process.env, {
    ...(options.s3Endpoint ? { endpoint: options.s3Endpoint } : {}),
    maxSockets: Math.max(options.fetchConcurrency * options.concurrency, 16),
  });

  const problems = new ProblemList();
  const allow = await problems.check('--allow', () => new AllowList(options.allow));
  const [redis, model] = await Promise.all([
    problems.check('Redis', () => connectCheckedRedis(redisUrl, redisOptions('worker'))),
    problems.check(`model ${options.model}`, async () =>
      // `s3://…` model folders come through the local, hash-verified cache.
      loadSiglipModel(await resolveModelLocation(options.model, s3), {
        device: options.device,
        variant: options.variant as 'fp32' | 'fp16' | 'quantized',
        ...(options.threads ? { intraOpThreads: options.threads } : {}),
      }),
    ),
  ]);
  if (problems.problems.length > 0) {
    await closeQuietly(redis, model);
    const error = new ConfigError(problems.problems);
    log({ level: 'error', msg: error.message });
    process.stderr.write(`siglip-batch worker: ${error.message}\n`);
    return 2;
  }

  const queueName = queueNameForModel(model!.ref.hash, model!.ref.variant);
  const metrics = options.metricsPort ? new WorkerMetrics() : undefined;
  const contexts = new RunContexts(new RunRegistry(redis!, options.prefix), model!, s3);
  const worker = new ShardWorker({
    queueName,
    prefix: options.prefix,
    connection: redis!,
    contexts,
    allow: allow!,
    concurrency: options.concurrency,
    batchSize: options.batchSize,
    fetchConcurrency: options.fetchConcurrency,
    decodeConcurrency: options.decodeConcurrency,
    lockDurationMs: options.lockDuration,
    log,
    ...(metrics ? { metrics } : {}),
  });
  let shuttingDown = false;
  let metricsServer: { close(): Promise<void> } | undefined;
  if (metrics && options.metricsPort) {
    metrics.setInfo({ worker: worker.workerId, queue: queueName, model: model!.ref.checkpoint, variant: model!.ref.variant, device: options.device });
    try {
      metricsServer = await startMetricsServer({
        port: options.metricsPort,
        metrics: () => metrics.render(),
        unhealthy: () => workerHealthProblem({ stopping: shuttingDown, running: worker.worker.isRunning(), redisStatus: redis!.status }),
      });
    } catch (error) {
      const message = `--metrics-port ${options.metricsPort}: ${(error as Error).message}`;
      log({ level: 'error', msg: message });
      process.stderr.write(`siglip-batch worker: ${message}\n`);
      await worker.close(0);
      contexts.closeAll();
      await closeQuietly(redis, model);
      return 2;
    }
  }
  log({
    level: 'info',
    msg: 'worker started',
    worker: worker.workerId,
    queue: queueName,
    model: model!.ref.checkpoint,
    device: options.device,
    variant: model!.ref.variant,
    redis: redactRedisUrl(redisUrl),
    allow: allow!.describe(),
  });

  let stopping: Promise<number> | undefined;
  const stop = (signal: NodeJS.Signals) => {
    shuttingDown = true;
    stopping ??= (async () => {
      log({ level: 'info', msg: `${signal}: stopping`, deadlineMs: options.shutdownTimeout });
      const how = await worker.close(options.shutdownTimeout);
      log({ level: 'info', msg: how === 'finished' ? 'current shards finished; exiting' : 'shards handed back to the queue; exiting' });
      contexts.closeAll();
      await closeQuietly(redis, model);
      await metricsServer?.close();
      return 0;
    })();
    return stopping;
  };
  const done = new Promise<number>((resolve) => {
    process.once('SIGTERM', () => void stop('SIGTERM').then(resolve));
    process.once('SIGINT', () => void stop('SIGINT').then(resolve));
  });
  void worker.run().catch((error: Error) => log({ level: 'error', msg: 'worker loop failed', error: error.message }));
  return done;
}

async function closeQuietly(redis: Redis | undefined, model: LoadedModel | undefined): Promise<void> {
  await model?.close().catch(() => undefined);
  redis?.disconnect();
}
