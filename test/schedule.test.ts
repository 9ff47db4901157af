/**
 * Scheduled nightly runs against real Redis and moto, across processes: `schedule` registers a
 * BullMQ job scheduler, a `scheduler` process turns each firing into an incremental run, a
 * worker processes it. A firing with nothing new plans nothing; after uploads it plans only
 * those; `--remove` removes the schedule; a stopped scheduler exits.
 *
 * (An earlier version of this test hung in teardown: `scheduler` handed BullMQ a Redis
 * connection of its own making, which BullMQ does not close, so the process never exited
 * after SIGTERM. The scheduler now closes it; the last test checks the exit.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RunRegistry } from '@siglip-batch/pipeline';
import { CLI, REPO_ROOT, TINY_MODEL, runCli, startWorker, waitForRunEnd, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { SuiteWorld } from './support/suite-world';
import { makeSampleImage } from './support/sample-images';

const world = new SuiteWorld('schedule');
const { prefix, bucket, work, env, readManifest, runFiles, parquetRows } = world;
const runFlags = ['--source', `s3://${bucket}/src/`, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--labels', 'cat,dog', '--shard-size', '2'];
let s3: S3Client;
let redis: Redis;
let registry: RunRegistry;
let worker: WorkerProcess | undefined;
let scheduler: SchedulerProcess | undefined;

interface LogLine {
  msg: string;
  schedule?: string;
  run?: string;
  objects?: number;
  incremental?: { listed: number; planned: number; unchanged: number; deleted: number };
}

interface SchedulerProcess {
  child: ChildProcess;
  log(): string;
  lines(): LogLine[];
  /** SIGTERM, then the exit code; SIGKILL (and a rejection) when it does not exit in time. */
  stop(timeoutMs?: number): Promise<number | null>;
}

function startScheduler(): SchedulerProcess {
  const child = spawn(CLI, ['scheduler'], { env, cwd: REPO_ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return {
    child,
    log: () => log,
    lines: () =>
      log
        .split('\n')
        .filter((line) => line.startsWith('{'))
        .map((line) => JSON.parse(line) as LogLine),
    stop: async (timeoutMs = 30_000) => {
      if (child.exitCode !== null || child.signalCode !== null) return child.exitCode;
      child.kill('SIGTERM');
      let timer: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), timeoutMs)));
      const result = await Promise.race([exited, timedOut]);
      clearTimeout(timer);
      if (result === 'timeout') {
        child.kill('SIGKILL');
        throw new Error(`the scheduler did not exit within ${timeoutMs} ms of SIGTERM; its log:\n${log}`);
      }
      return result;
    },
  };
}

/** Polls `check` until it returns a value, or fails naming `what` (and the scheduler's log). */
async function waitFor<T>(what: string, check: () => Promise<T | undefined> | T | undefined, timeoutMs = 120_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await check();
    if (value !== undefined) return value;
    if (scheduler && scheduler.child.exitCode !== null) throw new Error(`the scheduler exited (${scheduler.child.exitCode}) while waiting for ${what}:\n${scheduler.log()}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}; scheduler log:\n${scheduler?.log() ?? '(no scheduler)'}\nworker log tail:\n${worker?.log().slice(-3000) ?? ''}`);
}

beforeAll(async () => {
  ({ s3, redis } = await world.open());
  registry = new RunRegistry(redis, prefix);
  for (let i = 0; i < 4; i++) await put(i);
}, 120_000);

afterAll(async () => {
  await scheduler?.stop().catch(() => scheduler?.child.kill('SIGKILL'));
  await worker?.stop();
  await world.close();
});

const name = (i: number) => `img-${String(i).padStart(5, '0')}.png`;
const uri = (i: number) => `s3://${bucket}/src/${name(i)}`;

async function put(i: number): Promise<void> {
  const image = await makeSampleImage(i);
  await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `src/${name(i)}`, Body: image.bytes }));
}

/** URIs of the rows in the part files a run's manifest lists. */
async function partUris(run: string): Promise<string[]> {
  const uris: string[] = [];
  for (const part of (await runFiles(run)).parts) {
    uris.push(...(await parquetRows<{ uri: string }>(`out/${run}/${part.key}`, (from) => `SELECT uri FROM ${from}`)).map((row) => row.uri));
  }
  return uris.sort();
}

async function listSchedules(): Promise<Array<{ name: string; pattern?: string; tz?: string; every?: number; next: string | null }>> {
  const result = await runCli(['schedule', '--list', '--json'], env);
  expect(result.code, result.stderr).toBe(0);
  return JSON.parse(result.stdout) as Array<{ name: string; pattern?: string; tz?: string; every?: number; next: string | null }>;
}

const enqueued = (schedule: string) => (scheduler?.lines() ?? []).filter((line) => line.msg === 'scheduled run enqueued' && line.schedule === schedule);

