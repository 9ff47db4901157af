/**
 * Hardening probes, operator mistakes (issue 12, item 5), with real processes, moto and Redis:
 * a template without `{}`, no AWS region, no AWS credentials, `--out` inside `--source`, a
 * dashboard asked under a foreign `Host` name (DNS rebinding), and enqueues of one run that
 * overlap while workers finish its shards.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runRecordKey, shardJobId } from '@siglip-batch/jobs';
import { TINY_MODEL, runCli, startWorker, waitForWorkerStart, type WorkerProcess } from './support/cli';
import { rawGet, startDashboardProcess } from './support/dashboard-process';
import { FAST_WORKER, createFaultWorld, type FaultWorld } from './support/fault-run';
import { probe } from './support/hardening-report';
import { makeSampleImage } from './support/sample-images';

let world: FaultWorld;
let goodWorker: WorkerProcess | undefined;
const work = mkdtempSync(join(tmpdir(), 'hardening-operator-'));

beforeAll(async () => {
  world = await createFaultWorld();
  await world.upload(6);
});

afterAll(async () => {
  await world?.close();
  rmSync(work, { recursive: true, force: true });
});

/** The environment without any AWS region or credentials source but what `keep` names. */
function bareAwsEnv(keep: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...world.env };
  for (const name of Object.keys(env)) if (name.startsWith('AWS_')) delete env[name];
  return {
    ...env,
    AWS_CONFIG_FILE: join(work, 'no-such-config'),
    AWS_SHARED_CREDENTIALS_FILE: join(work, 'no-such-credentials'),
    AWS_EC2_METADATA_DISABLED: 'true',
    ...keep,
  };
}

/** The one worker with a working S3 configuration, started on first need. */
async function liveWorker(): Promise<WorkerProcess> {
  goodWorker ??= await world.worker();
  return goodWorker;
}

const lastLine = (text: string) => text.trim().split('\n').at(-1) ?? '';

