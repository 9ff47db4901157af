import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { ShardStats } from '@siglip-batch/jobs';

/** What the info gauge says about a worker: one time series with value 1. */
export interface WorkerInfo {
  worker: string;
  queue: string;
  model: string;
  variant: string;
  device: string;
}

// Seconds. Batches on a GPU take milliseconds to a second; on a CPU, seconds.
const BATCH_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
// Queue wait spans seconds (an idle fleet) to hours (a long backlog).
const WAIT_BUCKETS = [0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600, 4 * 3600, 24 * 3600];
const SHARD_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/**
 * A worker's Prometheus metrics, on a registry of its own (`/metrics`).
 *
 * Objects are counted when this worker is the first to mark their shard done in Redis, exactly
 * as the run record counts them: summed over a fleet, `siglip_batch_objects_total` equals the
 * `objects.ok` / `objects.error` / `objects.byErrorCode` of `siglip-batch status --json`
 * (a duplicate delivery or a retry never counts twice). Work actually done, retries included,
 * is `siglip_batch_inferred_images_total` and the histograms.
 */
export class WorkerMetrics {
  readonly registry = new Registry();
  private readonly objects: Counter<'status' | 'error_code'>;
  private readonly inferredImages: Counter;
  private readonly batchLatency: Histogram;
  private readonly inferenceTime: Histogram;
  private readonly batchSize: Histogram;
  private readonly queueWait: Histogram;
  private readonly shardDuration: Histogram;
  private readonly shardsProcessed: Counter<'outcome'>;
  private readonly shardsFailed: Counter<'final'>;
  private readonly s3Tags: Counter<'result'>;
  private readonly activeShards: Gauge;
  private readonly info: Gauge<keyof WorkerInfo>;

  constructor(options: { processMetrics?: boolean } = {}) {
    const registers = [this.registry];
    this.objects = new Counter({
      name: 'siglip_batch_objects_total',
      help: 'Objects committed in shards this worker marked done first, by status (ok, error) and error code ("" for ok)',
      labelNames: ['status', 'error_code'],
      registers,
    });
    this.inferredImages = new Counter({ name: 'siglip_batch_inferred_images_total', help: 'Images sent to inference, retries included', registers });
    this.batchLatency = new Histogram({
      name: 'siglip_batch_batch_latency_seconds',
      help: 'Wall time per inference batch of a shard: since the previous batch of the shard ended (or the shard started), fetch and decode waits included',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.inferenceTime = new Histogram({
      name: 'siglip_batch_inference_seconds',
      help: 'Time ONNX Runtime took per inference batch',
      buckets: BATCH_BUCKETS,
      registers,
    });
    this.batchSize = new Histogram({
      name: 'siglip_batch_batch_images',
      help: 'Images per inference batch',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    });
    this.queueWait = new Histogram({
      name: 'siglip_batch_queue_wait_seconds',
      help: 'Time from a shard job’s creation to the start of its processing (each attempt)',
      buckets: WAIT_BUCKETS,
      registers,
    });
    this.shardDuration = new Histogram({
      name: 'siglip_batch_shard_duration_seconds',
      help: 'Time to process a shard, from start to its stats object',
      buckets: SHARD_BUCKETS,
      registers,
    });
    this.shardsProcessed = new Counter({
      name: 'siglip_batch_shards_processed_total',
      help: 'Shard jobs that completed, by outcome: done (processed here), duplicate (stats already there), skipped (run cancelled)',
      labelNames: ['outcome'],
      registers,
    });
    this.shardsFailed = new Counter({
      name: 'siglip_batch_shards_failed_total',
      help: 'Shard job attempts that failed; final="true" when no retry is left (the shard is marked failed)',
      labelNames: ['final'],
      registers,
    });
    this.s3Tags = new Counter({
      name: 'siglip_batch_s3_tagged_objects_total',
      help: 'Runs with --write-s3-tags: objects of shards this worker marked done first, by result: tagged, full (10 foreign tags: left alone), failed',
      labelNames: ['result'],
      registers,
    });
    this.activeShards = new Gauge({ name: 'siglip_batch_active_shards', help: 'Shards being processed now', registers });
    this.info = new Gauge({
      name: 'siglip_batch_worker_info',
      help: 'The worker: its id, model queue, model checkpoint, variant and device (value 1)',
      labelNames: ['worker', 'queue', 'model', 'variant', 'device'],
      registers,
    });
    // Zero series, so that rates exist before the first event.
    this.objects.inc({ status: 'ok', error_code: '' }, 0);
    for (const outcome of ['done', 'duplicate', 'skipped']) this.shardsProcessed.inc({ outcome }, 0);
    for (const final of ['true', 'false']) this.shardsFailed.inc({ final }, 0);
    if (options.processMetrics ?? true) collectDefaultMetrics({ register: this.registry, prefix: 'siglip_batch_worker_' });
  }

  /** Sets the info gauge (once the worker knows its id and queue). */
  setInfo(info: WorkerInfo): void {
    this.info.reset();
    this.info.set({ ...info }, 1);
  }

  /** A shard job started (`createdAt`: the job's creation time, ms since the epoch). */
  shardStarted(createdAt: number, now = Date.now()): ShardTimer {
    this.queueWait.observe(Math.max(0, now - createdAt) / 1000);
    this.activeShards.inc();
    const started = performance.now();
    let lastBatchEnd = started;
    let ended = false;
    return {
      batch: ({ images, inferMs }) => {
        const end = performance.now();
        this.batchLatency.observe((end - lastBatchEnd) / 1000);
        lastBatchEnd = end;
        this.inferenceTime.observe(inferMs / 1000);
        this.batchSize.observe(images);
        this.inferredImages.inc(images);
      },
      end: () => {
        if (ended) return;
        ended = true;
        this.activeShards.dec();
        this.shardDuration.observe((performance.now() - started) / 1000);
      },
    };
  }

  /** A shard job completed. `stats` are counted only when this worker marked the shard done first. */
  shardCompleted(outcome: 'done' | 'duplicate' | 'skipped', counted: Pick<ShardStats, 'ok' | 'error' | 'errorCodes' | 's3Tags'> | null): void {
    this.shardsProcessed.inc({ outcome });
    if (!counted) return;
    if (counted.s3Tags) for (const result of ['tagged', 'full', 'failed'] as const) this.s3Tags.inc({ result }, counted.s3Tags[result]);
    if (counted.ok > 0) this.objects.inc({ status: 'ok', error_code: '' }, counted.ok);
    let coded = 0;
    for (const [code, n] of Object.entries(counted.errorCodes)) {
      if (n <= 0) continue;
      this.objects.inc({ status: 'error', error_code: code }, n);
      coded += n;
    }
    // Stats always name a code per error row; anything else is still an error.
    if (counted.error > coded) this.objects.inc({ status: 'error', error_code: 'unknown' }, counted.error - coded);
  }

  shardFailed(final: boolean): void {
    this.shardsFailed.inc({ final: String(final) });
  }

  /** The Prometheus text exposition of every metric. */
  async render(): Promise<{ contentType: string; body: string }> {
    return { contentType: this.registry.contentType, body: await this.registry.metrics() };
  }
}

export interface ShardTimer {
  /** After each inference batch (the shard processor's `onBatch`). */
  batch(info: { images: number; inferMs: number }): void;
  /** When the shard job ends, however it ends. Idempotent. */
  end(): void;
}
