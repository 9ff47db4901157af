import { Worker } from 'bullmq';
import type { Command } from 'commander';
import { redisOptions } from '@siglip-batch/jobs';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { connectCheckedRedis } from '@siglip-batch/pipeline';
import { startScheduledRun, type FiringResult } from '../schedule/scheduled-run-starter';
import { SCHEDULER_QUEUE } from '../schedule/scheduled-run';
import { addConnectionOptions, redisUrlOf, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { positiveInt } from '../shared/parsers';

/** How long a stopping scheduler waits for the firing it is enqueuing before it lets go. */
const SHUTDOWN_DEADLINE_MS = 20_000;

/**
 * `siglip-batch scheduler`: the process that consumes the scheduler queue and starts the runs
 * the job schedulers of `siglip-batch schedule` fire. Run one (or more: a firing is taken by one
 * consumer, and enqueuing is idempotent under the run's planning lock) beside the workers.
 */
export function registerSchedulerCommand(program: Command): void {
  const command = program
    .command('scheduler')
    .description('consume the scheduler queue: start an incremental run for every firing of a `siglip-batch schedule` (runs until SIGTERM)')
    .option('--planners <n>', "planning units of a firing's run this process plans at once", positiveInt('--planners'), 1)
    .option('--planning-units <n>', "split a firing's S3 prefix or directory listing into up to this many key ranges", positiveInt('--planning-units'), 1);
  addConnectionOptions(command).action(async (options: SchedulerCliOptions) => {
    process.exitCode = await runScheduler(options);
  });
}

interface SchedulerCliOptions extends ConnectionOptions {
  planners: number;
  planningUnits: number;
}

async function runScheduler(options: SchedulerCliOptions): Promise<number> {
  const log = (fields: Record<string, unknown>) => process.stderr.write(`${redactSecrets(JSON.stringify({ time: new Date().toISOString(), ...fields }))}\n`);
  // Listening before anything else: a SIGTERM during start-up still ends the process cleanly.
  const stopping = new AbortController();
  const stop = (signal: NodeJS.Signals) => () => stopping.abort(new Error(`the scheduler is stopping (${signal}); the firing will be retried`));
  const onTerm = stop('SIGTERM');
  const onInt = stop('SIGINT');
  process.once('SIGTERM', onTerm);
  process.once('SIGINT', onInt);
  const stopped = new Promise<void>((resolve) => stopping.signal.addEventListener('abort', () => resolve(), { once: true }));

  const redis = await connectCheckedRedis(redisUrlOf(options), redisOptions('worker'));
  // The worker gets a connection of its own, and it is ours to close: BullMQ does not close a
  // connection it was handed, and an open one keeps this process alive after SIGTERM.
  const workerConnection = redis.duplicate();
  const s3 = s3OptionsOf(options);
  const worker = new Worker(SCHEDULER_QUEUE, (job) => startScheduledRun(job, { redis, prefix: options.prefix, s3, signal: stopping.signal, planners: options.planners, planningUnits: options.planningUnits }), {
    connection: workerConnection,
    prefix: options.prefix,
    concurrency: 1,
    autorun: false,
  });
  worker.on('completed', (job, result: FiringResult) => {
    if (result.started) {
      log({
        level: 'info',
        msg: 'scheduled run enqueued',
        schedule: job.data?.schedule,
        run: result.runId,
        objects: result.objectsPlanned,
        shards: result.shardsEnqueued,
        ...(result.incremental ? { incremental: result.incremental } : {}),
      });
    } else {
      log({ level: 'info', msg: 'scheduled firing skipped', schedule: job.data?.schedule, run: result.runId, previousRun: result.previousRun, reason: result.reason });
    }
  });
  worker.on('failed', (job, error) => log({ level: 'error', msg: 'scheduled run failed to start', schedule: job?.data?.schedule, error: error.message }));
  worker.on('error', (error) => log({ level: 'error', msg: 'scheduler error', error: error.message }));
  try {
    if (!stopping.signal.aborted) {
      void worker.run().catch((error: unknown) => log({ level: 'error', msg: 'scheduler error', error: (error as Error).message }));
      await worker.waitUntilReady();
      log({ level: 'info', msg: 'scheduler started', queue: SCHEDULER_QUEUE, prefix: options.prefix });
    }
    await stopped;
    log({ level: 'info', msg: 'scheduler stopping' });
    // The abort above makes an enqueue in progress throw; if it does not end in time, the
    // firing's lock lapses and BullMQ hands it to another scheduler (or this one, restarted).
    let deadline: NodeJS.Timeout | undefined;
    const graceful = await Promise.race([
      worker.close().then(() => true),
      new Promise<false>((resolve) => (deadline = setTimeout(() => resolve(false), SHUTDOWN_DEADLINE_MS))),
    ]);
    clearTimeout(deadline);
    if (!graceful) await worker.close(true);
    log({ level: 'info', msg: 'scheduler stopped', graceful });
    return 0;
  } finally {
    process.off('SIGTERM', onTerm);
    process.off('SIGINT', onInt);
    workerConnection.disconnect();
    redis.disconnect();
  }
}
