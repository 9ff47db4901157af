import { assertS3RegionConfigured, parseRequestsPerSecond, type RateLimiterEvent, rateLimiterRedisOptions, type S3Options, s3OptionsFromEnv, S3RateLimiter } from '@siglip-batch/io';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { errorMessage, redisOptions, redisUrlFromEnv } from '@siglip-batch/jobs';
import { ProblemList, RunRegistry, connectCheckedRedis, loadSiglipModel, resolveModelLocation } from '@siglip-batch/pipeline';
import { AllowList } from './allow-list';
import type { WorkerCliOptions } from './worker-cli-options';
import type { WorkerFaults } from './test-faults';
import { RunContexts } from './run-contexts';
import { ShardWorker } from './shard-worker';
import { ShutdownSteps } from './shutdown-steps';
import { createLogger } from './logger';
import { startMetricsServer, workerHealthProblem } from './metrics/metrics-server';
import { WorkerMetrics } from './metrics/worker-metrics';
import { S3RateMetrics } from './metrics/s3-rate-metrics';

/**
 * Starts a worker: every problem of its configuration is found first and reported together
 * (unreachable or evicting Redis, a bad model dir, unknown device, a bad --allow list); then
 * it loads the model once, consumes its model's queue, and shuts down gracefully on SIGTERM.
 */
