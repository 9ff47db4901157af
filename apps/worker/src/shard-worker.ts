import { hostname } from 'node:os';
import type { Job, Worker } from 'bullmq';
import type { Redis } from 'ioredis';
import {
  JOB_NAMES,
  ShardQueue,
  attemptOf,
  checkAgainLater,
  finalizeJobDataSchema,
  handBack,
  indexPartitionJobDataSchema,
  isFinalFailure,
  permanentFailure,
  shardJobDataSchema,
  type ModelVariant,
  type RunManifest,
  type ShardStats,
} from '@siglip-batch/jobs';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import type { RunFolder } from '@siglip-batch/run-format';
import {
  IllegalRunTransitionError,
  PermanentShardError,
  RunRegistry,
  finalizeRun,
  indexModelKey,
  deleteRunGroups,
  mergeRunPartition,
  prepareRunIndex,
  processShard,
  recordRecentErrorFile,
  shardFailureCode,
  type RunState,
} from '@siglip-batch/pipeline';
import type { RunContexts } from './run-contexts';
import type { Log } from './logger';
import type { ShardTimer, WorkerMetrics } from './metrics/worker-metrics';

export interface ShardWorkerOptions {
  /** The model whose queue this worker consumes. */
  model: { hash: string; variant: ModelVariant };
  prefix: string;
  /** Redis; the BullMQ worker duplicates it for its blocking connection. */
  connection: Redis;
  contexts: RunContexts;
  /** Shards processed at once: 2 overlaps one shard's I/O with the other's inference. */
  concurrency: number;
  batchSize: number;
  fetchConcurrency: number;
  decodeConcurrency: number;
  /** BullMQ lock duration (ms); renewed at half of it, off a responsive event loop. */
  lockDurationMs: number;
  workerId?: string;
  log: Log;
  /** Prometheus metrics (`--metrics-port`); none when not given. */
  metrics?: WorkerMetrics;
  /**
   * Test-only: the finaliser waits this long right before its commit point, so that a test can
   * cancel a run while it is finalising. @defaultValue 0
   */
  beforeCommitDelayMs?: number;
  /** Test seam: SIGKILL this process at that commit point of a shard (test/fault-crash.test.ts). */
  crashAt?: 'after-part-put' | 'after-stats';
}

export interface ShardResult {
  runId: string;
  shard: number;
  ok: number;
  error: number;
  duplicate?: boolean;
  skipped?: string;
}

/**
 * The BullMQ side of a worker: takes shard and finalise jobs from its model's queue and runs
 * the shared pipeline code on them. A shard job returns a result only after its stats object
 * is in the store; everything it writes is keyed by the shard, so a retry overwrites.
 */
export class ShardWorker {
  readonly worker: Worker;
  /** The model's queue: every BullMQ move of this worker goes through it (libs/jobs shard-queue.ts). */
  readonly queue: ShardQueue;
  private readonly registry: RunRegistry;
  readonly workerId: string;

  constructor(private readonly options: ShardWorkerOptions) {
    this.workerId = options.workerId ?? `${hostname()}:${process.pid}`;
    this.registry = new RunRegistry(options.connection, options.prefix);
    this.queue = ShardQueue.forModel(options.connection, options.prefix, options.model);
    this.worker = this.queue.createWorker((job, token, signal) => this.handle(job, token, signal), {
      concurrency: options.concurrency,
      lockDurationMs: options.lockDurationMs,
      name: `siglip-batch:${this.workerId}`,
    });
    this.worker.on('failed', (job, error) => {
      if (job) void this.onFailed(job, error).catch((e: Error) => options.log({ level: 'error', msg: 'failed-handler', error: e.message }));
    });
    this.worker.on('error', (error) => options.log({ level: 'error', msg: 'worker error', error: error.message }));
  }

  run(): Promise<void> {
    return this.worker.run();
  }

  private async handle(job: Job, token: string | undefined, signal: AbortSignal | undefined): Promise<unknown> {
    if (job.name === JOB_NAMES.finalize) return this.finalize(job, token);
    if (job.name === JOB_NAMES.indexPartition) return this.indexPartition(job);
    const { runId, shard } = shardJobDataSchema.parse(job.data);
    const started = performance.now();
    const timer = this.options.metrics?.shardStarted(job.timestamp);
    try {
      const result = await this.processShardJob(job, runId, shard, signal, timer);
      this.options.log({ level: 'info', msg: 'shard done', ...result, ms: Math.round(performance.now() - started) });
      return result;
    } catch (error) {
      if (signal?.aborted && token) {
        // Shutdown deadline passed: hand the shard back to the queue instead of waiting for
        // its lock to expire; whatever was written is overwritten by the next attempt.
        throw await handBack(job, token);
      }
      // BullMQ keeps the message and stack in Redis (Bull Board shows them, the run's reason
      // quotes them): an SDK or ioredis message may quote a URL with its credentials.
      if (error instanceof Error) {
        error.message = redactSecrets(error.message);
        if (error.stack) error.stack = redactSecrets(error.stack);
      }
      if (error instanceof PermanentShardError) throw permanentFailure(error.message);
      throw error;
    } finally {
      timer?.end();
    }
  }

