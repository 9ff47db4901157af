import { Command, Option } from 'commander';
import { prestartInferenceThread } from '@siglip-batch/model/inference-prestart';
import packageJson from '../package.json' with { type: 'json' };
import { addCommandPlaceholders, addSummariesAndExamples, wantsListingOnly } from './command-help';
import { LOG_LEVELS, LOG_LEVEL_ENV, setLogLevel, type LogLevel } from './shared/cli-log';
import { EXIT_CODE_HELP } from './shared/exit-codes';

type Register = (program: Command) => void;

/**
 * Every subcommand and how to load it. A subcommand's module (and what it imports: ONNX Runtime,
 * sharp, the AWS SDK, DuckDB …) is loaded only when that subcommand runs. A new one needs its
 * line in command-help (top-level help listing, example).
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
  files: async () => (await import('./commands/files-command')).registerFilesCommand,
  index: async () => (await import('./commands/index-command')).registerIndexCommand,
  demo: async () => (await import('./commands/demo-command')).registerDemoCommand,
};

/** The names of every subcommand. */
export const COMMAND_NAMES: readonly string[] = Object.keys(COMMANDS);

/**
 * The `siglip-batch` command for `argv`: with a known subcommand name first, only that
 * subcommand is loaded and registered; for the top-level help or --version alone, none is (the
 * help lists them from command-help); otherwise (`help <command>`, a typo) all of them are, so
 * that commander finds the command or names the nearest one.
 */
export async function buildProgram(argv: readonly string[] = process.argv): Promise<Command> {
  const program = new Command('siglip-batch')
    .description(
      'Turn buckets of images into SigLIP embeddings and label scores: a producer plans shards and ' +
        'queues them in Redis (BullMQ); workers embed them with ONNX Runtime and write Parquet.',
    )
    .version(packageJson.version, '-V, --version', 'print the version')
    .addOption(
      new Option('--log-level <level>', 'what is printed on stderr besides results and errors (a worker started by this command inherits it)')
        .choices(LOG_LEVELS)
        .env(LOG_LEVEL_ENV)
        .default('info'),
    )
    .showHelpAfterError()
    .configureHelp({ sortSubcommands: true, showGlobalOptions: true })
    .addHelpText('afterAll', `\n${EXIT_CODE_HELP}`)
    // Usage errors (unknown flag, bad value, missing argument) are thrown instead of ending the
    // process with commander's exit code 1, so that main turns them into exit code 2.
    .exitOverride()
    .hook('preAction', (thisCommand) => {
      const level = thisCommand.opts<{ logLevel: LogLevel }>().logLevel;
      setLogLevel(level);
      process.env[LOG_LEVEL_ENV] = level;
    });
  // The top-level help and --version list the subcommands from command-help, loading none.
  if (wantsListingOnly(argv, COMMAND_NAMES)) {
    addCommandPlaceholders(program, COMMAND_NAMES);
    return program;
  }
  const first = argv[2];
  // `embed` loads a model: its inference thread starts a Node environment and loads ONNX Runtime
  // while this thread loads the subcommand's modules and checks its options (bench/README.md,
  // issue 18), instead of after them. Unused (a usage error, --help), it ends with the process.
  if (first === 'embed' && !argv.includes('--help') && !argv.includes('-h')) prestartInferenceThread();
  const names = first !== undefined && Object.hasOwn(COMMANDS, first) ? [first] : COMMAND_NAMES;
  const registers = await Promise.all(names.map((name) => COMMANDS[name]!()));
  for (const register of registers) register(program);
  addSummariesAndExamples(program);
  return program;
}
