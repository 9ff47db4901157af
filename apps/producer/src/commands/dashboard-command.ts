import { Option, type Command } from 'commander';
import { redisOptions } from '@siglip-batch/jobs';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { connectCheckedRedis } from '@siglip-batch/pipeline';
import { DashboardAccessError, resolveDashboardAccess } from '../dashboard/dashboard-access';
import { DashboardServer, QUEUES_PATH } from '../dashboard/dashboard-server';
import { DASHBOARD_ALLOWED_HOSTS_ENV } from '../dashboard/host-check';
import { addConnectionOptions, redisUrlOf, s3OptionsOf, type ConnectionOptions } from '../shared/connections';
import { nonNegativeInt } from '../shared/parsers';
import { log } from '../shared/cli-log';

interface DashboardCliOptions extends ConnectionOptions {
  host: string;
  port: number;
  refresh: number;
  allowActions?: boolean;
  allowedHost: string[];
}

/** Repeatable, and comma-separated (as the environment variable gives it). */
function hostNames(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(',').map((name) => name.trim()).filter((name) => name !== '')];
}

function tcpPort(value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new Error(`--port must be a TCP port (0-65535), got ${JSON.stringify(value)}`);
  return n;
}

export function registerDashboardCommand(program: Command): void {
  const command = program
    .command('dashboard')
    .description('web dashboard: Bull Board for the model queues, and a page per run (progress, rate, ETA, shards, error codes, recent error rows)')
    .option('--host <host>', 'interface to bind; anything but loopback requires basic auth (SIGLIP_BATCH_DASHBOARD_USER, SIGLIP_BATCH_DASHBOARD_PASSWORD)', '127.0.0.1')
    .option('--port <port>', 'TCP port', tcpPort, 3000)
    .option('--refresh <seconds>', 'auto-refresh interval of the run pages (0: off)', nonNegativeInt('--refresh'), 5)
    .option('--allow-actions', 'let Bull Board retry, promote, clean and remove jobs (read-only by default)')
    .addOption(
      new Option(
        '--allowed-host <names>',
        'host names the dashboard answers to besides IP addresses, localhost and --host (repeatable, comma-separated); other Host headers get 421',
      )
        .env(DASHBOARD_ALLOWED_HOSTS_ENV)
        .argParser(hostNames)
        .default([]),
    );
  addConnectionOptions(command).action(async (options: DashboardCliOptions) => {
    let credentials;
    try {
      // Before anything else: a dashboard that would be open to the network never starts.
      credentials = resolveDashboardAccess(options.host);
    } catch (error) {
      if (!(error instanceof DashboardAccessError)) throw error;
      process.stderr.write(`siglip-batch dashboard: ${error.message}\n`);
      process.exitCode = 2;
      return;
    }
    const redisUrl = redisUrlOf(options);
    // Long-running: reconnect forever, but let a page fail fast while Redis is away.
    const redis = await connectCheckedRedis(redisUrl, { ...redisOptions('worker'), maxRetriesPerRequest: 2 }, false);
    redis.on('error', () => undefined);
    const dashboard = new DashboardServer({
      host: options.host,
      port: options.port,
      prefix: options.prefix,
      redis,
      s3: s3OptionsOf(options),
      credentials,
      refreshSeconds: options.refresh,
      readOnly: !options.allowActions,
      allowedHosts: options.allowedHost,
      log: (message) => log('info', message),
    });
    let address;
    try {
      address = await dashboard.start();
    } catch (error) {
      await dashboard.close();
      redis.disconnect();
      throw new Error(`cannot serve on ${options.host}:${options.port}: ${(error as Error).message}`);
    }
    const shownHost = address.host.includes(':') ? `[${address.host}]` : address.host;
    process.stdout.write(
      `dashboard listening on http://${shownHost}:${address.port}/ (runs; Bull Board at ${QUEUES_PATH}/), ` +
        `Redis ${redactSecrets(redisUrl)}, prefix ${options.prefix}, ${credentials ? 'basic auth required' : 'no auth (loopback only)'}\n`,
    );
    await new Promise<void>((resolve) => {
      process.once('SIGTERM', () => resolve());
      process.once('SIGINT', () => resolve());
    });
    await dashboard.close();
    redis.disconnect();
  });
}