  private async processShardJob(job: Job, runId: string, shard: number, signal: AbortSignal | undefined, timer?: ShardTimer): Promise<ShardResult> {
    // The run record, read once for this shard: its state here, its spec for the run's
    // context when this worker has none yet.
    const record = await this.registry.get(runId, { reasons: false });
    if (record?.state === 'cancelled') {
      this.options.metrics?.shardCompleted('skipped', null);
      return { runId, shard, ok: 0, error: 0, skipped: 'cancelled' };
    }
    const run = await this.options.contexts.get(runId, { record });
    const existing = await run.context.folder.readStats(shard);
    if (existing) {
      // Delivered again after its stats were written (a crash before the job completed).
      const first = await this.markDone(existing);
      this.options.metrics?.shardCompleted('duplicate', first ? existing : null);
      return { runId, shard, ok: existing.ok, error: existing.error, duplicate: true };
    }
    const plan = await run.context.folder.readPlan(shard);
    if (!plan) throw new PermanentShardError(`shard ${shard} of run ${runId} has no plan in ${run.context.folder.uriOf('')}`);
    const stats = await processShard(run.context, shard, {
      plan,
      batchSize: this.options.batchSize,
      fetchConcurrency: this.options.fetchConcurrency,
      decodeConcurrency: this.options.decodeConcurrency,
      workerId: this.workerId,
      attempt: attemptOf(job),
      ...(signal ? { signal } : {}),
      ...(this.options.crashAt ? { onCommitPoint: (point) => point === this.options.crashAt && process.kill(process.pid, 'SIGKILL') } : {}),
      onBatch: ({ images, inferMs }) => {
        timer?.batch({ images, inferMs });
        void this.registry.addInferred(runId, images).catch(() => undefined);
      },
      onS3TagFailures: ({ failed, examples }) => this.options.log({ level: 'warn', msg: 'objects not tagged', runId, shard, failed, examples }),
    });
    const refused = stats.errorCodes['not_allowed'] ?? 0;
    if (refused > 0) {
      // Rows, not a failure: but an operator has to see that a source needs --allow.
      this.options.log({ level: 'warn', msg: 'objects outside what this worker may read', runId, shard, refused, allow: run.context.access.describe() });
    }
    const first = await this.markDone(stats);
    this.options.metrics?.shardCompleted('done', first ? stats : null);
    return { runId, shard, ok: stats.ok, error: stats.error };
  }

  /** True when this call marked the shard done first (its objects count now, never again). */
  private async markDone(stats: ShardStats): Promise<boolean> {
    const first = await this.registry.markShardDone(stats);
    // The dashboard's "recent errors" read the files this list names (best effort: a lost
    // entry only means the page shows older errors).
    if (first) await recordRecentErrorFile(this.options.connection, this.options.prefix, stats).catch(() => undefined);
    // Counters only (not the record again): the last shard done lets the finaliser run now.
    if (await this.registry.allShardsDone(stats.runId)) await this.queue.promoteFinalize(stats.runId);
    return first;
  }