describe('schedule and scheduler', () => {
  it('refuses bad input with a clear error, a non-zero exit, and registers nothing', async () => {
    const badCron = await runCli(['schedule', '--name', 'bad', '--cron', '61 2 * * *', ...runFlags], env);
    expect(badCron.code).not.toBe(0);
    expect(badCron.stderr).toMatch(/--cron: bad cron pattern "61 2 \* \* \*"/);

    const missing = await runCli(['schedule', '--name', 'bad', '--every', '60000'], env);
    expect(missing.code).not.toBe(0);
    for (const flag of ['--source', '--out', '--model']) expect(missing.stderr).toContain(`${flag} is required`);

    const both = await runCli(['schedule', '--name', 'bad', '--every', '60000', '--cron', '0 2 * * *', ...runFlags], env);
    expect(both.code).not.toBe(0);
    expect(both.stderr).toContain('give --cron or --every, not both');

    const badName = await runCli(['schedule', '--name', 'Bad Name', '--every', '60000', ...runFlags], env);
    expect(badName.code).not.toBe(0);
    expect(badName.stderr).toContain('a schedule name is 1–41 characters');

    const localTags = await runCli(['schedule', '--name', 'bad', '--every', '60000', '--source', work, '--out', `s3://${bucket}/out/`, '--model', TINY_MODEL, '--labels', 'cat', '--write-s3-tags'], env);
    expect(localTags.code).not.toBe(0);
    expect(localTags.stderr).toContain('--write-s3-tags needs an S3 source');

    const gapAlone = await runCli(['schedule', '--name', 'bad', '--every', '60000', ...runFlags, '--reducing-gap', '3'], env);
    expect(gapAlone.code).not.toBe(0);
    expect(gapAlone.stderr).toContain('--reducing-gap applies to --decode fast only');

    const unknown = await runCli(['schedule', '--remove', 'no-such-schedule'], env);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toContain('no schedule named "no-such-schedule"');

    expect(await listSchedules()).toEqual([]);
  });

  it('registers a cron schedule with its pattern and next firing, and removes it', async () => {
    const result = await runCli(['schedule', '--name', 'nightly', '--cron', '0 2 * * *', ...runFlags, '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    const expectedNext = new Date();
    expectedNext.setUTCHours(2, 0, 0, 0);
    if (expectedNext.getTime() <= Date.now()) expectedNext.setUTCDate(expectedNext.getUTCDate() + 1);
    expect(JSON.parse(result.stdout)).toMatchObject({ name: 'nightly', repeat: { pattern: '0 2 * * *', tz: 'UTC' }, next: expectedNext.toISOString() });
    expect(await listSchedules()).toEqual([{ name: 'nightly', pattern: '0 2 * * *', tz: 'UTC', next: expectedNext.toISOString() }]);

    const removed = await runCli(['schedule', '--remove', 'nightly', '--json'], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toEqual({ removed: true, name: 'nightly' });
    expect(await listSchedules()).toEqual([]);
  });

  it('starts an incremental run at a firing, and a worker processes it', async () => {
    // --retry-errors-after and --decode reach every run the schedule starts (its listing counts `retried`).
    const result = await runCli(['schedule', '--name', 'tick', '--every', '2000', ...runFlags, '--retry-errors-after', '30d', '--decode', 'fast', '--reducing-gap', '3', '--json'], env);
    expect(result.code, result.stderr).toBe(0);
    expect(await listSchedules()).toMatchObject([{ name: 'tick', every: 2000 }]);

    worker = startWorker(['--model', TINY_MODEL, '--threads', '1', '--batch-size', '8'], env);
    scheduler = startScheduler();
    await waitForWorkerStart(worker);
    const first = await waitFor('the first firing of "tick" to enqueue a run', () => enqueued('tick')[0]);
    expect(first.run).toMatch(/^tick-\d{8}-\d{6}$/);
    expect(first.objects).toBe(4);
    expect(first.incremental).toEqual({ listed: 4, planned: 4, unchanged: 0, deleted: 0, retried: 0 });
    expect(await waitForRunEnd(() => registry.get(first.run!))).toBe('completed');
    expect(await partUris(first.run!)).toEqual([0, 1, 2, 3].map(uri));
    const manifest = await readManifest(first.run!);
    expect(manifest.decode).toEqual({ mode: 'fast', reducingGap: 3 });
  });

  it('plans nothing at the next firing when nothing is new', async () => {
    const [first] = enqueued('tick');
    // Firings while the first run was going were skipped; the next run starts after it ended.
    const second = await waitFor('a second firing of "tick" to enqueue a run', () => enqueued('tick')[1]);
    expect(second.run).not.toBe(first!.run);
    expect(second.objects).toBe(0);
    expect(second.incremental).toEqual({ listed: 4, planned: 0, unchanged: 4, deleted: 0, retried: 0 });
    expect(await waitForRunEnd(() => registry.get(second.run!))).toBe('completed');
  });

  it('plans only the new objects after uploads', async () => {
    const before = enqueued('tick').length;
    await put(4);
    await put(5);
    // A firing may list while the uploads happen: what it misses, the next one plans.
    const after = await waitFor('firings of "tick" to plan the 2 new objects', () => {
      const runs = enqueued('tick').slice(before);
      return runs.reduce((n, run) => n + run.objects!, 0) >= 2 ? runs : undefined;
    });
    const planning = after.filter((run) => run.objects! > 0);
    for (const run of planning) expect(await waitForRunEnd(() => registry.get(run.run!))).toBe('completed');
    expect(after.reduce((n, run) => n + run.objects!, 0)).toBe(2);
    const planned = (await Promise.all(planning.map((run) => partUris(run.run!)))).flat().sort();
    expect(planned).toEqual([uri(4), uri(5)]);
  });

  it('removes the schedule with --remove, and a stopped scheduler exits', async () => {
    const removed = await runCli(['schedule', '--remove', 'tick', '--json'], env);
    expect(removed.code, removed.stderr).toBe(0);
    expect(JSON.parse(removed.stdout)).toEqual({ removed: true, name: 'tick' });
    expect(await listSchedules()).toEqual([]);
    const again = await runCli(['schedule', '--remove', 'tick'], env);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain('no schedule named "tick"');

    expect(await scheduler!.stop()).toBe(0);
    expect(scheduler!.log()).toContain('"scheduler stopped"');
  });
});