export async function runWorker(options: WorkerCliOptions, faults: WorkerFaults = {}): Promise<number> {
  const log = createLogger(options.json);
  const redisUrl = options.redisUrl ?? redisUrlFromEnv();
  const problems = new ProblemList();
  const rateLimit = await problems.check('S3 rate limit', () => rateLimitOf(options));
  // Every S3 request, the model download included, waits for the fleet limiter once Redis is
  // checked (see libs/io s3-rate-limiter.ts).
  let limiter: S3RateLimiter | undefined;
  let rateMetrics: S3RateMetrics | undefined;
  let setLimiter!: (limiter: S3RateLimiter | undefined) => void;
  const limiterReady = new Promise<S3RateLimiter | undefined>((resolve) => (setLimiter = resolve));
  const s3: S3Options = s3OptionsFromEnv(process.env, {
    ...(options.s3Endpoint ? { endpoint: options.s3Endpoint } : {}),
    ...(options.region ? { region: options.region } : {}),
    maxSockets: Math.max(options.fetchConcurrency * options.concurrency, 16),
    ...(rateLimit ? { beforeRequest: async () => (await limiterReady)?.acquire() } : {}),
  });
  const onLimiterEvent = (event: RateLimiterEvent): void => {
    rateMetrics?.record(event);
    if (event.type === 'unavailable') log({ level: 'warn', msg: 'S3 rate limiter: Redis is not answering; S3 requests wait for it', error: event.error });
    else if (event.type === 'recovered') log({ level: 'info', msg: 'S3 rate limiter: Redis answers again', afterMs: Math.round(event.afterMs) });
  };

  const allow = await problems.check('--allow', () => new AllowList(options.allow));
  const [redis, model] = await Promise.all([
    problems
      .check('Redis', () => connectCheckedRedis(redisUrl, redisOptions('worker')))
      .then((connection) => {
        if (connection && rateLimit) {
          limiter = new S3RateLimiter(connection.duplicate(rateLimiterRedisOptions()), { ...rateLimit, prefix: options.prefix, onEvent: onLimiterEvent });
        }
        setLimiter(limiter);
        return connection;
      }),
    problems.check(`model ${options.model}`, async () =>
      // `s3://…` model folders and `hf://` Hub repositories come through the local, hash-verified cache.
      loadSiglipModel(await resolveModelLocation(options.model, s3, { variant: options.variant }), {
        device: options.device,
        variant: options.variant as 'fp32' | 'fp16' | 'quantized',
        ...(options.threads ? { intraOpThreads: options.threads } : {}),
        ...(faults.inference ? { faults: faults.inference } : {}),
        maxPixels: options.maxPixels,
      }),
    ),
  ]);
  // Teardown, in order: stop taking jobs and finish or hand back the current ones first, then
  // what they use, the metrics server last (its /healthz says `stopping` meanwhile).
  const shutdown = new ShutdownSteps((step, error) => log({ level: 'warn', msg: `shutdown: ${step} failed`, error: errorMessage(error) }));
  // What has been started so far, for the steps below.
  const started: { worker?: ShardWorker; contexts?: RunContexts; metricsServer?: { close(): Promise<void> } } = {};
  let closeDeadlineMs = 0;
  let closeOutcome: 'finished' | 'handed-back' | undefined;
  shutdown.add('worker', async () => {
    if (started.worker) closeOutcome = (await started.worker.close(closeDeadlineMs)) === 'finished' ? 'finished' : 'handed-back';
  });
  shutdown.add('run contexts', () => started.contexts?.closeAll());
  shutdown.add('S3 rate limiter', () => closeLimiter(limiter));
  shutdown.add('model', () => model?.close());
  shutdown.add('Redis', () => redis?.disconnect());
  shutdown.add('metrics server', () => started.metricsServer?.close());

  if (problems.problems.length > 0) {
    await shutdown.run();
    const error = problems.toError()!;
    log({ level: 'error', msg: error.message });
    process.stderr.write(`siglip-batch worker: ${redactSecrets(error.message)}\n`);
    // The exit codes of `siglip-batch`: 6 when Redis could not be reached and nothing else is
    // wrong (try again later), else 2 (fix the configuration).
    return error.unreachable ? 6 : 2;
  }

  const metrics = options.metricsPort ? new WorkerMetrics() : undefined;
  if (metrics && limiter) rateMetrics = new S3RateMetrics(metrics.registry, limiter);
  const contexts = new RunContexts(new RunRegistry(redis!, options.prefix), model!, s3, allow!);
  started.contexts = contexts;
  const shardWorker = new ShardWorker({
    model: model!.ref,
    prefix: options.prefix,
    connection: redis!,
    contexts,
    concurrency: options.concurrency,
    batchSize: options.batchSize,
    fetchConcurrency: options.fetchConcurrency,
    decodeConcurrency: options.decodeConcurrency,
    lockDurationMs: options.lockDuration,
    log,
    ...(metrics ? { metrics } : {}),
    // Test seam (cross-process tests cancel a run while it finalises).
    beforeCommitDelayMs: faults.finalizeDelayMs ?? 0,
    ...(faults.crashAt ? { crashAt: faults.crashAt } : {}),
  });
  started.worker = shardWorker;
  const queueName = shardWorker.queue.name;
  let shuttingDown = false;
  if (metrics && options.metricsPort) {
    metrics.setInfo({ worker: shardWorker.workerId, queue: queueName, model: model!.ref.checkpoint, variant: model!.ref.variant, device: options.device });
    try {
      started.metricsServer = await startMetricsServer({
        port: options.metricsPort,
        metrics: () => metrics.render(),
        unhealthy: () => workerHealthProblem({ stopping: shuttingDown, running: shardWorker.worker.isRunning(), redisStatus: redis!.status }),
      });
    } catch (error) {
      const message = `--metrics-port ${options.metricsPort}: ${(error as Error).message}`;
      log({ level: 'error', msg: message });
      process.stderr.write(`siglip-batch worker: ${redactSecrets(message)}\n`);
      await shutdown.run();
      return 2;
    }
  }
  // A worker may serve local runs only, so no region is not a refusal; an S3 run it takes
  // then fails at once with this message (see createRunContext), not after retries.
  const noRegion = await assertS3RegionConfigured(s3).then(
    () => undefined,
    (error: Error) => error.message,
  );
  if (noRegion) log({ level: 'warn', msg: `${noRegion}; runs on S3 will fail at their first shard` });
  log({
    level: 'info',
    msg: 'worker started',
    worker: shardWorker.workerId,
    queue: queueName,
    model: model!.ref.checkpoint,
    device: options.device,
    variant: model!.ref.variant,
    redis: redactSecrets(redisUrl),
    ...(s3.endpoint ? { s3Endpoint: redactSecrets(s3.endpoint) } : {}),
    allow: allow!.describe(),
    maxPixels: options.maxPixels,
    ...(limiter ? { s3RateLimit: { rps: limiter.rps, burst: limiter.burst, key: limiter.key } } : {}),
  });

  let stopping: Promise<number> | undefined;
  const stop = (signal: NodeJS.Signals) => {
    shuttingDown = true;
    stopping ??= (async () => {
      log({ level: 'info', msg: `${signal}: stopping`, deadlineMs: options.shutdownTimeout });
      closeDeadlineMs = options.shutdownTimeout;
      await shutdown.run();
      log({ level: 'info', msg: closeOutcome === 'finished' ? 'current shards finished; exiting' : 'shards handed back to the queue; exiting' });
      return 0;
    })();
    return stopping;
  };
  const done = new Promise<number>((resolve) => {
    process.once('SIGTERM', () => void stop('SIGTERM').then(resolve));
    process.once('SIGINT', () => void stop('SIGINT').then(resolve));
  });
  void shardWorker.run().catch((error: Error) => log({ level: 'error', msg: 'worker loop failed', error: error.message }));
  return done;
}

/** `--s3-rps`, `--s3-burst`, `--s3-rps-key`: undefined when there is no limit. */
function rateLimitOf(options: WorkerCliOptions): { rps: number; burst: number; name: string } | undefined {
  if (options.s3Rps === undefined) {
    if (options.s3Burst !== undefined) throw new Error('--s3-burst needs --s3-rps');
    return undefined;
  }
  const rps = parseRequestsPerSecond('--s3-rps', options.s3Rps);
  const burst = options.s3Burst === undefined ? Math.max(1, rps) : parseRequestsPerSecond('--s3-burst', options.s3Burst);
  if (burst < 1) throw new Error(`--s3-burst must be at least 1, got ${options.s3Burst}`);
  if (!/^[A-Za-z0-9._-]{1,64}$/.test(options.s3RpsKey)) throw new Error(`--s3-rps-key must be 1-64 letters, digits, '.', '_' or '-', got ${JSON.stringify(options.s3RpsKey)}`);
  return { rps, burst, name: options.s3RpsKey };
}

function closeLimiter(limiter: S3RateLimiter | undefined): void {
  limiter?.close();
  limiter?.connection.disconnect();
}

