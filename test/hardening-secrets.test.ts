/**
 * Hardening probes, secrets (issue 12, item 3): a Redis password given in any form ioredis
 * accepts — `?password=` included — and an S3 endpoint with user-info never appear in what
 * the processes print or write: worker logs, `enqueue` and `status` output (text and --json),
 * the dashboard's banner, pages and Bull Board API, error messages, and the run folder.
 * Real processes against a private `redis-server` with `requirepass`, and moto.
 */
import { randomBytes } from 'node:crypto';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { runRecordKey } from '@siglip-batch/jobs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { FAST_WORKER, createFaultWorld, type FaultWorld } from './support/fault-run';
import { listKeys } from './support/fault-checks';
import { runCli, startWorker } from './support/cli';
import { rawGet, startDashboardProcess } from './support/dashboard-process';
import { probe } from './support/hardening-report';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis';

const REDIS_PASSWORD = `rp${randomBytes(8).toString('hex')}`;
const S3_SECRET = `sp${randomBytes(8).toString('hex')}`;
const WRONG_PASSWORD = `wp${randomBytes(8).toString('hex')}`;
const RUN = 'secret-run';

let server: PrivateRedis;
let world: FaultWorld;
let queryUrl: string;
let endpointWithUserInfo: string;

/** The secrets found in `text` (none is the only right answer). */
function leaks(text: string, secrets: string[] = [REDIS_PASSWORD, S3_SECRET]): string[] {
  return secrets.flatMap((secret) => [secret, encodeURIComponent(secret)]).filter((form, i, all) => all.indexOf(form) === i && text.includes(form));
}

beforeAll(async () => {
  server = await startPrivateRedis({ password: REDIS_PASSWORD });
  queryUrl = `redis://127.0.0.1:${server.port}/?password=${REDIS_PASSWORD}`;
  world = await createFaultWorld({ redisUrl: queryUrl });
  await world.upload(6);
  const moto = new URL(inject('s3Endpoint'));
  endpointWithUserInfo = `${moto.protocol}//s3user:${S3_SECRET}@${moto.host}`;
});

afterAll(async () => {
  await world?.close();
  await server?.stop();
});