describe('hardening: operator mistakes', () => {
  it('a template without {} is one line naming the template', async () => {
    await probe('operator', "enqueue / embed --template 'a photo' (no {})", 'one line: the template must contain {}; no zod JSON', async () => {
      const outcomes: string[] = [];
      for (const command of ['enqueue', 'embed']) {
        const args =
          command === 'enqueue'
            ? ['enqueue', '--run', 'no-braces', '--model', TINY_MODEL, '--source', `s3://${world.bucket}/src/`, '--out', `s3://${world.bucket}/out/`]
            : ['embed', '--model', TINY_MODEL, '--source', `s3://${world.bucket}/src/`, '--out', join(work, 'embed-out')];
        const result = await runCli([...args, '--labels', 'cat', '--template', 'a photo'], world.env);
        expect(result.code).not.toBe(0);
        const line = lastLine(result.stderr);
        expect(line).toMatch(/templates\.0: a template must contain \{\} where the label goes/);
        expect(result.stderr).not.toMatch(/"code"|"path"|^\s*\[/m);
        outcomes.push(`${command}: ${line.replace(/^siglip-batch: /, '')}`);
      }
      return outcomes[0]!.slice(0, 160);
    });
  });

  it('no AWS region: enqueue refuses at start saying what to set', async () => {
    await probe('operator', 'enqueue with S3 source/out, no AWS_REGION, no profile region, no endpoint', 'config error at start naming AWS_REGION, --region and the profile; no retries', async () => {
      const started = Date.now();
      const result = await runCli(
        ['enqueue', '--run', 'no-region', '--model', TINY_MODEL, '--source', `s3://${world.bucket}/src/`, '--out', `s3://${world.bucket}/out/`],
        bareAwsEnv({ AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' }),
      );
      const seconds = (Date.now() - started) / 1000;
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/invalid configuration/);
      expect(result.stderr).toMatch(/no AWS region for S3: set AWS_REGION \(or AWS_DEFAULT_REGION\), pass --region, or add `region = …` to profile "default"/);
      expect(result.stderr).not.toMatch(/Region is missing/);
      expect(await world.redis.exists(runRecordKey(world.prefix, 'no-region'))).toBe(0);
      const sourceLine = result.stderr.split('\n').find((line) => line.includes('--source')) ?? '';
      return `exit ${result.code} after ${seconds.toFixed(1)} s (process start included): ${sourceLine.trim().replace(/^- /, '').slice(0, 150)}`;
    });
  });

  it('no AWS region in a worker: it warns at start, and an S3 run fails at its first attempt saying what to set', async () => {
    await probe('operator', 'worker without AWS region or endpoint, given an S3 run', 'warning at start; the shard fails once, permanently, naming AWS_REGION; the run ends failed with that reason', async () => {
      const enqueue = await world.enqueue('worker-no-region');
      expect(enqueue.code, enqueue.stderr).toBe(0);
      const bad = startWorker(FAST_WORKER, bareAwsEnv({ AWS_ACCESS_KEY_ID: 'testing', AWS_SECRET_ACCESS_KEY: 'testing' }));
      world.workers.push(bad);
      let reason: string | undefined;
      let attempts: number | undefined;
      try {
        await waitForWorkerStart(bad);
        expect(bad.log()).toMatch(/"level":"warn","msg":"no AWS region for S3: set AWS_REGION[^\n]*; runs on S3 will fail at their first shard"/);
        const deadline = Date.now() + 60_000;
        while (Date.now() < deadline && reason === undefined) {
          reason = (await world.registry.get('worker-no-region'))?.failedShards[0];
          if (reason === undefined) await new Promise((resolve) => setTimeout(resolve, 200));
        }
        expect(reason).toMatch(/no AWS region for S3: set AWS_REGION/);
        attempts = (await (await world.queue()).getJob(shardJobId('worker-no-region', 0)))?.attemptsMade;
        expect(attempts).toBe(1);
      } finally {
        // Before any other run is queued: it would take that run's shards too.
        await bad.stop();
      }
      // A worker that can reach S3 finalises the run: failed, with the reason.
      await liveWorker();
      expect(await world.waitEnd('worker-no-region')).toBe('failed');
      const record = await world.registry.get('worker-no-region');
      expect(record?.reason).toMatch(/AWS_REGION/);
      expect(record).toMatchObject({ shardsFailed: 1, failedCodes: { 's3-config': 1 } });
      return `shard 0 failed after ${attempts} attempt: ${reason!.slice(0, 90)}; run failed`;
    });
  });

  it('no AWS credentials: the message says which variables and profile were looked at', async () => {
    await probe('operator', 'enqueue with no AWS keys, no profile files, no instance metadata', 'config error listing the variables, profile and files looked at; no raw CredentialsProviderError', async () => {
      const result = await runCli(
        ['enqueue', '--run', 'no-credentials', '--model', TINY_MODEL, '--source', `s3://${world.bucket}/src/`, '--out', `s3://${world.bucket}/out/`],
        bareAwsEnv({ AWS_ENDPOINT_URL_S3: world.env['AWS_ENDPOINT_URL_S3']!, AWS_PROFILE: 'ops' }),
      );
      expect(result.code).not.toBe(0);
      expect(result.stderr).toMatch(/no AWS credentials found; looked at AWS_ACCESS_KEY_ID \+ AWS_SECRET_ACCESS_KEY/);
      expect(result.stderr).toMatch(/profile "ops" \(AWS_PROFILE\) in .*no-such-credentials and .*no-such-config/);
      expect(result.stderr).toMatch(/AWS_WEB_IDENTITY_TOKEN_FILE.*AWS_CONTAINER_CREDENTIALS_RELATIVE_URI.*EC2 instance metadata/);
      expect(result.stderr).not.toMatch(/CredentialsProviderError/);
      const sourceLine = result.stderr.split('\n').find((line) => line.includes('--source')) ?? lastLine(result.stderr);
      return sourceLine.trim().replace(/^- /, '').replaceAll(work, '<tmp>').slice(0, 200);
    });
  });

  it('--out inside --source (S3): a rerun does not plan the first run’s files as images', async () => {
    await probe('operator', 'enqueue --source s3://b/src/ --out s3://b/src/out/, twice (second run after the first completed)', 'both runs plan exactly the 6 images; no error rows', async () => {
      const args = ['--out', `s3://${world.bucket}/src/out/`];
      const first = await world.enqueue('inside-1', args);
      expect(first.code, first.stderr).toBe(0);
      await liveWorker();
      expect(await world.waitEnd('inside-1')).toBe('completed');
      const second = await world.enqueue('inside-2', args);
      expect(second.code, second.stderr).toBe(0);
      const planned = [JSON.parse(first.stdout).objectsPlanned as number, JSON.parse(second.stdout).objectsPlanned as number];
      expect(planned).toEqual([6, 6]);
      expect(await world.waitEnd('inside-2')).toBe('completed');
      const record = await world.registry.get('inside-2');
      expect(record?.objectsError ?? 0).toBe(0);
      return `objects planned: first run ${planned[0]}, rerun ${planned[1]} (first run's folder under the source holds parquet, plan and stats files)`;
    });
  });

  it('--out inside --source (local embed): a rerun does not plan its own output', async () => {
    await probe('operator', 'embed --source dir --out dir/runs, twice', 'both runs plan exactly the 4 images', async () => {
      const source = join(work, 'photos');
      mkdirSync(source, { recursive: true });
      for (let i = 0; i < 4; i++) {
        const image = await makeSampleImage(i);
        writeFileSync(join(source, image.name), image.bytes);
      }
      const planned: number[] = [];
      for (const run of ['local-1', 'local-2']) {
        const result = await runCli(['embed', '--run', run, '--model', TINY_MODEL, '--threads', '1', '--source', source, '--out', join(source, 'runs')], world.env);
        expect(result.code, result.stderr).toBe(0);
        const manifest = JSON.parse(readFileSync(join(source, 'runs', run, '_manifest.json'), 'utf8')) as { counts: { planned: number; error: number } };
        expect(manifest.counts.error).toBe(0);
        planned.push(manifest.counts.planned);
      }
      expect(planned).toEqual([4, 4]);
      return `objects planned: ${planned.join(', ')}; no error rows`;
    });
  });

  it('the dashboard answers only to its own host names, without X-Powered-By', async () => {
    await probe('operator', 'dashboard requests with Host: rebind.attacker.example, localhost, 127.0.0.1, --allowed-host name', '421 for a foreign name; 200 for loopback names, IPs and allowed names; no X-Powered-By', async () => {
      const dashboard = await startDashboardProcess(['--allowed-host', 'dash.example,ops.example'], world.env);
      try {
        const port = dashboard.port;
        const statusOf = async (host: string, path = '/') => (await rawGet(port, path, { Host: host })).status;
        const foreign = await Promise.all(['rebind.attacker.example', `rebind.attacker.example:${port}`, 'localhost.attacker.example', 'dash.example.attacker.example'].map((h) => statusOf(h)));
        expect(foreign).toEqual([421, 421, 421, 421]);
        expect(await statusOf('rebind.attacker.example', '/queues/api/queues')).toBe(421);
        const own = await Promise.all([`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`, 'dash.example', `ops.example:${port}`].map((h) => statusOf(h)));
        expect(own).toEqual([200, 200, 200, 200, 200]);
        const poweredBy: string[] = [];
        for (const path of ['/', '/api/runs', '/queues/', '/queues/api/queues', '/nope']) {
          const response = await rawGet(port, path, { Host: `127.0.0.1:${port}` });
          if (response.headers['x-powered-by'] !== undefined) poweredBy.push(path);
        }
        expect(poweredBy).toEqual([]);
        return `foreign names: ${foreign.join(',')}; own names: ${own.join(',')}; X-Powered-By on none of 5 paths`;
      } finally {
        await dashboard.stop();
      }
    });
  });

  it('overlapping enqueues of one run while a worker finishes shards queue nothing again', async () => {
    await probe('operator', 'enqueue of a 40-shard run, then 2 concurrent + 2 more enqueues of it while a worker completes its shards', 'later enqueues add 0 shards; every shard embedded once; 0 lost, 0 duplicated', async () => {
      await world.upload(80, 'many/', 100);
      const args = ['--source', `s3://${world.bucket}/many/`, '--shard-size', '2'];
      const first = await world.enqueue('overlap', args);
      expect(first.code, first.stderr).toBe(0);
      expect(JSON.parse(first.stdout)).toMatchObject({ shardsPlanned: 40, shardsEnqueued: 40 });
      const worker = await liveWorker();
      const again = await Promise.all([world.enqueue('overlap', args), world.enqueue('overlap', args)]);
      again.push(await world.enqueue('overlap', args), await world.enqueue('overlap', args));
      const summaries = again.map((result) => {
        expect(result.code, result.stderr).toBe(0);
        return JSON.parse(result.stdout) as { shardsEnqueued: number; shardsAlreadyDone: number };
      });
      expect(summaries.map((s) => s.shardsEnqueued)).toEqual([0, 0, 0, 0]);
      expect(await world.waitEnd('overlap')).toBe('completed');
      const check = await world.check('overlap');
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      expect({ lost: check.lost, duplicated: check.duplicated, amplification: check.amplification }).toEqual({ lost: 0, duplicated: 0, amplification: 1 });
      const doneLines = worker.log().split('\n').filter((line) => line.includes('"msg":"shard done"') && line.includes('"runId":"overlap"'));
      expect(doneLines).toHaveLength(40);
      return `later enqueues added ${summaries.map((s) => s.shardsEnqueued).join('/')} shards (already done: ${summaries.map((s) => s.shardsAlreadyDone).join('/')}); 40 shards done once; lost 0, duplicated 0, amplification ${check.amplification}`;
    });
  });
});
