import { Queue } from 'bullmq';
import type { Command } from 'commander';
import { isInventoryManifestUri, parseLocation } from '@siglip-batch/io';
import { redisOptions, type LabelSpec } from '@siglip-batch/jobs';
import {
  ProblemList,
  buildRunSpec,
  checkOutputWritable,
  checkSourceReadable,
  connectCheckedRedis,
  inspectSiglipModel,
  parseLabelList,
  readLabelFile,
  resolveRunSource,
  sourceKindOf,
  type SourceKindHint,
} from '@siglip-batch/pipeline';
import {
  SCHEDULED_RUN_JOB,
  SCHEDULER_QUEUE,
  inspectRepeat,
  scheduleLastRunKey,
  scheduleNameSchema,
  scheduledRunSchema,
  type ScheduleRepeat,
  type ScheduledRun,
} from '../schedule/scheduled-run';
import { addConnectionOptions, redisUrlOf, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { resolveModelDir } from '../shared/model-dir';
import { addDecodeOptions, addRunOptions, decodeModeOf, sourceKindOption, type DecodeCliOptions, type RunCliOptions } from '../shared/run-options';
import { positiveInt } from '../shared/parsers';
import { retryErrorsAfterArgument } from '../shared/retry-options';

interface ScheduleCliOptions extends ConnectionOptions, RunCliOptions, DecodeCliOptions {
  name?: string;
  cron?: string;
  tz?: string;
  every?: number;
  remove?: string;
  list?: boolean;
  source?: string;
  sourceKind?: SourceKindHint;
  out?: string;
  json?: boolean;
  retryErrorsAfter?: number;
}

export function registerScheduleCommand(program: Command): void {
  const command = program
    .command('schedule')
    .description('register (or --remove, --list) a BullMQ job scheduler that starts an incremental run on a cron pattern or at a fixed interval; `siglip-batch scheduler` starts the runs')
    .option('--name <name>', 'schedule name; runs are <name>-<yyyymmdd> (UTC), plus -<hhmmss> when two firings can fall on one day')
    .option('--cron <pattern>', 'cron pattern, e.g. "0 2 * * *"')
    .option('--tz <zone>', 'IANA time zone of the cron pattern (default UTC)')
    .option('--every <ms>', 'fire every <ms> milliseconds instead of a cron pattern', positiveInt('--every'))
    .option('--remove <name>', 'remove the schedule <name> (exit 1 when there is none)')
    .option('--list', 'list the registered schedules')
    .option('--source <uri>', 'S3 prefix, local directory, or (with --source-kind inventory) an S3 Inventory configuration folder')
    .addOption(sourceKindOption())
    .option('--out <uri>', 'output root (holds the processed index)');
  addDecodeOptions(addRunOptions(command))
    .option(
      '--retry-errors-after <duration>',
      'each run also plans unchanged objects whose last result is an error from a run finalised longer ago than this (e.g. 7d, 12h, 30m)',
      retryErrorsAfterArgument,
    )
    .option('--json', 'print the result as JSON');
  addConnectionOptions(command).action(async (options: ScheduleCliOptions) => {
    process.exitCode = await scheduleCommand(options);
  });
}

async function scheduleCommand(options: ScheduleCliOptions): Promise<number> {
  // Registration checks everything (flags, model, locations) before touching Redis, so a
  // refused schedule names every problem at once and registers nothing.
  const data = options.list || options.remove !== undefined ? undefined : await resolveSchedule(options);
  const redis = await connectCheckedRedis(redisUrlOf(options), redisOptions('producer'));
  const queue = new Queue(SCHEDULER_QUEUE, { connection: redis, prefix: options.prefix });
  const print = (value: unknown, line: string) => process.stdout.write(options.json ? `${JSON.stringify(value)}\n` : `${line}\n`);
  try {
    if (options.list) {
      const schedules = (await queue.getJobSchedulers(0, -1, true)).map((s) => ({
        name: s.key,
        ...(s.pattern ? { pattern: s.pattern, tz: s.tz ?? 'UTC' } : { every: Number(s.every) }),
        next: s.next ? new Date(s.next).toISOString() : null,
      }));
      print(
        schedules,
        schedules.length === 0
          ? 'no schedules'
          : schedules.map((s) => `${s.name}\t${'pattern' in s ? `${s.pattern} (${s.tz})` : `every ${s.every} ms`}\tnext ${s.next ?? '-'}`).join('\n'),
      );
      return 0;
    }
    if (options.remove !== undefined) {
      const name = options.remove;
      const removed = await queue.removeJobScheduler(name);
      if (!removed) {
        const known = (await queue.getJobSchedulers(0, -1, true)).map((s) => s.key);
        throw new Error(`no schedule named "${name}" under prefix ${options.prefix} (registered: ${known.length > 0 ? known.join(', ') : 'none'})`);
      }
      await redis.del(scheduleLastRunKey(options.prefix, name));
      print({ removed: true, name }, `schedule ${name} removed`);
      return 0;
    }
    const { run, repeat } = data!;
    await queue.upsertJobScheduler(run.schedule, repeat, {
      name: SCHEDULED_RUN_JOB,
      data: run,
      opts: {
        attempts: 5,
        backoff: { type: 'exponential', delay: 30_000 },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      },
    });
    const [scheduler] = (await queue.getJobSchedulers(0, -1, true)).filter((s) => s.key === run.schedule);
    const next = scheduler?.next ? new Date(scheduler.next).toISOString() : null;
    const how = 'pattern' in repeat ? `cron "${repeat.pattern}" ${repeat.tz}` : `every ${repeat.every} ms`;
    print(
      { name: run.schedule, repeat, next, queue: SCHEDULER_QUEUE, prefix: options.prefix },
      `schedule ${run.schedule} registered (${how}); next firing ${next ?? '?'}; runs are started by \`siglip-batch scheduler\` (prefix ${options.prefix})`,
    );
    return 0;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

async function resolveSchedule(options: ScheduleCliOptions): Promise<{ run: ScheduledRun; repeat: ScheduleRepeat }> {
  const problems = new ProblemList();
  const s3 = s3OptionsOf(options);
  if (options.name === undefined) problems.add('--name is required (the schedule name; runs are named after it)');
  const name = options.name === undefined ? undefined : await problems.check('--name', () => scheduleNameSchema.parse(options.name));
  let repeat: ScheduleRepeat | undefined;
  if (options.cron !== undefined && options.every !== undefined) problems.add('give --cron or --every, not both');
  else if (options.cron === undefined && options.every === undefined) problems.add('give --cron <pattern> or --every <ms>');
  else if (options.tz !== undefined && options.cron === undefined) problems.add('--tz applies to --cron only');
  else repeat = options.cron !== undefined ? { pattern: options.cron, tz: options.tz ?? 'UTC' } : { every: options.every! };
  const timing = repeat ? await problems.check(options.cron !== undefined ? '--cron' : '--every', () => inspectRepeat(repeat!)) : undefined;
  for (const [flag, value] of [['--source', options.source], ['--out', options.out], ['--model', options.model]] as const) {
    if (!value) problems.add(`${flag} is required`);
  }
  if (options.labels !== undefined && options.labelsFile !== undefined) problems.add('give --labels or --labels-file, not both');
  const labels = await problems.check('labels', async (): Promise<{ labels: LabelSpec[] | null; templates?: string[] }> =>
    options.labels !== undefined ? { labels: parseLabelList(options.labels) } : options.labelsFile !== undefined ? readLabelFile(options.labelsFile) : { labels: null },
  );
  const model = options.model
    ? await problems.check(`model ${options.model}`, async () => inspectSiglipModel(await resolveModelDir(options.model!, s3, options.variant), options.variant))
    : undefined;
  const decode = await problems.check('--decode', () => decodeModeOf(options));
  let resolved: { source: string } | undefined;
  if (options.source && isInventoryManifestUri(options.source)) {
    // One report, every night the same objects: the runs need each night's newest report.
    problems.add(`--source ${options.source} is one S3 Inventory report: a schedule needs the inventory's configuration folder (<dest-prefix>/<source-bucket>/<config-id>/) with --source-kind inventory, whose newest report each firing takes`);
  } else if (options.source) {
    const found = await problems.check(`--source ${options.source}`, () => resolveRunSource(options.source!, options.sourceKind ?? 'auto', s3));
    const kind = found ? sourceKindOf(found.source) : undefined;
    if (kind === 'manifest-text' || kind === 'manifest-parquet') {
      // Refused here, not at every firing (incremental-filter.ts refuses them when planning).
      problems.add(`--source ${options.source}: a schedule's runs are incremental, which list an S3 prefix, a directory or an S3 Inventory report, not manifests`);
    } else if (found) await problems.check(`--source ${options.source}`, () => checkSourceReadable(found.source, s3, { incremental: true }));
    resolved = found;
  }
  if (options.out) await problems.check(`--out ${options.out}`, () => checkOutputWritable(options.out!, s3));
  const template = {
    source: options.source!,
    ...(options.sourceKind === 'inventory' ? { sourceKind: 'inventory' as const } : {}),
    output: options.out!,
    model: model!,
    labels: labels?.labels ?? null,
    templates: options.template.length > 0 ? options.template : labels?.templates ?? [],
    ...(options.shardSize ? { shardSize: options.shardSize } : {}),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    suffixes: options.suffix,
    ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
    ...(options.maxPixels ? { maxPixels: options.maxPixels } : {}),
    ...(options.writeS3Tags ? { writeS3Tags: true } : {}),
    ...(options.embeddingDtype ? { embeddingDtype: options.embeddingDtype } : {}),
    ...(decode?.mode === 'fast' ? { decode } : {}),
    ...(options.retryErrorsAfter !== undefined ? { retryErrorsAfterSeconds: options.retryErrorsAfter } : {}),
  };
  // The runs are built at each firing; building one now refuses what they would refuse
  // (e.g. --write-s3-tags with a local source) at registration instead of every night.
  if (options.source && options.out && model && labels) {
    await problems.check('run', () => buildRunSpec({ runId: 'schedule-check', ...template, source: resolved?.source ?? template.source, incremental: true }));
  }
  problems.throwIfAny();
  const run = scheduledRunSchema.parse({
    schedule: name,
    ...template,
    source: parseLocation(options.source!).uri,
    output: parseLocation(options.out!).uri,
    subDaily: timing!.subDaily,
  });
  return { run, repeat: repeat! };
}
