import { Command } from 'commander';
import packageJson from '../package.json' with { type: 'json' };

type Register = (program: Command) => void;

/**
 * Every subcommand and how to load it. A subcommand's module (and what it imports: ONNX Runtime,
 * sharp, the AWS SDK, DuckDB …) is loaded only when that subcommand runs, or for the full help.
 */
const COMMANDS: Readonly<Record<string, () => Promise<Register>>> = {
  enqueue: async () => (await import('./commands/enqueue-command')).registerEnqueueCommand,
  status: async () => (await import('./commands/status-command')).registerStatusCommand,
  cancel: async () => (await import('./commands/cancel-command')).registerCancelCommand,
  embed: async () => (await import('./commands/embed-command')).registerEmbedCommand,
  model: async () => (await import('./commands/model-command')).registerModelCommand,
  worker: async () => (await import('./commands/worker-command')).registerWorkerCommand,
  dashboard: async () => (await import('./commands/dashboard-command')).registerDashboardCommand,
  search: async () => (await import('./commands/search-command')).registerSearchCommand,
  retag: async () => (await import('./commands/retag-command')).registerRetagCommand,
  latest: async () => (await import('./commands/latest-command')).registerLatestCommand,
  schedule: async () => (await import('./commands/schedule-command')).registerScheduleCommand,
  scheduler: async () => (await import('./commands/scheduler-command')).registerSchedulerCommand,
  compact: async () => (await import('./commands/compact-command')).registerCompactCommand,
};

/** The names of every subcommand. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/**
 * The `siglip-batch` command for `argv`: with a known subcommand name first, only that
 * subcommand is loaded and registered; otherwise (help, --version, a typo) all of them are, so
 * the help lists everything and commander names the nearest command.
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('siglip-batch')
    .description(
      'Turn buckets of images into SigLIP embeddings and label scores: a producer plans shards and ' +
        'queues them in Redis (BullMQ); workers embed them with ONNX Runtime and write Parquet.',
    )
    .version(packageJson.version, '-V, --version', 'print the version')
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true });
  const first = argv[2];
  const names = first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : COMMAND_NAMES;
  const registers = await Promise.all(names.map((name) => COMMANDS[name]!()));
  for (const register of registers) register(program);
  return program;
}
