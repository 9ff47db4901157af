import { DelayedError, Queue, UnrecoverableError, WaitingError, Worker, type Job, type Processor } from 'bullmq';
import type { Redis } from 'ioredis';
import { JOB_NAMES } from './job-data';
import { FINALIZE_JOB_OPTIONS, INDEX_JOB_OPTIONS, SHARD_JOB_OPTIONS } from './job-defaults';
import { queueNameForModel, type ModelVariant } from './queue-name';
import { finalizeJobId, indexPartitionJobId, parseShardJobId, shardJobId } from './shard-key';

/**
 * What the gateway asks of a run's Redis record when it revives a shard's job (libs/pipeline's
 * `RunRegistry` has both): whether the shard is done, and to stop counting it as failed.
 */
export interface ShardDoneRecord {
  isShardDone(runId: string, shard: number): Promise<boolean>;
  clearShardFailed(runId: string, shard: number): Promise<void>;
}

/** What {@link ShardQueue.ensureShardJob} did. */
export type ShardJobOutcome = 'added' | 'exists' | 'done';

/** Jobs of a model queue by state, as `status` and the dashboard show them. */
export interface ShardQueueCounts {
  /** Waiting and prioritized: not yet taken by a worker. */
  waiting: number;
  active: number;
  delayed: number;
  failed: number;
  completed: number;
}

export interface ShardQueueWorkerOptions {
  /** Jobs processed at once. */
  concurrency: number;
  /** Lock duration (ms); renewed at half of it, off a responsive event loop. */
  lockDurationMs: number;
  /** The worker's name in BullMQ (Bull Board shows it). */
  name: string;
}

/** Job states a cancel takes out of the queue; active jobs are locked (their workers see the run's state). */
const NOT_STARTED = new Set(['waiting', 'delayed', 'prioritized', 'paused', 'waiting-children']);
/** How often a producer held back by backpressure asks the queue again. */
const ROOM_POLL_MS = 250;
/** A finalise job that finds shards still out looks again this much later. */
export const FINALIZE_RECHECK_MS = 3_000;

/**
 * The one owner of the queue protocol (architecture §3.4): a model's queue of `shard`,
 * `finalize` and `index-partition` jobs. Producer, workers, `status`, `cancel` and the
 * dashboard all go through it, so job ids, options, backpressure and the worker's moves
 * (delay, promote, hand back) are decided here only. Every job id is derived from the run id
 * (and shard or partition), so adding a job again finds the one already there.
 */
export class ShardQueue {
  /** The BullMQ queue itself, for Bull Board; everything else goes through the methods. */
  readonly queue: Queue;

  private constructor(
    readonly name: string,
    private readonly connection: Redis,
    private readonly prefix: string,
  ) {
    this.queue = new Queue(name, { connection, prefix, defaultJobOptions: SHARD_JOB_OPTIONS });
  }

  /** The queue of a model: named from its content hash and variant. */
  static forModel(connection: Redis, prefix: string, model: { hash: string; variant: ModelVariant }): ShardQueue {
    return new ShardQueue(queueNameForModel(model.hash, model.variant), connection, prefix);
  }

  /** The queue a run record names (`RunRecord.queue`) or the dashboard found. */
  static named(connection: Redis, prefix: string, name: string): ShardQueue {
    return new ShardQueue(name, connection, prefix);
  }

  /**
   * Adds the shard's job, or revives it when it failed earlier: `added` when work was added,
   * `exists` when its job is waiting or running, `done` when it completed since it was last
   * looked at (a worker sets the done bit before its job completes). Only a `resumed` shard
   * (planned by an earlier attempt) can have a job already, so only then is it looked up.
   */
  async ensureShardJob(runId: string, shard: number, options: { resumed: boolean; priority: number }, record: ShardDoneRecord): Promise<ShardJobOutcome> {
    const jobId = shardJobId(runId, shard);
    if (options.resumed) {
      const existing = await this.queue.getJob(jobId);
      if (existing) {
        const state = await existing.getState();
        if (state === 'failed') {
          // Tried again: no longer failed, so the finaliser waits for it instead of failing the run.
          await record.clearShardFailed(runId, shard);
          await existing.retry('failed');
          return 'added';
        }
        if (state !== 'completed') return 'exists';
        if (await record.isShardDone(runId, shard)) return 'done';
        // Completed without being marked done: the store or Redis was changed by hand; start it again.
        await existing.remove();
      }
      // Queued again (its failed job no longer kept by the queue, or removed above): not failed any more.
      await record.clearShardFailed(runId, shard);
    }
    const job = await this.queue.add(JOB_NAMES.shard, { runId, shard }, { jobId, ...priorityOf(options.priority) });
    return job.id === jobId ? 'added' : 'exists';
  }

