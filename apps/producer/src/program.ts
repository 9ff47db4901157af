import { Command } from 'commander';
import packageJson from '../package.json' with { type: 'json' };
import { registerCancelCommand } from './commands/cancel-command';
import { registerDashboardCommand } from './commands/dashboard-command';
import { registerEmbedCommand } from './commands/embed-command';
import { registerEnqueueCommand } from './commands/enqueue-command';
import { registerLatestCommand } from './commands/latest-command';
import { registerModelCommand } from './commands/model-command';
import { registerRetagCommand } from './commands/retag-command';
import { registerScheduleCommand } from './commands/schedule-command';
import { registerSchedulerCommand } from './commands/scheduler-command';
import { registerSearchCommand } from './commands/search-command';
import { registerStatusCommand } from './commands/status-command';
import { registerWorkerCommand } from './commands/worker-command';

/**
 * The `siglip-batch` command and its subcommands. Each capability registers its own
 * subcommand here as it is built.
 */
export function buildProgram(): Command {
  const program = new Command('siglip-batch')
    .description(
      'Turn buckets of images into SigLIP embeddings and label scores: a producer plans shards and ' +
        'queues them in Redis (BullMQ); workers embed them with ONNX Runtime and write Parquet.',
    )
    .version(packageJson.version, '-V, --version', 'print the version')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  registerEnqueueCommand(program);
  registerStatusCommand(program);
  registerCancelCommand(program);
  registerEmbedCommand(program);
  registerModelCommand(program);
  registerWorkerCommand(program);
  registerDashboardCommand(program);
  registerSearchCommand(program);
  registerRetagCommand(program);
  registerLatestCommand(program);
  registerScheduleCommand(program);
  registerSchedulerCommand(program);
  return program;
}
