import { Command, Option } from 'commander';
import { parsePositiveInteger } from '@siglip-batch/io';
import { DEFAULT_MAX_PIXELS, MAX_PIXELS_CEILING, MODEL_VARIANTS } from '@siglip-batch/model';
import packageJson from '../package.json' with { type: 'json' };
import { runWorker } from './run-worker';
import { launchPerGpu } from './gpu-launcher';
import type { WorkerFaults } from './test-faults';
import type { WorkerCliOptions } from './worker-cli-options';

export type { WorkerCliOptions };

const int = (name: string) => (value: string) => parsePositiveInteger(name, value);

const pixelLimit = (name: string) => (value: string) => {
  const n = int(name)(value);
  if (n > MAX_PIXELS_CEILING) throw new Error(`${name} must be at most ${MAX_PIXELS_CEILING} (one gigapixel: 3 GB of decoded pixels per image), got ${JSON.stringify(value)}`);
  return n;
};

const port = (name: string) => (value: string) => {
  const n = int(name)(value);
  if (n > 65_535) throw new Error(`${name} must be a TCP port (1-65535), got ${JSON.stringify(value)}`);
  return n;
};

/** The example after the worker's help. */
export const WORKER_EXAMPLE = 'siglip-batch worker --model models/siglip-so400m --device cuda:0 --metrics-port 9464';

/**
 * The worker process's command line (`siglip-batch worker …`). `faults`: the fault suite's test seams (`test-faults.ts`), read from the environment by `main.ts` only.
 */
export function buildWorkerProgram(faults: WorkerFaults = {}): Command {
  return new Command('siglip-batch worker')
    .description("Consume one model's shard queue: fetch, decode, embed and write Parquet.")
    .version(packageJson.version, '-V, --version', 'print the version')
    .requiredOption('--model <dir>', 'model directory (see tools/export), s3://… model folder or hf://org/name[@revision]; the worker serves only this model')
    .addOption(new Option('--device <device>', 'cpu, cuda or cuda:N (never a silent CPU fallback)').default('cpu'))
    .addOption(new Option('--variant <variant>', 'model variant').choices([...MODEL_VARIANTS]).default('fp32'))
    .option('--batch-size <n>', 'images per inference batch', int('--batch-size'), 32)
    .option('--concurrency <n>', 'shards processed at once (2 overlaps I/O with inference)', int('--concurrency'), 2)
    .option('--fetch-concurrency <n>', 'objects fetched at once per shard', int('--fetch-concurrency'), 16)
    .option('--decode-concurrency <n>', 'images decoded at once per shard', int('--decode-concurrency'), 4)
    .option('--threads <n>', 'ONNX Runtime intra-op threads (default: one per core)', int('--threads'))
    .option(
      '--max-pixels <n>',
      `largest image (width × height) this worker decodes, whatever a run asks (at most ${MAX_PIXELS_CEILING}); larger ones are too_large_pixels rows`,
      pixelLimit('--max-pixels'),
      DEFAULT_MAX_PIXELS,
    )
    .option('--allow <uris>', "read objects only under these locations, for every run (comma-separated S3 prefixes or directories; default: each run's own S3 source folder, and no local files)", (v: string, prev: string[]) => [...prev, ...v.split(',').map((s) => s.trim()).filter(Boolean)], [] as string[])
    .option('--prefix <prefix>', 'BullMQ key prefix', process.env['SIGLIP_BATCH_PREFIX'] ?? 'bull')
    .option('--redis-url <url>', 'Redis URL (default: REDIS_URL or redis://127.0.0.1:6379)')
    .option('--s3-endpoint <url>', 'S3 endpoint (default: AWS_ENDPOINT_URL_S3)')
    .option('--region <region>', 'AWS region of S3 (default: AWS_REGION, AWS_DEFAULT_REGION or the profile; us-east-1 with --s3-endpoint)')
    .option('--s3-rps <n>', 'fleet-wide limit of S3 requests per second, shared through Redis by every worker with the same prefix and --s3-rps-key (default: no limit)')
    .option('--s3-burst <n>', 'requests the fleet may send at once after a quiet spell (default: --s3-rps)')
    .option('--s3-rps-key <name>', 'name of the shared S3 request budget', 'default')
    .option('--shutdown-timeout <ms>', 'on SIGTERM, finish the current shards within this time, then hand them back', int('--shutdown-timeout'), 60_000)
    .option('--lock-duration <ms>', 'BullMQ job lock duration', int('--lock-duration'), 60_000)
    .option('--metrics-port <port>', 'serve Prometheus /metrics and /healthz on this port (all interfaces; default: off)', port('--metrics-port'))
    .option('--gpus <list>', 'start one worker process per GPU, e.g. 0,1,2,3 (each gets --device cuda:N)')
    .option('--json', 'log as JSON lines (default when not on a terminal)', !process.stderr.isTTY)
    .addHelpText('after', `\nExample:\n  $ ${WORKER_EXAMPLE}`)
    .showHelpAfterError()
    .action(async (options: WorkerCliOptions) => {
      process.exitCode = options.gpus ? await launchPerGpu(options.gpus, process.argv.slice(2), options.metricsPort) : await runWorker(options, faults);
    });
}