  /** The finalise job has a fixed id; one left finished by an earlier attempt is replaced. */
  async ensureFinalizeJob(runId: string, priority: number): Promise<void> {
    const jobId = finalizeJobId(runId);
    const existing = await this.queue.getJob(jobId);
    if (existing) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed') return;
      await existing.remove();
    }
    await this.queue.add(JOB_NAMES.finalize, { runId }, { jobId, ...FINALIZE_JOB_OPTIONS, ...priorityOf(priority) });
  }

  /** Backpressure: waits while the queue holds `maxWaiting` or more jobs not yet started. */
  async waitForRoom(maxWaiting: number, signal?: AbortSignal): Promise<void> {
    for (;;) {
      if ((await this.waitingCount()) < maxWaiting) return;
      if (signal?.aborted) throw signal.reason;
      await new Promise((resolve) => setTimeout(resolve, ROOM_POLL_MS));
    }
  }

  /** Jobs not yet taken by a worker (waiting and prioritized). */
  async waitingCount(): Promise<number> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized');
    return (counts['waiting'] ?? 0) + (counts['prioritized'] ?? 0);
  }

  /** A worker found the run's last shard done (or failed): its delayed finalise job runs now. */
  async promoteFinalize(runId: string): Promise<void> {
    const job = await this.queue.getJob(finalizeJobId(runId));
    if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
  }

  /** One `index-partition` job per partition of the output's processed index (fixed ids). */
  async addIndexPartitionJobs(runId: string, partitions: number): Promise<void> {
    await this.queue.addBulk(
      Array.from({ length: partitions }, (_, partition) => ({
        name: JOB_NAMES.indexPartition,
        data: { runId, partition },
        opts: { ...INDEX_JOB_OPTIONS, jobId: indexPartitionJobId(runId, partition) },
      })),
    );
  }

  /**
   * A worker of this queue (not started: call `run()`), with the protocol's stalled-job
   * recovery: a job whose lock lapses (its worker died) goes back to the queue, twice at most.
   */
  createWorker(processor: Processor, options: ShardQueueWorkerOptions): Worker {
    return new Worker(this.name, processor, {
      // BullMQ workers need a blocking connection of their own.
      connection: this.connection.duplicate(),
      prefix: this.prefix,
      concurrency: options.concurrency,
      lockDuration: options.lockDurationMs,
      stalledInterval: Math.max(5_000, Math.floor(options.lockDurationMs / 2)),
      maxStalledCount: 2,
      autorun: false,
      name: options.name,
    });
  }

  /** The run's shards being processed now (among the first `limit` active jobs). */
  async activeShards(runId: string, limit = 1000): Promise<number> {
    const active = await this.queue.getJobs(['active'], 0, limit);
    return active.filter((job) => job?.id !== undefined && parseShardJobId(job.id)?.runId === runId).length;
  }

  /** Workers connected to the queue now; null when Redis does not say (CLIENT LIST refused). */
  async workerCount(): Promise<number | null> {
    return this.queue.getWorkersCount().catch(() => null);
  }

  async counts(): Promise<ShardQueueCounts> {
    const counts = await this.queue.getJobCounts('waiting', 'prioritized', 'active', 'delayed', 'failed', 'completed');
    const n = (key: string) => counts[key] ?? 0;
    return { waiting: n('waiting') + n('prioritized'), active: n('active'), delayed: n('delayed'), failed: n('failed'), completed: n('completed') };
  }

  /** `cancel`: 1 when the shard's job had not started and is removed now, else 0. */
  removeShardIfNotStarted(runId: string, shard: number): Promise<number> {
    return removeIfNotStarted(this.queue, shardJobId(runId, shard));
  }

  /** `cancel`: the run's finalise job, unless a worker runs it. */
  removeFinalizeIfNotStarted(runId: string): Promise<number> {
    return removeIfNotStarted(this.queue, finalizeJobId(runId));
  }

  /** An `index-partition` job the finaliser does itself, unless a worker runs it already: 1 when removed. */
  removeIndexPartitionIfNotStarted(runId: string, partition: number): Promise<number> {
    return removeIfNotStarted(this.queue, indexPartitionJobId(runId, partition));
  }

  close(): Promise<void> {
    return this.queue.close();
  }
}

/** 1 when the job was waiting (or delayed) and is removed now; finished and running jobs stay. */
export async function removeIfNotStarted(queue: Queue, jobId: string): Promise<number> {
  const job = await queue.getJob(jobId);
  if (!job || !NOT_STARTED.has(await job.getState())) return 0;
  // A worker may take it between the two calls: then it is locked and stays (it sees the state).
  return queue.remove(jobId).catch(() => 0);
}

/**
 * A worker's shutdown deadline passed: the job goes back to the queue at once instead of
 * waiting for its lock to expire. Throw what this returns from the processor.
 */
export async function handBack(job: Job, token: string): Promise<Error> {
  await job.moveToWait(token);
  return new WaitingError();
}

/**
 * The job is not ready to run (a finalise job whose shards are still out): it is delayed by
 * `delayMs` without using up an attempt. Throw what this returns from the processor.
 */
export async function checkAgainLater(job: Job, token: string | undefined, delayMs = FINALIZE_RECHECK_MS): Promise<Error> {
  await job.moveToDelayed(Date.now() + delayMs, token);
  return new DelayedError();
}

/** A failure no retry can mend: the job fails now, whatever attempts it has left. */
export function permanentFailure(message: string): Error {
  return new UnrecoverableError(message);
}

/** True when this failure was the job's last: permanent, or its attempts used up. */
export function isFinalFailure(job: Job, error: Error): boolean {
  const attempts = job.opts.attempts ?? 1;
  return error instanceof UnrecoverableError || error.name === 'UnrecoverableError' || job.attemptsMade >= attempts;
}

/**
 * The attempt a job is on. attemptsStarted also counts executions ended by a crash (stalled-job
 * recovery), which attemptsMade (failures only) misses: a shard's stats must say it ran more than once.
 */
export function attemptOf(job: Job): number {
  return Math.max(job.attemptsStarted, job.attemptsMade + 1);
}

function priorityOf(priority: number): { priority?: number } {
  return priority > 0 ? { priority } : {};
}
