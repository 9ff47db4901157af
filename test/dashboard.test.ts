/**
 * The dashboard (issue 8) in a real browser: headless Chromium (Debian's `chromium`, driven by
 * playwright-core) over a live run against real Redis and moto, with worker processes.
 *
 * The run is enqueued before any worker starts, so its page first shows it waiting (0 of N
 * objects), then moving, then finished: every number is checked against the run record read
 * around the page load, never against a timing. Basic auth: a dashboard on 0.0.0.0 answers 401
 * without the credentials and refuses to start without them configured; on loopback it needs
 * none. Screenshots go to .test-output/ (dashboard.png is the finished run's page).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { CreateBucketCommand, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Queue } from 'bullmq';
import { Redis } from 'ioredis';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { RunRegistry, type RunRecord } from '@siglip-batch/pipeline';
import { REPO_ROOT, TINY_MODEL, runCli, startWorker, waitForQueueAtRest, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { startDashboardProcess, type DashboardProcess } from './support/dashboard-process';
import { freePort } from './support/free-port';
import { TEST_AWS_ENV, deleteKeysWithPrefix, emptyAndDeleteBucket, makeS3Client, uniqueName } from './support/harness';
import { BROKEN_OBJECTS, makeSampleImage } from './support/sample-images';

const CHROMIUM = process.env['CHROMIUM_PATH'] ?? '/usr/bin/chromium';
const CHROMIUM_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'];
const OUTPUT = join(REPO_ROOT, '.test-output');
const IMAGES = 150;
const RUN = 'dash-run';
const USER = 'ops';
const PASSWORD = 'correct horse battery staple';

const s3Endpoint = inject('s3Endpoint');
const redisUrl = inject('redisUrl');
const prefix = uniqueName('dashboard');
const bucket = uniqueName('dashboard').toLowerCase();
const env: NodeJS.ProcessEnv = { ...process.env, ...TEST_AWS_ENV, AWS_ENDPOINT_URL_S3: s3Endpoint, REDIS_URL: redisUrl, SIGLIP_BATCH_PREFIX: prefix };
delete env['SIGLIP_BATCH_DASHBOARD_USER'];
delete env['SIGLIP_BATCH_DASHBOARD_PASSWORD'];
const authEnv = { ...env, SIGLIP_BATCH_DASHBOARD_USER: USER, SIGLIP_BATCH_DASHBOARD_PASSWORD: PASSWORD };

let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let dashboard: DashboardProcess | undefined;
let browser: Browser | undefined;
let context: BrowserContext;
let page: Page;
let queueName: string;
const workers: WorkerProcess[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`the dashboard test needs Chromium at ${CHROMIUM}: apt-get install chromium (Debian/Ubuntu), or set CHROMIUM_PATH`);
  }
  mkdirSync(OUTPUT, { recursive: true });
  s3 = makeS3Client(s3Endpoint);
  redis = new Redis(redisUrl, { maxRetriesPerRequest: 2 });
  registry = new RunRegistry(redis, prefix);
  await s3.send(new CreateBucketCommand({ Bucket: bucket }));
  const objects = [...(await Promise.all(Array.from({ length: IMAGES }, (_, i) => makeSampleImage(i)))), ...BROKEN_OBJECTS];
  for (let i = 0; i < objects.length; i += 32) {
    await Promise.all(objects.slice(i, i + 32).map((o) => s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${o.name}`, Body: o.bytes }))));
  }
  // Enqueued before any worker runs: the page shows the run waiting first.
  const enqueued = await runCli(
    ['enqueue', '--json', '--run', RUN, '--model', TINY_MODEL, '--labels', 'cat,dog,rocket', '--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--shard-size', '5'],
    env,
  );
  expect(enqueued.code, enqueued.stderr).toBe(0);
  queueName = (JSON.parse(enqueued.stdout) as { queue: string }).queue;

  dashboard = await startDashboardProcess(['--host', '0.0.0.0', '--port', String(await freePort()), '--refresh', '2'], authEnv);
  browser = await chromium.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS });
  context = await browser.newContext({ httpCredentials: { username: USER, password: PASSWORD }, viewport: { width: 1280, height: 900 } });
  page = await context.newPage();
}, 240_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  await dashboard?.stop();
  await Promise.all(workers.map((worker) => worker.stop()));
  if (s3) await emptyAndDeleteBucket(s3, bucket).catch(() => undefined);
  if (redis) await deleteKeysWithPrefix(redis, prefix).catch(() => undefined);
  redis?.disconnect();
  s3?.destroy();
});

/**
 * `page.goto`, again when the navigation is aborted: the run pages refresh themselves (meta
 * refresh), and a refresh of the page being left that fires during `goto` aborts it
 * (net::ERR_ABORTED) — seen once on a loaded machine.
 */
