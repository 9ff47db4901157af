import type { Command } from 'commander';
import { parseLocation } from '@siglip-batch/io';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { redisOptions } from '@siglip-batch/jobs';
import { connectCheckedRedis } from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';
import { addConnectionOptions, redisUrlOf, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { CliError, EXIT, runStateExitCode } from '../shared/exit-codes';
import { runIdArgument } from '../shared/parsers';
import { formatStatus, statusFromRedis, statusFromStore, type RunStatus } from '../status/run-status';

interface StatusCliOptions extends ConnectionOptions {
  watch?: boolean;
  json?: boolean;
  out?: string;
  interval: string;
}

const FINAL = new Set(['completed', 'failed', 'cancelled']);

export function registerStatusCommand(program: Command): void {
  const command = program
    .command('status')
    .description('progress of a run: shards, objects by status and error code, rate, ETA, whether a worker serves its model')
    .argument('<run>', 'run id', runIdArgument)
    .option('--watch', 'refresh until the run ends (exit code: 0 completed, 3 failed, 4 nothing embedded, 5 cancelled)')
    .option('--json', 'print {"run","state","shards","objects","rate","eta",…} as JSON')
    .option('--out <uri>', 'output root, to read the run from its folder when Redis no longer knows it')
    .option('--interval <ms>', 'refresh interval with --watch', '2000');
  addConnectionOptions(command).action(async (runId: string, options: StatusCliOptions) => {
    const redis = await connectCheckedRedis(redisUrlOf(options), redisOptions('producer'), false);
    try {
      for (;;) {
        const status = await readStatus(runId, options, redis);
        if (!status) {
          throw new CliError(
            `run ${runId} is not known to Redis${options.out ? ` nor found in ${options.out}` : ' (records expire after a run ends): pass --out <output root> to read its folder'}`,
            EXIT.failure,
            'not_found',
          );
        }
        // A failure reason may quote an SDK or ioredis message, and with it a URL's credentials.
        if (options.json) process.stdout.write(`${redactSecrets(JSON.stringify(status))}\n`);
        else process.stdout.write(`${options.watch && process.stdout.isTTY ? '\x1b[2J\x1b[H' : ''}${redactSecrets(formatStatus(status))}\n`);
        if (!options.watch || FINAL.has(status.state)) {
          process.exitCode = runStateExitCode(status.state, status.objects.ok);
          return;
        }
        await new Promise((resolve) => setTimeout(resolve, Number(options.interval) || 2000));
      }
    } finally {
      redis.disconnect();
    }
  });
}

async function readStatus(runId: string, options: StatusCliOptions, redis: import('ioredis').Redis): Promise<RunStatus | undefined> {
  const live = await statusFromRedis(redis, options.prefix, runId);
  if (live || !options.out) return live;
  const folder = openRunFolder({ output: parseLocation(options.out).uri, runId }, s3OptionsOf(options));
  try {
    return await statusFromStore(folder, runId);
  } finally {
    folder.store.close();
  }
}