describe('hardening: secrets', () => {
  it('a run with REDIS_URL ?password= and an S3 endpoint with user-info: no secret in any output, page or run file', async () => {
    await probe(
      'secrets',
      'REDIS_URL redis://host/?password=… and AWS_ENDPOINT_URL_S3 http://user:secret@host: enqueue, worker, status, dashboard, run folder',
      'the run completes; neither secret in stdout/stderr, logs, pages, API answers or run files',
      async () => {
        const env = { AWS_ENDPOINT_URL_S3: endpointWithUserInfo };
        const enqueue = await world.enqueue(RUN, ['--shard-size', '3'], env);
        expect(enqueue.code, enqueue.stderr).toBe(0);
        const worker = await world.worker(FAST_WORKER, env);
        expect(await world.waitEnd(RUN)).toBe('completed');
        const statusText = await runCli(['status', RUN], { ...world.env, ...env });
        const statusJson = await runCli(['status', RUN, '--json'], { ...world.env, ...env });
        expect(statusText.code, statusText.stderr).toBe(0);
        expect(JSON.parse(statusJson.stdout)).toMatchObject({ run: RUN, state: 'completed' });

        const dashboard = await startDashboardProcess([], { ...world.env, ...env });
        const pages: string[] = [];
        try {
          for (const path of ['/', '/api/runs', `/runs/${RUN}`, `/api/runs/${RUN}`, '/queues/', '/queues/api/queues']) {
            const page = await rawGet(dashboard.port, path);
            expect(page.status, path).toBe(200);
            pages.push(page.body);
          }
        } finally {
          await dashboard.stop();
        }
        // The banner names the Redis it uses, with the password hidden.
        expect(dashboard.output()).toMatch(/Redis redis:\/\/127\.0\.0\.1:\d+\/\?password=\*\*\*/);
        expect(worker.log()).toContain('"redis":"redis://127.0.0.1');
        expect(worker.log()).toContain('"s3Endpoint":"http://***:***@');

        const runFiles: string[] = [];
        for (const key of await listKeys(world.s3, world.bucket, `out/${RUN}/`)) {
          const object = await world.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: key }));
          runFiles.push(Buffer.from(await object.Body!.transformToByteArray()).toString('latin1'));
        }
        expect(runFiles.length).toBeGreaterThan(4);
        const outputs = {
          enqueue: enqueue.stdout + enqueue.stderr,
          worker: worker.log(),
          status: statusText.stdout + statusText.stderr,
          'status --json': statusJson.stdout + statusJson.stderr,
          dashboard: dashboard.output(),
          pages: pages.join('\n'),
          'run files': runFiles.join('\n'),
        };
        for (const [where, text] of Object.entries(outputs)) expect(leaks(text), where).toEqual([]);
        const bytes = Object.values(outputs).reduce((sum, text) => sum + text.length, 0);
        return `completed; ${Object.keys(outputs).length} outputs (${Math.round(bytes / 1024)} kB, ${runFiles.length} run files, ${pages.length} pages) hold neither secret`;
      },
    );
  });

  it('a wrong ?password= is refused by enqueue, worker, status and dashboard without being printed', async () => {
    await probe('secrets', 'REDIS_URL with a wrong ?password=: enqueue, worker, status, dashboard', 'each refuses naming the credentials; the password is not printed', async () => {
      const env = { ...world.env, REDIS_URL: `redis://127.0.0.1:${server.port}/?password=${WRONG_PASSWORD}` };
      const enqueue = await world.enqueue('secret-wrong', [], { REDIS_URL: env.REDIS_URL });
      const status = await runCli(['status', RUN], env);
      const dashboard = await runCli(['dashboard', '--port', '0'], env, 60_000);
      const worker = startWorker(FAST_WORKER, env);
      const workerCode = await new Promise<number | null>((resolve) => worker.child.once('exit', resolve));
      const outputs = {
        enqueue: enqueue.stdout + enqueue.stderr,
        status: status.stdout + status.stderr,
        dashboard: dashboard.stdout + dashboard.stderr,
        worker: worker.log(),
      };
      for (const code of [enqueue.code, status.code, dashboard.code, workerCode]) expect(code).not.toBe(0);
      for (const [where, text] of Object.entries(outputs)) {
        expect(text, where).toMatch(/refused the credentials/);
        expect(leaks(text, [WRONG_PASSWORD, REDIS_PASSWORD]), where).toEqual([]);
      }
      return `4 of 4 refused with "refused the credentials", exit codes ${[enqueue.code, status.code, dashboard.code, workerCode].join('/')}; password not printed`;
    });
  });

  it('an unreachable Redis with a password in the URL: the error names the URL without it', async () => {
    await probe('secrets', 'unreachable REDIS_URL redis://127.0.0.1:1/?password=… and redis://:…@127.0.0.1:1', 'a connection error naming the redacted URL', async () => {
      const texts: string[] = [];
      for (const url of [`redis://127.0.0.1:1/?password=${REDIS_PASSWORD}`, `redis://:${REDIS_PASSWORD}@127.0.0.1:1/0`]) {
        const result = await runCli(['status', RUN], { ...world.env, REDIS_URL: url });
        expect(result.code).not.toBe(0);
        expect(result.stderr).toMatch(/Redis is not reachable at redis:\/\/(:\*\*\*@)?127\.0\.0\.1:1/);
        expect(leaks(result.stdout + result.stderr)).toEqual([]);
        texts.push(result.stderr.trim().split('\n').at(-1)!);
      }
      return texts.join(' | ').slice(0, 200);
    });
  });

  it('every credential form of a Redis URL is hidden in the dashboard banner', async () => {
    await probe(
      'secrets',
      'dashboard banner with redis://:pw@, redis://default:pw@, ?password=, ?username=&password=, protocol-relative //:pw@',
      'the dashboard connects with each and its banner shows *** for the password',
      async () => {
        const host = `127.0.0.1:${server.port}`;
        const forms = [
          `redis://:${REDIS_PASSWORD}@${host}`,
          `redis://default:${REDIS_PASSWORD}@${host}/0`,
          `redis://${host}/?password=${REDIS_PASSWORD}`,
          `redis://${host}/0?username=default&password=${REDIS_PASSWORD}`,
          `//:${REDIS_PASSWORD}@${host}`,
        ];
        const banners: string[] = [];
        for (const form of forms) {
          const dashboard = await startDashboardProcess([], { ...world.env, REDIS_URL: form });
          await dashboard.stop();
          const banner = /Redis (\S+),/.exec(dashboard.output())?.[1] ?? '';
          expect(banner, form).toContain('***');
          expect(leaks(dashboard.output()), form).toEqual([]);
          banners.push(banner);
        }
        return banners.join(' ');
      },
    );
  });

  it("a reason quoting a URL with credentials (another process's message) is redacted by status and the dashboard", async () => {
    await probe(
      'secrets',
      'run reason and failed-shard reason quoting redis://:pw@, ?password=, http://key:secret@ and X-Amz-Signature=',
      'status (text, --json), the run page and its API show *** in their place',
      async () => {
        const run = 'secret-reason';
        // No worker may take this run: its record is what is probed.
        for (const worker of world.workers) await worker.stop();
        const enqueue = await world.enqueue(run);
        expect(enqueue.code, enqueue.stderr).toBe(0);
        const quoted =
          `Redis at redis://:${REDIS_PASSWORD}@10.0.0.9:6379 and redis://10.0.0.9:6379/?password=${REDIS_PASSWORD} refused; ` +
          `endpoint http://key:${S3_SECRET}@minio:9000/b/k?X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F1&X-Amz-Signature=${S3_SECRET}`;
        await world.registry.markShardFailed(run, 0, `shard 0: ${quoted}`);
        await world.redis.hset(runRecordKey(world.prefix, run), 'reason', quoted);
        const statusText = await runCli(['status', run], world.env);
        const statusJson = await runCli(['status', run, '--json'], world.env);
        expect(statusText.stdout).toContain('redis://:***@10.0.0.9:6379');
        expect((JSON.parse(statusJson.stdout) as { reason: string }).reason).toContain('X-Amz-Signature=***');
        const dashboard = await startDashboardProcess([], world.env);
        const pages: string[] = [];
        try {
          for (const path of [`/runs/${run}`, `/api/runs/${run}`, '/api/runs']) pages.push((await rawGet(dashboard.port, path)).body);
        } finally {
          await dashboard.stop();
        }
        expect(pages[0]).toContain('http://***:***@minio:9000');
        const outputs = { status: statusText.stdout, 'status --json': statusJson.stdout, 'run page': pages[0]!, 'run API': pages[1]!, 'runs API': pages[2]!, dashboard: dashboard.output() };
        for (const [where, text] of Object.entries(outputs)) expect(leaks(text, [REDIS_PASSWORD, S3_SECRET, 'AKIAIOSFODNN7EXAMPLE']), where).toEqual([]);
        return `${Object.keys(outputs).length} outputs show the reason with *** for each credential; e.g. ${/Redis at \S+/.exec(statusText.stdout)?.[0]}`;
      },
    );
  });
});
