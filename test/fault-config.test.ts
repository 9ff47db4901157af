/**
 * Fault suite, scenarios 5, 9 (model half) and 11 (issue 6): bad configuration is refused at
 * start, with one clear message, a non-zero exit, and nothing enqueued or read. Objects
 * outside a worker's `--allow` list are `not_allowed` rows (never read), and the run completes.
 */
import { cpSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { computeContentHash } from '@siglip-batch/model';
import { TINY_MODEL, runCli, startWorker, type CliResult } from './support/cli';
import { GetObjectCommand } from '@aws-sdk/client-s3';
import { duck, listKeys, scenario } from './support/fault-checks';
import { FAST_WORKER, createFaultWorld, type FaultWorld } from './support/fault-run';
import { startPrivateRedis, type PrivateRedis } from './support/private-redis';

let world: FaultWorld;
let secured: PrivateRedis;
let evicting: PrivateRedis;
const work = mkdtempSync(join(tmpdir(), 'fault-config-'));
const missingFilesModel = join(work, 'missing-files');
const widerModel = join(work, 'wider');
const corruptModel = join(work, 'corrupt');

async function rehash(dir: string): Promise<void> {
  const sidecarPath = join(dir, 'siglip-batch.json');
  const sidecar = JSON.parse(readFileSync(sidecarPath, 'utf8')) as Record<string, unknown>;
  writeFileSync(sidecarPath, JSON.stringify({ ...sidecar, content_hash: await computeContentHash(dir) }, null, 2));
}

beforeAll(async () => {
  world = await createFaultWorld();
  await world.upload(6);
  [secured, evicting] = await Promise.all([startPrivateRedis({ password: 'right-password' }), startPrivateRedis({ maxmemoryPolicy: 'allkeys-lru' })]);
  cpSync(TINY_MODEL, missingFilesModel, { recursive: true });
  unlinkSync(join(missingFilesModel, 'onnx', 'vision_model.onnx'));
  unlinkSync(join(missingFilesModel, 'tokenizer.json'));
  // A model of another width: the config says 64 while the ONNX files produce 32.
  cpSync(TINY_MODEL, widerModel, { recursive: true });
  const config = JSON.parse(readFileSync(join(widerModel, 'config.json'), 'utf8')) as {
    vision_config: Record<string, unknown>;
    text_config: Record<string, unknown>;
  };
  config.vision_config['hidden_size'] = 64;
  config.text_config['hidden_size'] = 64;
  config.text_config['projection_size'] = 64;
  writeFileSync(join(widerModel, 'config.json'), JSON.stringify(config, null, 2));
  await rehash(widerModel);
  // A broken model file: the vision ONNX cut in half.
  cpSync(TINY_MODEL, corruptModel, { recursive: true });
  const onnx = readFileSync(join(corruptModel, 'onnx', 'vision_model.onnx'));
  writeFileSync(join(corruptModel, 'onnx', 'vision_model.onnx'), onnx.subarray(0, Math.floor(onnx.length / 2)));
  await rehash(corruptModel);
});

afterAll(async () => {
  await world?.close();
  await Promise.all([secured?.stop(), evicting?.stop()]);
  rmSync(work, { recursive: true, force: true });
});

/** Nothing enqueued (no key under the world's prefix) and nothing written under out/. */
async function expectNothingDone(): Promise<void> {
  expect(await world.redis.keys(`${world.prefix}:*`)).toEqual([]);
  expect(await listKeys(world.s3, world.bucket, 'out/')).toEqual([]);
}

function expectRefused(result: CliResult, message: RegExp): void {
  expect(result.code, result.stdout + result.stderr).not.toBe(0);
  expect(result.code).not.toBeNull();
  expect(result.stderr).toMatch(message);
}

async function runWorkerToExit(args: string[], env: NodeJS.ProcessEnv = world.env): Promise<CliResult> {
  const worker = startWorker(args, env);
  const code = await new Promise<number | null>((resolve) => {
    const timer = setTimeout(() => worker.child.kill('SIGKILL'), 60_000);
    worker.child.once('exit', (exitCode) => {
      clearTimeout(timer);
      resolve(exitCode);
    });
  });
  return { code, stdout: '', stderr: worker.log() };
}

describe('fault: bad configuration', () => {
  const producerCases: Array<[string, string[], RegExp, () => NodeJS.ProcessEnv]> = [
    ['unreachable Redis', ['--redis-url', 'redis://127.0.0.1:1'], /Redis.*(ECONNREFUSED|connect|reach)/is, () => world.env],
    ['wrong Redis password', [], /WRONGPASS|password|auth/i, () => ({ ...world.env, REDIS_URL: secured.url.replace('right-password', 'wrong-password') })],
    ['bad S3 endpoint', ['--s3-endpoint', 'http://127.0.0.1:1'], /--source[\s\S]*(ECONNREFUSED|connect|endpoint)/i, () => world.env],
    ['bucket missing', ['--source', 's3://no-such-bucket-for-siglip/src/'], /no-such-bucket-for-siglip[\s\S]*(NoSuchBucket|not exist|not found)/i, () => world.env],
    ['model dir missing files', ['--model', missingFilesModel], /vision_model\.onnx|tokenizer\.json/, () => world.env],
    ['model of another width', ['--model', widerModel], /64|32|dim|width|hidden/i, () => world.env],
    ['empty labels', ['--labels', ' , '], /label/i, () => world.env],
    ['bad run id', ['--run', 'Bad:Run'], /run id|Bad:Run/i, () => world.env],
    ['http source', ['--source', 'http://example.com/images/'], /http/i, () => world.env],
  ];
  for (const [name, args, message, env] of producerCases) {
    it(`11: enqueue refuses ${name}`, async () => {
      await scenario(`11 config: enqueue, ${name}`, async () => {
        const runArgs = args.includes('--run') ? args : ['--run', 'cfg', ...args];
        const modelArgs = args.includes('--model') ? [] : ['--model', TINY_MODEL];
        const result = await runCli(
          ['enqueue', ...runArgs, ...modelArgs, ...(args.includes('--source') ? [] : ['--source', `s3://${world.bucket}/src/`]), '--out', `s3://${world.bucket}/out/`],
          env(),
        );
        expectRefused(result, message);
        await expectNothingDone();
        return { note: result.stderr.trim().split('\n').at(-1)!.slice(0, 100) };
      });
    });
  }

  const workerCases: Array<[string, string[], RegExp, () => NodeJS.ProcessEnv]> = [
    ['unreachable Redis', [...FAST_WORKER, '--redis-url', 'redis://127.0.0.1:1'], /Redis.*(ECONNREFUSED|connect|reach)/is, () => world.env],
    ['wrong Redis password', FAST_WORKER, /WRONGPASS|password|auth/i, () => ({ ...world.env, REDIS_URL: secured.url.replace('right-password', 'wrong-password') })],
    ['unknown device', [...FAST_WORKER, '--device', 'tpu:0'], /device|tpu/i, () => world.env],
    ['model dir missing files', ['--model', missingFilesModel, '--threads', '1'], /vision_model\.onnx|tokenizer\.json/, () => world.env],
    ['model of another width', ['--model', widerModel, '--threads', '1'], /64|32|dim|width|hidden/i, () => world.env],
    ['corrupt model file (9)', ['--model', corruptModel, '--threads', '1'], /vision_model\.onnx/, () => world.env],
    ['5: maxmemory-policy allkeys-lru', FAST_WORKER, /maxmemory-policy[\s\S]*allkeys-lru|allkeys-lru[\s\S]*maxmemory-policy/, () => ({ ...world.env, REDIS_URL: evicting.url })],
  ];
  for (const [name, args, message, env] of workerCases) {
    it(`11: the worker refuses ${name}`, async () => {
      await scenario(`${name.startsWith('5:') ? '5' : '11'} config: worker, ${name.replace(/^5: /, '')}`, async () => {
        const result = await runWorkerToExit(args, env());
        expectRefused(result, message);
        expect(result.stderr).not.toContain('"worker started"');
        await expectNothingDone();
        return { note: result.stderr.trim().split('\n').at(-1)!.slice(0, 100) };
      });
    });
  }

  it('11: objects outside a worker\'s --allow list are not_allowed rows, never read; the run completes', async () => {
    await scenario('11 config: source outside the worker --allow list', async () => {
      await world.worker([...FAST_WORKER, '--allow', 's3://another-bucket/images/']);
      const enqueued = await world.enqueue('outside', ['--shard-size', '3']);
      expect(enqueued.code, enqueued.stderr).toBe(0);
      expect(await world.waitEnd('outside', 120_000)).toBe('completed');
      const check = await world.check('outside');
      expect(check.problems, check.problems.join('; ')).toEqual([]);
      expect(check.ok).toBe(0);
      expect(check.error).toBe(6);
      expect([...new Set(check.errorCodes.values())]).toEqual(['not_allowed']);
      // Nothing read: no object went to inference, no part file.
      const record = await world.registry.get('outside');
      expect(record!.inferred).toBe(0);
      expect(check.files.parts).toEqual([]);
      const errorsFile = join(work, 'outside-errors.parquet');
      const object = await world.s3.send(new GetObjectCommand({ Bucket: world.bucket, Key: 'out/outside/errors/errors-00000000.parquet' }));
      writeFileSync(errorsFile, await object.Body!.transformToByteArray());
      const messages = await duck<{ error: string }>(`SELECT error FROM read_parquet('${errorsFile}')`);
      expect(messages.length).toBe(3);
      for (const { error } of messages) {
        expect(error).toContain('s3://another-bucket/images/');
        expect(error).toMatch(/--allow/);
      }
      const queue = await world.queue();
      expect(await queue.getFailed()).toEqual([]);
      expect(world.workers.at(-1)!.log()).toContain('objects outside what this worker may read');
      return { note: `6 not_allowed rows, inferred ${record!.inferred}, run completed` };
    });
  });
});
