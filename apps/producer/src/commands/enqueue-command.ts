import type { Command } from 'commander';
import type { Redis } from 'ioredis';
import { parseLocation } from '@siglip-batch/io';
import { openRunFolder, type RunFolder } from '@siglip-batch/run-format';
import { assertRunId, redisOptions, runSpecSchema, type LabelSpec, type RunSpec } from '@siglip-batch/jobs';
import {
  ProblemList,
  buildRunSpec,
  checkSourceReadable,
  checkOutputWritable,
  connectCheckedRedis,
  inspectSiglipModel,
  parseLabelList,
  resolveRunSource,
  readLabelFile,
  specDifferences,
  type SourceKindHint,
} from '@siglip-batch/pipeline';
import { enqueueRun } from '../enqueue/run-enqueuer';
import { addConnectionOptions, redisUrlOf, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { log } from '../shared/cli-log';
import { ProgressLine, addProgressOption, type ProgressOptions } from '../shared/progress';
import { positiveInt } from '../shared/parsers';
import { addDecodeOptions, addRunOptions, decodeModeOf, sourceKindOption, type DecodeCliOptions, type RunCliOptions } from '../shared/run-options';
import { resolveModelDir } from '../shared/model-dir';
import { addRetryOptions, resolveRetry, retryErrorsAfterArgument, type RetryCliOptions } from '../shared/retry-options';

interface EnqueueCliOptions extends ConnectionOptions, RunCliOptions, ProgressOptions, RetryCliOptions, DecodeCliOptions {
  run?: string;
  resume?: string;
  source?: string;
  sourceKind?: SourceKindHint;
  out?: string;
  maxWaiting: number;
  planners: number;
  planningUnits: number;
  json?: boolean;
  incremental?: boolean;
  retryErrorsAfter?: number;
}

export function registerEnqueueCommand(program: Command): void {
  const command = program
    .command('enqueue')
    .description('plan a run into its output folder and queue its shards for the workers (idempotent; resumable)')
    .option('--run <id>', 'run id ([a-z0-9][a-z0-9_-]{0,63})')
    .option('--resume <id>', 'continue run <id> from its folder in --out (after an interruption, or after Redis lost its data)')
    .option('--source <uri>', 'S3 prefix, local directory, manifest (.txt of URIs, .parquet with a uri column; a * in its name: every matching file; <folder>/** or a folder with --source-kind manifest: every manifest under it; one planning unit per file) or S3 Inventory manifest.json; or --retry-errors <run>')
    .addOption(sourceKindOption())
    .option('--out <uri>', 'output root (s3://bucket/prefix or a local directory); the run folder is <out>/<run>/');
  addRunOptions(command)
    .option('--max-waiting <n>', 'backpressure: at most this many shard jobs waiting in the queue', positiveInt('--max-waiting'), 200)
    .option('--planners <n>', 'planning units this process plans at once (other producers enqueuing the same run share the units)', positiveInt('--planners'), 1)
    .option(
      '--planning-units <n>',
      'S3 prefix or directory: split the listing into up to this many key ranges planned in parallel (first enqueue of a run only; manifest globs and prefixes, and S3 Inventory reports, split by file)',
      positiveInt('--planning-units'),
      1,
    )
    .option('--incremental', "plan only objects the output's processed index has not seen with this model and ETag; record vanished ones as deletions")
    .option(
      '--retry-errors-after <duration>',
      'with --incremental: also plan unchanged objects whose last result is an error from a run finalised longer ago than this (e.g. 7d, 12h, 30m)',
      retryErrorsAfterArgument,
    )
    .option('--json', 'print the summary as JSON');
  addDecodeOptions(command);
  addRetryOptions(command);
  addProgressOption(command);
  addConnectionOptions(command).action(async (options: EnqueueCliOptions) => {
    process.exitCode = await enqueueCommand(options);
  });
}

async function enqueueCommand(options: EnqueueCliOptions): Promise<number> {
  const s3 = s3OptionsOf(options);
  const { spec, folder, redis, sourceNote } = await resolveConfiguration(options);
  if (sourceNote !== undefined) log('info', sourceNote);
  const progress = new ProgressLine('{bar} {objects} objects listed | {shards} shards planned, {enqueued} enqueued, {skipped} already done', options);
  progress.start(1, { objects: 0, shards: 0, enqueued: 0, skipped: 0 });
  try {
    const summary = await enqueueRun({
      spec,
      folder,
      redis,
      prefix: options.prefix,
      s3,
      maxWaiting: options.maxWaiting,
      planners: options.planners,
      planningUnits: options.planningUnits,
      ...planLockFromEnv(),
      onNotice: (message) => log('info', message),
      onProgress: (p) =>
        progress.update(p.complete ? 1 : 0, {
          objects: p.objectsPlanned,
          shards: p.shardsPlanned,
          enqueued: p.shardsEnqueued,
          skipped: p.shardsAlreadyDone,
        }),
    });
    progress.stop();
    const line = summary.alreadyComplete
      ? `run ${spec.runId} is already complete (${summary.objectsPlanned} objects, ${summary.shardsPlanned} shards): nothing enqueued`
      : `run ${spec.runId}: ${summary.objectsPlanned} objects in ${summary.shardsPlanned} shards; ${summary.shardsEnqueued} enqueued, ` +
        `${summary.shardsAlreadyDone} already done; queue ${summary.queue}; folder ${folder.uriOf('')}`;
    const inventory = spec.sourceKind === 's3-inventory' ? { inventory: spec.source } : {};
    if (options.json) process.stdout.write(`${JSON.stringify({ run: spec.runId, folder: folder.uriOf(''), ...inventory, ...summary })}\n`);
    else process.stdout.write(`${line}\n`);
    return 0;
  } finally {
    progress.stop();
    folder.store.close();
    redis.disconnect();
  }
}

/**
 * `SIGLIP_BATCH_PLAN_LOCK_MS`: how long a dead planner holds its unit before another takes it
 * over (default 30 s; the fault tests shorten it).
 */
function planLockFromEnv(): { planLockMs?: number } {
  const value = Number(process.env['SIGLIP_BATCH_PLAN_LOCK_MS']);
  return Number.isInteger(value) && value > 0 ? { planLockMs: value } : {};
}

/** Every problem of the command line, Redis, the model and the locations, in one error. */
async function resolveConfiguration(options: EnqueueCliOptions): Promise<{ spec: RunSpec; folder: RunFolder; redis: Redis; sourceNote?: string }> {
  const problems = new ProblemList();
  const s3 = s3OptionsOf(options);
  const redisPromise = problems.check('Redis', () => connectCheckedRedis(redisUrlOf(options), redisOptions('producer')));
  let spec: RunSpec | undefined;
  let sourceNote: string | undefined;

  if (options.resume) {
    if (options.run && options.run !== options.resume) problems.add('--run and --resume name different runs');
    if (!options.out) problems.add('--resume needs --out (the output root that holds the run folder)');
    else {
      spec = await problems.check(`run ${options.resume} in ${options.out}`, async () => {
        const folder = openRunFolder({ output: parseLocation(options.out!).uri, runId: options.resume! }, s3);
        try {
          const stored = await folder.readRunSpec();
          if (!stored) throw new Error(`no run folder with a _run.json at ${folder.uriOf('')}`);
          return runSpecSchema.parse(stored);
        } finally {
          folder.store.close();
        }
      });
    }
  } else {
    const retry = await resolveRetry(options, problems, s3);
    // An inventory's configuration folder → the manifest.json of its newest report, frozen in the spec.
    const resolved =
      options.source !== undefined && !options.retryErrors
        ? await problems.check(`--source ${options.source}`, () => resolveRunSource(options.source!, options.sourceKind ?? 'auto', s3))
        : undefined;
    sourceNote = resolved?.note;
    const source = retry?.source ?? resolved?.source;
    const out = options.out ?? retry?.output;
    const given = [['--run', options.run], ['--model', options.model]] as Array<[string, string | undefined]>;
    if (options.retryErrors === undefined) given.push(['--source', options.source], ['--out', options.out]);
    for (const [flag, value] of given) {
      if (!value) problems.add(`${flag} is required (or --resume <run> with --out)`);
    }
    const labels = await problems.check('labels', () => resolveLabels(options));
    const model = options.model ? await problems.check(`model ${options.model}`, async () => inspectSiglipModel(await resolveModelDir(options.model!, s3, options.variant), options.variant)) : undefined;
    if (resolved && !options.retryErrors) {
      await problems.check(`--source ${options.source}`, () => checkSourceReadable(resolved.source, s3, options.incremental ? { incremental: true } : {}));
    }
    if (out) await problems.check(`--out ${out}`, () => checkOutputWritable(out, s3));
    if (options.run && source && out && model && labels !== undefined) {
      spec = await problems.check('run', () =>
        buildRunSpec({
          runId: options.run!,
          source,
          output: out,
          model,
          labels: labels.labels,
          templates: options.template.length > 0 ? options.template : labels.templates ?? [],
          ...(options.shardSize ? { shardSize: options.shardSize } : {}),
          ...(options.priority !== undefined ? { priority: options.priority } : {}),
          suffixes: options.suffix,
          ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
          ...(options.maxPixels ? { maxPixels: options.maxPixels } : {}),
          ...(options.incremental ? { incremental: true } : {}),
          ...(options.writeS3Tags ? { writeS3Tags: true } : {}),
          ...(retry ? { retryErrors: retry.retryErrors } : {}),
          ...(options.retryErrorsAfter !== undefined ? { retryErrorsAfterSeconds: options.retryErrorsAfter } : {}),
          ...(options.embeddingDtype ? { embeddingDtype: options.embeddingDtype } : {}),
          decode: decodeModeOf(options),
        }),
      );
    } else if (options.run) {
      await problems.check('--run', () => assertRunId(options.run!));
    }
  }
  const redis = await redisPromise;
  let folder: RunFolder | undefined;
  if (spec) {
    folder = openRunFolder(spec, s3);
    const stored = await problems.check(`run folder ${folder.uriOf('')}`, () => folder!.readRunSpec());
    if (stored && !options.resume) {
      const differences = specDifferences(runSpecSchema.parse(stored), spec);
      if (differences.length > 0) {
        problems.add(`run ${spec.runId} already exists in ${folder.uriOf('')} with a different ${differences.join(', ')}: use another --run, or --resume ${spec.runId}`);
      } else {
        spec = runSpecSchema.parse(stored);
      }
    } else if (!stored && problems.problems.length === 0) {
      // Only a configuration without problems creates the run folder: a refused command
      // leaves nothing behind.
      await problems.check(`run folder ${folder.uriOf('')}`, () => folder!.writeRunSpec(spec!));
    }
  }
  if (problems.problems.length > 0) {
    redis?.disconnect();
    folder?.store.close();
  }
  problems.throwIfAny();
  return { spec: spec!, folder: folder!, redis: redis!, ...(sourceNote !== undefined ? { sourceNote } : {}) };
}

async function resolveLabels(options: EnqueueCliOptions): Promise<{ labels: LabelSpec[] | null; templates?: string[] }> {
  if (options.labels !== undefined && options.labelsFile !== undefined) throw new Error('give --labels or --labels-file, not both');
  if (options.labels !== undefined) return { labels: parseLabelList(options.labels) };
  if (options.labelsFile !== undefined) return readLabelFile(options.labelsFile);
  return { labels: null };
}
