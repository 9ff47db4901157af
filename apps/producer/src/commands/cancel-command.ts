import type { Command } from 'commander';
import { Queue } from 'bullmq';
import { ShardQueue, planUnitJobId, planningQueueName, redisOptions, removeIfNotStarted } from '@siglip-batch/jobs';
import { IllegalRunTransitionError, RunRegistry, connectCheckedRedis, plannedShardRanges, writeCancelMarker } from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';
import { log } from '../shared/cli-log';
import { addConnectionOptions, redisUrlOf, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { CliError, EXIT } from '../shared/exit-codes';
import { runIdArgument } from '../shared/parsers';

interface CancelCliOptions extends ConnectionOptions {
  json?: boolean;
}

export function registerCancelCommand(program: Command): void {
  const command = program
    .command('cancel')
    .description('cancel a run that has not ended: its waiting shards are removed, workers skip the rest; committed files stay')
    .argument('<run>', 'run id', runIdArgument)
    .option('--json', 'print {"run","cancelled","removedShards"} as JSON');
  addConnectionOptions(command).action(async (runId: string, options: CancelCliOptions) => {
    const redis = await connectCheckedRedis(redisUrlOf(options), redisOptions('producer'), false);
    try {
      const registry = new RunRegistry(redis, options.prefix);
      const record = await registry.get(runId);
      if (!record) throw new CliError(`run ${runId} is not known to Redis: nothing to cancel`, EXIT.failure, 'not_found');
      // The state decides, compared and set in one step: a completed, failed or cancelled run,
      // or one whose manifest is being written, is refused and nothing is touched.
      const cancelledAt = new Date().toISOString();
      try {
        await registry.transition(runId, 'cancelled', { reason: 'cancelled by user' });
      } catch (error) {
        if (!(error instanceof IllegalRunTransitionError)) throw error;
        throw new CliError(`${error.message}: nothing was cancelled`, EXIT.failure, 'not_cancellable');
      }
      const queue = ShardQueue.named(redis, options.prefix, record.queue);
      const units = new Queue(planningQueueName(runId), { connection: redis, prefix: options.prefix });
      const folder = openRunFolder(record.spec, s3OptionsOf(options));
      let removed = 0;
      try {
        const listing = await folder.readListing();
        if (listing) {
          // Units not yet taken by a planner are dropped; planners at work see the state.
          for (let unit = 0; unit < (listing.units ?? 1); unit++) await removeIfNotStarted(units, planUnitJobId(runId, unit));
          // The shards planned so far, unit by unit (their ids are not 0 … n−1 once a run has units).
          for await (const range of plannedShardRanges(folder, listing)) {
            for (let shard = range.first; shard < range.first + range.count; shard++) removed += await queue.removeShardIfNotStarted(runId, shard);
          }
        }
        await queue.removeFinalizeIfNotStarted(runId);
      } finally {
        await units.close();
        await queue.close();
      }
      await registry.expireAfterEnd(runId);
      // What remains of the cancel once Redis forgets the run (status --out, enqueue again).
      try {
        await writeCancelMarker(folder, { cancelledAt, reason: 'cancelled by user' });
      } catch (error) {
        log('warn', `the run is cancelled, but ${folder.uriOf('_cancelled.json')} could not be written: ${(error as Error).message}`);
      } finally {
        folder.store.close();
      }
      if (options.json) process.stdout.write(`${JSON.stringify({ run: runId, cancelled: true, removedShards: removed })}\n`);
      else process.stdout.write(`run ${runId} cancelled: ${removed} queued shard(s) removed\n`);
    } finally {
      redis.disconnect();
    }
  });
}
