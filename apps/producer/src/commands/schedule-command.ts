import { Queue } from 'bullmq';
import type { Command } from 'commander';
import { parseLocation } from '@siglip-batch/io';
import { redisOptions, type LabelSpec } from '@siglip-batch/jobs';
import {
  ProblemList,
  checkOutputWritable,
  checkSourceReadable,
  connectCheckedRedis,
  inspectSiglipModel,
  parseLabelList,
  readLabelFile,
} from '@siglip-batch/pipeline';
import { SCHEDULED_RUN_JOB, SCHEDULER_QUEUE, scheduleNameSchema, scheduledRunSchema, type ScheduledRun } from '../schedule/scheduled-run';
import { addConnectionOptions, redisUrlOf, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { resolveModelDir } from '../shared/model-dir';
import { collect, nonNegativeInt, positiveInt } from '../shared/parsers';

interface ScheduleCliOptions extends ConnectionOptions {
  name?: string;
  cron?: string;
  tz?: string;
  every?: number;
  remove?: string;
  list?: boolean;
  source?: string;
  out?: string;
  model?: string;
  variant: 'fp32' | 'fp16' | 'quantized';
  labels?: string;
  labelsFile?: string;
  template: string[];
  shardSize?: number;
  priority?: number;
  suffix: string[];
  maxBytes?: number;
  maxPixels?: number;
  json?: boolean;
}

const DAY_MS = 24 * 3600 * 1000;

export function registerScheduleCommand(program: Command): void {
  const command = program
    .command('schedule')
    .description('register (or --remove, --list) a BullMQ job scheduler that starts an incremental run on a cron pattern; `siglip-batch scheduler` starts the runs')
    .option('--name <name>', 'schedule name; runs are <name>-<yyyymmdd> (and -<hhmmss> for schedules under a day)')
    .option('--cron <pattern>', 'cron pattern, e.g. "0 2 * * *"')
    .option('--tz <zone>', 'time zone of the cron pattern (default UTC)')
    .option('--every <ms>', 'fire every <ms> milliseconds instead of a cron pattern', positiveInt('--every'))
    .option('--remove <name>', 'remove the schedule <name>')
    .option('--list', 'list the registered schedules')
    .option('--source <uri>', 'S3 prefix or local directory')
    .option('--out <uri>', 'output root (holds the processed index)')
    .option('--model <dir>', 'model directory (or s3://… model folder)')
    .option('--variant <variant>', 'fp32, fp16 or quantized', 'fp32')
    .option('--labels <list>', 'comma-separated labels to score')
    .option('--labels-file <file>', 'labels file (text, JSON or YAML)')
    .option('--template <text>', 'prompt template with {} (repeatable)', collect, [] as string[])
    .option('--shard-size <n>', 'objects per shard', positiveInt('--shard-size'))
    .option('--priority <n>', 'BullMQ priority', nonNegativeInt('--priority'))
    .option('--suffix <ext>', 'only keys ending with this (repeatable)', collect, [] as string[])
    .option('--max-bytes <n>', 'larger objects become too_large_bytes rows', positiveInt('--max-bytes'))
    .option('--max-pixels <n>', 'larger images become too_large_pixels rows', positiveInt('--max-pixels'))
    .option('--json', 'print the result as JSON');
  addConnectionOptions(command).action(async (options: ScheduleCliOptions) => {
    process.exitCode = await scheduleCommand(options);
  });
}

async function scheduleCommand(options: ScheduleCliOptions): Promise<number> {
  const redis = await connectCheckedRedis(redisUrlOf(options), redisOptions('producer'));
  const queue = new Queue(SCHEDULER_QUEUE, { connection: redis, prefix: options.prefix });
  const print = (value: unknown, line: string) => process.stdout.write(options.json ? `${JSON.stringify(value)}\n` : `${line}\n`);
  try {
    if (options.list) {
      const schedulers = await queue.getJobSchedulers(0, -1, true);
      print(schedulers, schedulers.map((s) => `${s.key}\t${s.pattern ?? `every ${s.every} ms`}\tnext ${s.next ? new Date(s.next).toISOString() : '-'}`).join('\n'));
      return 0;
    }
    if (options.remove) {
      const removed = await queue.removeJobScheduler(options.remove);
      print({ removed, name: options.remove }, removed ? `schedule ${options.remove} removed` : `no schedule ${options.remove}`);
      return removed ? 0 : 1;
    }
    const data = await resolveSchedule(options);
    const repeat = options.cron ? { pattern: options.cron, tz: options.tz ?? 'UTC' } : { every: options.every! };
    await queue.upsertJobScheduler(data.schedule, repeat, {
      name: SCHEDULED_RUN_JOB,
      data,
      opts: {
        attempts: 5,
        backoff: { type: 'exponential', delay: 30_000 },
        removeOnComplete: { count: 100 },
        removeOnFail: { count: 100 },
      },
    });
    const [scheduler] = (await queue.getJobSchedulers(0, -1, true)).filter((s) => s.key === data.schedule);
    const next = scheduler?.next ? new Date(scheduler.next).toISOString() : null;
    print({ name: data.schedule, repeat, next, queue: SCHEDULER_QUEUE }, `schedule ${data.schedule} registered (${options.cron ?? `every ${options.every} ms`}); next run ${next ?? '?'}; started by \`siglip-batch scheduler\``);
    return 0;
  } finally {
    await queue.close();
    redis.disconnect();
  }
}

async function resolveSchedule(options: ScheduleCliOptions): Promise<ScheduledRun> {
  const problems = new ProblemList();
  const s3 = s3OptionsOf(options);
  const name = await problems.check('--name', () => scheduleNameSchema.parse(options.name ?? ''));
  if ((options.cron === undefined) === (options.every === undefined)) problems.add('give exactly one of --cron or --every');
  for (const [flag, value] of [['--source', options.source], ['--out', options.out], ['--model', options.model]] as const) {
    if (!value) problems.add(`${flag} is required`);
  }
  if (options.labels !== undefined && options.labelsFile !== undefined) problems.add('give --labels or --labels-file, not both');
  const labels = await problems.check('labels', async (): Promise<{ labels: LabelSpec[] | null; templates?: string[] }> =>
    options.labels !== undefined ? { labels: parseLabelList(options.labels) } : options.labelsFile !== undefined ? readLabelFile(options.labelsFile) : { labels: null },
  );
  const model = options.model
    ? await problems.check(`model ${options.model}`, async () => inspectSiglipModel(await resolveModelDir(options.model!, s3), options.variant))
    : undefined;
  if (options.source) await problems.check(`--source ${options.source}`, () => checkSourceReadable(options.source!, s3));
  if (options.out) await problems.check(`--out ${options.out}`, () => checkOutputWritable(options.out!, s3));
  problems.throwIfAny();
  return scheduledRunSchema.parse({
    schedule: name,
    source: parseLocation(options.source!).uri,
    output: parseLocation(options.out!).uri,
    model,
    labels: labels!.labels,
    templates: options.template.length > 0 ? options.template : labels!.templates ?? [],
    ...(options.shardSize ? { shardSize: options.shardSize } : {}),
    ...(options.priority !== undefined ? { priority: options.priority } : {}),
    suffixes: options.suffix,
    ...(options.maxBytes ? { maxBytes: options.maxBytes } : {}),
    ...(options.maxPixels ? { maxPixels: options.maxPixels } : {}),
    subDaily: options.every !== undefined && options.every < DAY_MS,
  });
}