  /**
   * Finalises a run through its states: `running → finalizing`, then the manifest behind the
   * commit point (`beginCommit`: a `cancel` that came first wins and no manifest is written;
   * one that comes after is refused), then `completed`. Every change is compared and set in
   * Redis in one step, so a refused one means another process changed the run first: this job
   * then ends quietly with the state that process set.
   */
  private async finalize(job: Job, token: string | undefined): Promise<unknown> {
    const { runId } = finalizeJobDataSchema.parse(job.data);
    const record = await this.registry.get(runId);
    const run = await this.options.contexts.get(runId, { record });
    if (record?.state === 'cancelled' || record?.state === 'completed') return { runId, state: record.state };
    if (record && (record.state === 'listing' || !(record.listingComplete && record.shardsDone + record.shardsFailed >= record.shardsPlanned))) {
      // Redis's counters say shards are still out (or the producer has not yet moved the run
      // to running): check again later without reading every stats object (this does not use
      // up an attempt). The store decides once they say done.
      throw await checkAgainLater(job, token);
    }
    // Without a record (Redis lost it) nobody can cancel the run: the store alone decides.
    const move = async (to: RunState, reason?: string): Promise<void> => {
      if (record) await this.registry.transition(runId, to, reason === undefined ? {} : { reason });
    };
    try {
      await move('finalizing');
      const outcome = await finalizeRun({
        folder: run.context.folder,
        spec: run.context.spec,
        // Asked shard by shard (a bit each), named from the last reasons kept.
        // Indexed below, partition by partition, by jobs of the queue and this one.
        updateIndex: false,
        ...(record
          ? { failedShards: { isFailed: (shard: number) => this.registry.isShardFailed(runId, shard), reasonOf: (shard: number) => record.failedShards[shard], count: record.shardsFailed } }
          : {}),
        beforeManifest: async () => {
          if (this.options.beforeCommitDelayMs) await new Promise((resolve) => setTimeout(resolve, this.options.beforeCommitDelayMs));
          if (record) await this.registry.beginCommit(runId);
        },
      });
      switch (outcome.state) {
        case 'completed':
          await this.indexRun(run.context.folder, outcome.manifest);
          await move('completed');
          await this.registry.expireAfterEnd(runId);
          this.options.log({ level: 'info', msg: 'run completed', runId, ...outcome.manifest.counts });
          return { runId, state: 'completed', counts: outcome.manifest.counts };
        case 'failed': {
          const more = outcome.failedCount - outcome.failed.length;
          const reason = `${outcome.failed.map((f) => `shard ${f.shard}: ${f.reason}`).join('; ')}${more > 0 ? ` (and ${more} more failed shards)` : ''}`;
          await move('failed', reason);
          await this.registry.expireAfterEnd(runId);
          this.options.log({ level: 'error', msg: 'run failed', runId, reason });
          return { runId, state: 'failed', reason };
        }
        case 'listing':
        case 'waiting':
          // The store still misses stats Redis counted: back to running, check again later
          // (this does not use up an attempt).
          await move('running');
          throw await checkAgainLater(job, token);
      }
    } catch (error) {
      if (!(error instanceof IllegalRunTransitionError)) throw error;
      this.options.log({ level: 'info', msg: 'finalise stopped', runId, reason: error.message });
      return { runId, state: error.current ?? 'unknown' };
    }
  }

  /**
   * A finalised run into its output's processed index: one `index-partition` job per partition
   * (fixed ids), which any worker takes from the first partition on, while this job merges from
   * the last one down, removing each job still waiting before it merges that partition, so none
   * is left waiting with nothing to do; a partition already merged returns at once
   * (processed-index/processed-index.ts).
   * The run is `completed` only once every partition has it, so the next nightly run plans
   * against it. A crash here leaves the run `finalizing`: the retried job indexes again.
   */
  private async indexRun(folder: RunFolder, manifest: RunManifest): Promise<void> {
    const layout = await prepareRunIndex(folder, indexModelKey(manifest.model.hash, manifest.decode));
    const runId = manifest.runId;
    await this.queue.addIndexPartitionJobs(runId, layout.partitions);
    for (let partition = layout.partitions - 1; partition >= 0; partition--) {
      // The partition's job, if no worker has taken it yet, is done here: removed, so that no
      // job with nothing left to do stays waiting (KEDA would scale workers up for it).
      await this.queue.removeIndexPartitionIfNotStarted(runId, partition).catch(() => 0);
      await mergeRunPartition(folder, partition, { finalizedAt: manifest.timings.finalizedAt });
    }
    await deleteRunGroups(folder);
  }

  private async indexPartition(job: Job): Promise<unknown> {
    const { runId, partition } = indexPartitionJobDataSchema.parse(job.data);
    const run = await this.options.contexts.get(runId);
    const merged = await mergeRunPartition(run.context.folder, partition);
    this.options.log({ level: 'info', msg: 'index partition merged', runId, partition, merged });
    return { runId, partition, merged };
  }

  private async onFailed(job: Job, error: Error): Promise<void> {
    if (job.name !== JOB_NAMES.shard) return;
    const parsed = shardJobDataSchema.safeParse(job.data);
    if (!parsed.success) return;
    const final = isFinalFailure(job, error);
    this.options.log({ level: final ? 'error' : 'warn', msg: final ? 'shard failed' : 'shard attempt failed', ...parsed.data, attempt: job.attemptsMade, error: error.message });
    this.options.metrics?.shardFailed(final);
    if (!final) return;
    await this.registry.markShardFailed(parsed.data.runId, parsed.data.shard, error.message, shardFailureCode(error));
    await this.queue.promoteFinalize(parsed.data.runId);
  }

  /** Stop taking jobs; wait for the current ones up to `deadlineMs`, then hand them back. */
  async close(deadlineMs: number): Promise<'finished' | 'released'> {
    const closing = this.worker.close();
    let timer: NodeJS.Timeout | undefined;
    const outcome = await Promise.race([
      closing.then(() => 'finished' as const),
      new Promise<'deadline'>((resolve) => {
        timer = setTimeout(() => resolve('deadline'), deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    if (outcome === 'deadline') {
      this.worker.cancelAllJobs('shutdown deadline');
      await closing;
    }
    await this.queue.close();
    return outcome === 'deadline' ? 'released' : 'finished';
  }
}
