import { Help, type Command } from 'commander';

/**
 * What the top-level help lists for a subcommand: its term (name, `[options]`, arguments, as
 * commander writes it) and a one-line summary. Kept apart from the subcommands' modules so that
 * `siglip-batch --help` and `--version` load none of them (they import ONNX Runtime, sharp, the
 * AWS SDK …); program.spec.ts checks every term against the loaded subcommand.
 */
export interface CommandListing {
  term: string;
  summary: string;
}

export const COMMAND_LISTING: Readonly<Record<string, CommandListing>> = {
  cancel: { term: 'cancel [options] <run>', summary: 'cancel a run that has not ended (committed files stay)' },
  compact: { term: 'compact [options]', summary: "merge a finished run's small part and errors files into large ones" },
  dashboard: { term: 'dashboard [options]', summary: 'web dashboard: Bull Board for the model queues and a page per run' },
  demo: { term: 'demo [options]', summary: 'embed the bundled sample images with the tiny test model, in one process without Redis' },
  embed: { term: 'embed [options]', summary: 'one-process mode: embed a source into a run folder without Redis' },
  enqueue: { term: 'enqueue [options]', summary: 'plan a run into its output folder and queue its shards for the workers' },
  files: { term: 'files [options]', summary: "print the files a finished run's manifest lists (part, errors, deletions, labels)" },
  index: { term: 'index [options]', summary: "build a run's LanceDB table and vector index (or add a later run to one)" },
  latest: { term: 'latest [options]', summary: "write the newest embedded row of every object across an output's runs" },
  model: { term: 'model', summary: 'inspect a model directory, tokenize, preprocess and embed local files, pull from the Hub' },
  retag: { term: 'retag [options]', summary: 'new label scores and tags for a finished run from its stored embeddings' },
  schedule: { term: 'schedule [options]', summary: 'register (or --remove, --list) a schedule of incremental runs' },
  scheduler: { term: 'scheduler [options]', summary: 'start the runs of every `siglip-batch schedule` (until SIGTERM)' },
  search: { term: 'search [options]', summary: 'top-k objects of a finished run for a text or image query' },
  status: { term: 'status [options] <run>', summary: 'progress of a run: shards, objects, error codes, rate, ETA' },
  worker: { term: 'worker [args...]', summary: "run a worker that consumes one model's shard queue (`siglip-batch worker --help`)" },
};

/**
 * One example per command, by command path, shown after its help. The worker's own help (`worker
 * --help` runs the worker app) has its example in apps/worker.
 */
export const COMMAND_EXAMPLES: Readonly<Record<string, string>> = {
  cancel: 'siglip-batch cancel photos-2026-11',
  compact: 'siglip-batch compact --run s3://embeddings/photos-2026-11/',
  dashboard: 'siglip-batch dashboard --port 3000 --allowed-host dash.example.com',
  demo: 'siglip-batch demo --out ./siglip-batch-demo',
  embed: 'siglip-batch embed --source ./images --out ./runs --model models/siglip-so400m --labels cat,dog',
  enqueue:
    'siglip-batch enqueue --run photos-2026-11 --source s3://photos/2026/11/ --out s3://embeddings/ --model models/siglip-so400m --labels-file labels.yaml',
  files: 'siglip-batch files --run s3://embeddings/photos-2026-11/ --kind part',
  index: 'siglip-batch index --run s3://embeddings/photos-2026-11/',
  latest: 'siglip-batch latest --out s3://embeddings/',
  model: 'siglip-batch model inspect models/siglip-so400m',
  'model embed': 'siglip-batch model embed --model models/siglip-so400m --labels cat,dog ./images',
  'model inspect': 'siglip-batch model inspect models/siglip-so400m --json',
  'model preprocess': 'siglip-batch model preprocess --model models/siglip-so400m --out-dir ./pixels photo.jpg',
  'model pull': 'siglip-batch model pull onnx-community/siglip2-base-patch16-224-ONNX --variant fp16 --out models/siglip2-base',
  'model tokenize': 'siglip-batch model tokenize --model models/siglip-so400m "a photo of a cat"',
  retag: 'siglip-batch retag --run s3://embeddings/photos-2026-11/ --labels-file labels.yaml --out s3://embeddings/photos-2026-11-retag/ --model models/siglip-so400m',
  schedule:
    'siglip-batch schedule --name nightly-photos --cron "0 2 * * *" --source s3://photos/ --out s3://embeddings/ --model models/siglip-so400m --labels cat,dog',
  scheduler: 'siglip-batch scheduler --redis-url redis://queue.internal:6379',
  search: 'siglip-batch search --run s3://embeddings/photos-2026-11/ --model models/siglip-so400m --text "a cat on a sofa" -k 5',
  status: 'siglip-batch status photos-2026-11 --watch',
  worker: 'siglip-batch worker --model models/siglip-so400m --device cuda:0',
};

/** The text added after a command's help for its example. */
export const exampleHelpText = (example: string) => `\nExample:\n  $ ${example}`;

/**
 * True when the command line asks only for the top-level help or the version: no subcommand has
 * to be loaded for that, when every one of `names` is listed here.
 */
export function wantsListingOnly(argv: readonly string[], names: readonly string[]): boolean {
  const args = argv.slice(2);
  const listingOnly = args.length === 0 || (args.length === 1 && ['--help', '-h', 'help', '--version', '-V'].includes(args[0]!));
  return listingOnly && names.every((name) => Object.hasOwn(COMMAND_LISTING, name));
}

/** Registers `names` as placeholders that the top-level help lists exactly as the loaded subcommands. */
export function addCommandPlaceholders(program: Command, names: readonly string[]): void {
  for (const name of names) program.command(name).summary(COMMAND_LISTING[name]!.summary);
  const standard = new Help();
  program.configureHelp({
    ...program.configureHelp(),
    subcommandTerm: (command: Command) => COMMAND_LISTING[command.name()]?.term ?? standard.subcommandTerm(command),
  });
}

/** Gives each loaded subcommand (and theirs, e.g. `model inspect`) its summary and its example. */
export function addSummariesAndExamples(program: Command, path: readonly string[] = []): void {
  for (const command of program.commands) {
    const key = [...path, command.name()].join(' ');
    const listing = path.length === 0 ? COMMAND_LISTING[key] : undefined;
    if (listing) command.summary(listing.summary);
    const example = COMMAND_EXAMPLES[key];
    if (example) command.addHelpText('after', exampleHelpText(example));
    addSummariesAndExamples(command, [...path, command.name()]);
  }
}