async function gotoPage(url: string): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await page.goto(url, { waitUntil: 'load' });
      return;
    } catch (error) {
      if (attempt >= 3 || !/ERR_ABORTED|interrupted by another navigation/.test(String(error))) throw error;
    }
  }
}

/** The numbers the run page shows (its `data-field` elements), as numbers where they are. */
async function readRunPage(): Promise<Record<string, string>> {
  await gotoPage(`${dashboard!.url}/runs/${RUN}`);
  const fields = await page.$$eval('[data-field]', (elements) => elements.map((el) => [el.getAttribute('data-field')!, el.textContent!.trim()] as const));
  return Object.fromEntries(fields);
}
const num = (text: string | undefined) => Number((text ?? '').replace(/[,%]/g, ''));

async function recordOf(): Promise<RunRecord> {
  const record = await registry.get(RUN);
  if (!record) throw new Error(`run ${RUN} is not in Redis`);
  return record;
}

describe('siglip-batch dashboard', () => {
  it('refuses to start on 0.0.0.0 without basic auth configured, saying how to fix it', async () => {
    const result = await runCli(['dashboard', '--host', '0.0.0.0', '--port', String(await freePort())], env, 60_000);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/refusing to serve the dashboard on 0\.0\.0\.0 without authentication/);
    expect(result.stderr).toContain('SIGLIP_BATCH_DASHBOARD_USER');
    expect(result.stderr).toContain('SIGLIP_BATCH_DASHBOARD_PASSWORD');
  });

  it('on 0.0.0.0 with basic auth, answers 401 without the right credentials, everywhere', async () => {
    const basic = (user: string, password: string) => ({ authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` });
    for (const path of ['/', `/runs/${RUN}`, `/api/runs/${RUN}`, '/queues/', '/queues/api/queues']) {
      const anonymous = await fetch(`${dashboard!.url}${path}`);
      expect(anonymous.status, path).toBe(401);
      expect(anonymous.headers.get('www-authenticate'), path).toMatch(/^Basic realm="/);
      expect((await fetch(`${dashboard!.url}${path}`, { headers: basic(USER, 'wrong') })).status, path).toBe(401);
    }
    const authorised = await fetch(`${dashboard!.url}/api/runs/${RUN}`, { headers: basic(USER, PASSWORD) });
    expect(authorised.status).toBe(200);
    expect(((await authorised.json()) as { status: { run: string } }).status.run).toBe(RUN);
  });

  it('shows the live run’s progress on its page: waiting, moving, then finished with its error codes and rows', async () => {
    // No worker yet: everything planned, nothing done.
    const before = await recordOf();
    const waiting = await readRunPage();
    expect(waiting['run']).toBe(RUN);
    expect(num(waiting['objects-planned'])).toBe(IMAGES + BROKEN_OBJECTS.length);
    expect(num(waiting['shards-planned'])).toBe(before.shardsPlanned);
    expect(num(waiting['objects-done'])).toBe(0);
    expect(num(waiting['shards-done'])).toBe(0);
    expect(num(waiting['shards-waiting'])).toBe(before.shardsPlanned);
    expect(waiting['workers']).toMatch(/none/);

    // Workers start: reload until the page shows progress, each time between the record's
    // numbers read just before and just after the load.
    workers.push(startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8', '--concurrency', '1'], env));
    await waitForWorkerStart(workers[0]!);
    let moving: Record<string, string> | undefined;
    const deadline = Date.now() + 180_000;
    while (Date.now() < deadline) {
      const low = await recordOf();
      const shown = await readRunPage();
      const high = await recordOf();
      const done = num(shown['objects-done']);
      expect(done).toBeGreaterThanOrEqual(low.objectsOk + low.objectsError);
      expect(done).toBeLessThanOrEqual(high.objectsOk + high.objectsError);
      expect(num(shown['shards-done'])).toBeGreaterThanOrEqual(low.shardsDone);
      expect(num(shown['shards-done'])).toBeLessThanOrEqual(high.shardsDone);
      if (done > 0) {
        moving = shown;
        break;
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
    expect(moving, 'the page never showed progress').toBeDefined();
    expect(num(moving!['percent'])).toBeGreaterThan(0);
    expect(num(moving!['workers'])).toBe(1);
    await page.screenshot({ path: join(OUTPUT, 'dashboard-live.png'), fullPage: true });

    expect(await waitForRunEnd(() => registry.get(RUN))).toBe('completed');
    // After the manifest the finaliser may queue index-partition jobs: wait until the worker has
    // taken them, so the front page shows the queue at rest.
    const queue = new Queue(queueName, { connection: redis, prefix });
    try {
      await waitForQueueAtRest(queue);
    } finally {
      await queue.close();
    }
    const final = await readRunPage();
    const record = await recordOf();
    expect(final['state']).toBe('completed');
    expect(num(final['objects-done'])).toBe(IMAGES + BROKEN_OBJECTS.length);
    expect(num(final['objects-ok'])).toBe(IMAGES);
    expect(num(final['objects-error'])).toBe(BROKEN_OBJECTS.length);
    expect(num(final['shards-done'])).toBe(record.shardsPlanned);
    expect(final['percent']).toBe('100.0%');
    expect(final['eta']).toBe('0 s');
    expect(num(final['rate'])).toBeGreaterThan(0);
    // Error codes with their counts, as the run record has them.
    const codes = await page.$$eval('#error-codes tbody tr', (rows) => rows.map((row) => [...row.querySelectorAll('td')].map((td) => td.textContent!.trim())));
    expect(Object.fromEntries(codes.map(([code, n]) => [code, Number(n)]))).toEqual(record.errorCodes);
    // Recent error rows, read from the errors files: broken objects with their codes.
    const rows = await page.$$eval('#recent-errors tbody tr', (trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim())));
    expect(rows.length).toBeGreaterThan(0);
    const expected = new Map(BROKEN_OBJECTS.map((broken) => [`s3://${bucket}/src/${broken.name}`, broken.code]));
    for (const [uri, code, , file] of rows) {
      expect(expected.get(uri!), uri).toBe(code);
      expect(file).toMatch(/^errors\/errors-\d{8}\.parquet$/);
    }
    await page.screenshot({ path: join(OUTPUT, 'dashboard.png'), fullPage: true });
  });

  it('lists the model queue and the run on the front page, linking to its page', async () => {
    await gotoPage(`${dashboard!.url}/`);
    const queueRow = await page.$$eval(`tr[data-queue="${queueName}"] td`, (tds) => tds.map((td) => td.textContent!.trim()));
    // name, waiting, active, delayed, failed, completed, workers: the run is over, one worker left.
    expect(queueRow[0]).toBe(queueName);
    expect(queueRow.slice(1, 3)).toEqual(['0', '0']);
    expect(queueRow[6]).toBe('1');
    await page.screenshot({ path: join(OUTPUT, 'dashboard-runs.png'), fullPage: true });
    const row = page.locator(`tr[data-run="${RUN}"]`);
    await expect(row.locator('[data-field="state"]').textContent()).resolves.toBe('completed');
    await row.locator('a').click();
    await page.waitForURL(`${dashboard!.url}/runs/${RUN}`);
    expect(await page.locator('[data-field="run"]').textContent()).toBe(RUN);
  });

  it('serves Bull Board with the run’s model queue', async () => {
    await gotoPage(`${dashboard!.url}/queues/`);
    // Bull Board renders in the browser from its API: wait for the queue to appear.
    await page.getByText(queueName).first().waitFor({ timeout: 60_000 });
    const api = await page.evaluate(async () => (await fetch('/queues/api/queues')).json());
    expect(JSON.stringify(api)).toContain(queueName);
    // The queue's own page, with the run's finished shard jobs.
    await page.getByText(queueName).first().click();
    await page.waitForURL(/\/queues\/queue\//);
    await page.getByText('Loading').first().waitFor({ state: 'hidden', timeout: 60_000 }).catch(() => undefined);
    await page.waitForTimeout(1_000);
    await page.screenshot({ path: join(OUTPUT, 'dashboard-queues.png') });
  });

  it('binds to 127.0.0.1 by default and needs no auth there', async () => {
    const local = await startDashboardProcess(['--port', String(await freePort())], env);
    try {
      expect(local.output()).toMatch(/listening on http:\/\/127\.0\.0\.1:\d+\//);
      const response = await fetch(`${local.url}/api/runs`);
      expect(response.status).toBe(200);
      expect(((await response.json()) as { runs: { run: string }[] }).runs.map((run) => run.run)).toContain(RUN);
    } finally {
      await local.stop();
    }
  });
});
