import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { ExpressAdapter } from '@bull-board/express';
import express, { type NextFunction, type Request, type Response } from 'express';
import type { Redis } from 'ioredis';
import type { S3Options } from '@siglip-batch/io';
import { RUN_ID_PATTERN, ShardQueue } from '@siglip-batch/jobs';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { RunRegistry, readRecentErrorFiles } from '@siglip-batch/pipeline';
import { openRunFolder } from '@siglip-batch/run-format';
import { statusFromRedis } from '../status/run-status';
import { basicAuth, type BasicCredentials } from './dashboard-access';
import { allowedHostNames, hostCheck } from './host-check';
import { escapeHtml } from './html';
import { discoverQueues } from './queue-discovery';
import { readRecentErrors, type RecentErrors } from './recent-errors';
import { renderRunPage, renderRunsPage, renderUnknownRunPage, runSummaryOf, type PageOptions, type QueueSummary, type RunSummary } from './run-pages';

export interface DashboardOptions {
  /** Interface to bind. Callers check it with resolveDashboardAccess first. */
  host: string;
  /** TCP port; 0 picks a free one. */
  port: number;
  prefix: string;
  /** A connection of the dashboard's own; closed by the caller after {@link DashboardServer.close}. */
  redis: Redis;
  s3: S3Options;
  /** Basic-auth credentials every request must carry, or null for none (loopback only). */
  credentials: BasicCredentials | null;
  /**
   * Host names a request's `Host` header may carry besides IP literals, `localhost` and the
   * bound host (this machine's name when bound to every interface); others get 421.
   * @defaultValue []
   */
  allowedHosts?: readonly string[];
  /** Meta refresh of the run pages, in seconds (0: off). @defaultValue 5 */
  refreshSeconds?: number;
  /** Bull Board without retry, promote, clean or remove buttons. @defaultValue true */
  readOnly?: boolean;
  /** How often new queues are looked for. @defaultValue 10000 */
  discoverIntervalMs?: number;
  /** Runs listed on the front page. @defaultValue 100 */
  runLimit?: number;
  log?(message: string): void;
}

export const QUEUES_PATH = '/queues';
const RUN_ID = new RegExp(RUN_ID_PATTERN.source);
const ERRORS_TIMEOUT_MS = 10_000;

/**
 * The dashboard: Bull Board for the model queues (at /queues) and our own server-rendered pages
 * over the run records (/, /runs/<run>), with JSON twins (/api/runs, /api/runs/<run>). Pages
 * refresh themselves; every value is escaped. Basic auth, when configured, guards everything.
 */
export class DashboardServer {
  private readonly app = express();
  private readonly registry: RunRegistry;
  private readonly queues = new Map<string, ShardQueue>();
  private readonly board: ReturnType<typeof createBullBoard>;
  private readonly page: PageOptions;
  private server: Server | undefined;
  private timer: NodeJS.Timeout | undefined;

