import type { Command } from 'commander';
import { Queue } from 'bullmq';
import { assertRunId, finalizeJobId, redisOptions, shardJobId } from '@siglip-batch/jobs';
import { RunRegistry, connectCheckedRedis } from '@siglip-batch/pipeline';
import { addConnectionOptions, redisUrlOf, type ConnectionOptions } from '../shared/connections';

export function registerCancelCommand(program: Command): void {
  const command = program
    .command('cancel')
    .description('cancel a run: its waiting shards are removed, workers skip the rest; committed files stay')
    .argument('<run>', 'run id');
  addConnectionOptions(command).action(async (runId: string, options: ConnectionOptions) => {
    assertRunId(runId);
    const redis = await connectCheckedRedis(redisUrlOf(options), redisOptions('producer'), false);
    try {
      const registry = new RunRegistry(redis, options.prefix);
      const record = await registry.get(runId);
      if (!record) {
        process.stderr.write(`run ${runId} is not known to Redis: nothing to cancel\n`);
        process.exitCode = 1;
        return;
      }
      await registry.setState(runId, 'cancelled', 'cancelled by user');
      const queue = new Queue(record.queue, { connection: redis, prefix: options.prefix });
      let removed = 0;
      try {
        for (let shard = 0; shard < record.shardsPlanned; shard++) {
          // Active (locked) jobs cannot be removed: their workers see the state and stop.
          removed += await queue.remove(shardJobId(runId, shard)).catch(() => 0);
        }
        await queue.remove(finalizeJobId(runId)).catch(() => 0);
      } finally {
        await queue.close();
      }
      await registry.expireAfterEnd(runId);
      process.stdout.write(`run ${runId} cancelled: ${removed} queued shard(s) removed\n`);
    } finally {
      redis.disconnect();
    }
  });
}
