import { Worker } from 'bullmq';
import type { Command } from 'commander';
import { redisOptions } from '@siglip-batch/jobs';
import { connectCheckedRedis } from '@siglip-batch/pipeline';
import { startScheduledRun } from '../schedule/scheduled-run-starter';
import { SCHEDULER_QUEUE } from '../schedule/scheduled-run';
import { addConnectionOptions, redisUrlOf, s3OptionsOf, type ConnectionOptions } from '../shared/connections';

/**
 * `siglip-batch scheduler`: the process that consumes the scheduler queue and starts the runs
 * the job schedulers of `siglip-batch schedule` fire. Run one (or more: a firing is taken by one
 * consumer, and enqueuing is idempotent under the run's planning lock) beside the workers.
 */
export function registerSchedulerCommand(program: Command): void {
  const command = program
    .command('scheduler')
    .description('consume the scheduler queue: start an incremental run for every firing of a `siglip-batch schedule` (runs until SIGTERM)');
  addConnectionOptions(command).action(async (options: ConnectionOptions) => {
    const redis = await connectCheckedRedis(redisUrlOf(options), redisOptions('worker'));
    const s3 = s3OptionsOf(options);
    const log = (fields: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ time: new Date().toISOString(), ...fields })}\n`);
    const worker = new Worker(SCHEDULER_QUEUE, (job) => startScheduledRun(job, redis, options.prefix, s3), {
      connection: redis.duplicate(),
      prefix: options.prefix,
      concurrency: 1,
    });
    worker.on('completed', (job, result: { runId: string; objectsPlanned: number; shardsEnqueued: number }) =>
      log({ level: 'info', msg: 'scheduled run enqueued', schedule: job.data?.schedule, run: result.runId, objects: result.objectsPlanned, shards: result.shardsEnqueued }),
    );
    worker.on('failed', (job, error) => log({ level: 'error', msg: 'scheduled run failed to start', schedule: job?.data?.schedule, error: error.message }));
    worker.on('error', (error) => log({ level: 'error', msg: 'scheduler error', error: error.message }));
    await worker.waitUntilReady();
    log({ level: 'info', msg: 'scheduler started', queue: SCHEDULER_QUEUE, prefix: options.prefix });
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', resolve);
      process.once('SIGINT', resolve);
    });
    await worker.close();
    redis.disconnect();
    process.exitCode = 0;
  });
}