  constructor(private readonly options: DashboardOptions) {
    this.registry = new RunRegistry(options.redis, options.prefix);
    this.page = { refreshSeconds: options.refreshSeconds ?? 5, queuesPath: `${QUEUES_PATH}/` };
    const serverAdapter = new ExpressAdapter().setBasePath(QUEUES_PATH);
    this.board = createBullBoard({
      queues: [],
      serverAdapter,
      options: { uiConfig: { boardTitle: 'siglip-batch', hideDocsLink: true, miscLinks: [{ text: 'Runs', url: '/' }] } },
    });

    const app = this.app;
    app.disable('x-powered-by');
    // Bull Board serves from an Express app of its own, which would add the header again.
    (serverAdapter.getRouter() as express.Express).disable('x-powered-by');
    app.set('trust proxy', false);
    // First: a rebound name must not even learn whether auth is configured.
    app.use(hostCheck(allowedHostNames(options.host, options.allowedHosts ?? [])));
    if (options.credentials) app.use(basicAuth(options.credentials));
    // Run reasons, error rows and Bull Board's job errors are messages of other processes:
    // whatever credential one still quotes is hidden here, on every page and API answer.
    app.use((_request, response, next) => {
      const send = response.send.bind(response);
      response.send = (body?: unknown) => send(typeof body === 'string' ? redactSecrets(body) : body);
      next();
    });
    app.use((_request, response, next) => {
      response.set({ 'X-Content-Type-Options': 'nosniff', 'Referrer-Policy': 'no-referrer', 'X-Frame-Options': 'DENY' });
      next();
    });
    app.use(QUEUES_PATH, serverAdapter.getRouter() as express.Router);
    // Our pages carry no script at all.
    const ours = (response: Response) =>
      response.set({ 'Cache-Control': 'no-store', 'Content-Security-Policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'none'; frame-ancestors 'none'" });
    app.get('/', async (_request, response) => {
      const [runs, queues] = await Promise.all([this.runSummaries(), this.queueSummaries()]);
      ours(response).type('html').send(renderRunsPage(runs, this.page, queues));
    });
    app.get('/api/runs', async (_request, response) => {
      const [runs, queues] = await Promise.all([this.runSummaries(), this.queueSummaries()]);
      ours(response).json({ runs, queues });
    });
    app.get('/runs/:run', async (request, response) => {
      const runId = String(request.params['run']);
      const data = RUN_ID.test(runId) ? await this.runData(runId) : undefined;
      ours(response);
      if (!data) response.status(404).type('html').send(renderUnknownRunPage(runId, this.page));
      else response.type('html').send(renderRunPage(data, this.page));
    });
    app.get('/api/runs/:run', async (request, response) => {
      const runId = String(request.params['run']);
      const data = RUN_ID.test(runId) ? await this.runData(runId) : undefined;
      ours(response);
      if (!data) response.status(404).json({ error: `run ${runId} is not known to Redis` });
      else response.json({ status: data.status, recentErrors: data.errors });
    });
    app.get('/favicon.ico', (_request, response) => void response.status(204).end());
    app.use((_request, response) => {
      ours(response).status(404).type('text').send('not found\n');
    });
    app.use((error: Error, _request: Request, response: Response, _next: NextFunction) => {
      this.options.log?.(`dashboard: ${error.message}`);
      ours(response).status(500).type('html').send(`<!doctype html><title>error</title><p>The dashboard could not read its data: ${escapeHtml(error.message)}</p>`);
    });
  }

  /** Finds the queues, starts listening; resolves with the address actually bound. */
  async start(): Promise<{ host: string; port: number }> {
    await this.refreshQueues();
    this.timer = setInterval(() => {
      this.refreshQueues().catch((error: Error) => this.options.log?.(`dashboard: looking for queues failed: ${error.message}`));
    }, this.options.discoverIntervalMs ?? 10_000);
    this.timer.unref();
    const server = (this.server = this.app.listen(this.options.port, this.options.host));
    await new Promise<void>((resolve, reject) => {
      server.once('listening', resolve);
      server.once('error', reject);
    });
    return { host: this.options.host, port: (server.address() as AddressInfo).port };
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    const server = this.server;
    if (server) {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    }
    await Promise.all([...this.queues.values()].map((queue) => queue.close().catch(() => undefined)));
  }

  /** Adds the model queues that appeared since the last look to Bull Board. */
  async refreshQueues(): Promise<void> {
    for (const name of await discoverQueues(this.options.redis, this.options.prefix, this.registry)) {
      if (this.queues.has(name)) continue;
      const queue = ShardQueue.named(this.options.redis, this.options.prefix, name);
      this.queues.set(name, queue);
      this.board.addQueue(new BullMQAdapter(queue.queue, { readOnlyMode: this.options.readOnly ?? true, description: 'shard and finalise jobs of one model' }));
    }
  }

  private async runSummaries(): Promise<RunSummary[]> {
    const ids = await this.registry.list(this.options.runLimit ?? 100);
    const records = await Promise.all(ids.map((id) => this.registry.get(id).catch(() => undefined)));
    return records.filter((record) => record !== undefined).map(runSummaryOf);
  }

  private async queueSummaries(): Promise<QueueSummary[]> {
    return Promise.all(
      [...this.queues.values()].map(async (queue) => {
        const [counts, workers] = await Promise.all([queue.counts(), queue.workerCount()]);
        return { name: queue.name, counts, workers };
      }),
    );
  }

  private async runData(runId: string) {
    const record = await this.registry.get(runId);
    if (!record) return undefined;
    const [status, errors] = await Promise.all([statusFromRedis(this.options.redis, this.options.prefix, runId), this.recentErrors(record.spec)]);
    if (!status) return undefined;
    return { status, record, errors };
  }

  private async recentErrors(spec: { output: string; runId: string }): Promise<RecentErrors | { unavailable: string }> {
    let timer: NodeJS.Timeout | undefined;
    try {
      const folder = openRunFolder(spec, this.options.s3);
      try {
        return await Promise.race([
          readRecentErrorFiles(this.options.redis, this.options.prefix, spec.runId).then((recorded) => readRecentErrors(folder, { recorded })),
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(new Error(`the run folder did not answer within ${ERRORS_TIMEOUT_MS / 1000} s`)), ERRORS_TIMEOUT_MS);
          }),
        ]);
      } finally {
        clearTimeout(timer);
        folder.store.close();
      }
    } catch (error) {
      return { unavailable: (error as Error).message };
    }
  }
}
