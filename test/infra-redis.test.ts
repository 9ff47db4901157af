/** infra/ checked against the code, part redis: see test/infra-images.test.ts for the whole suite's approach. */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { redisOptions } from '@siglip-batch/jobs';
import { connectCheckedRedis } from '@siglip-batch/pipeline';
import { freePort } from './support/free-port';
import { at, read, kustomization, named, podTemplateOf, COMPOSE, redisDirectives } from './support/infra-files';

describe('Redis settings', () => {
  const composeConf = read('infra', 'redis', 'redis.conf');

  it('are one file: infra/k8s/redis.conf equals infra/redis/redis.conf', () => {
    const generated = kustomization.configMapGenerator?.find((generator) => generator.name === 'redis-config');
    expect(generated?.files).toEqual(['redis.conf']);
    expect(read('infra', 'k8s', 'redis.conf')).toBe(composeConf);
  });

  it('never evict, persist with an append-only file fsynced every second, hold no password', () => {
    const directives = redisDirectives(composeConf);
    expect(directives.get('maxmemory-policy')).toBe('noeviction');
    expect(directives.get('appendonly')).toBe('yes');
    expect(directives.get('appendfsync')).toBe('everysec');
    expect(directives.has('requirepass')).toBe(false);
  });

  describe('in a real redis-server', () => {
    let server: ChildProcess | undefined;
    let dir: string;
    let url: string;
    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), 'siglip-redis-conf-'));
      const port = await freePort();
      url = `redis://127.0.0.1:${port}`;
      // Our file as compose and the StatefulSet use it; only the address is the test's.
      server = spawn('redis-server', [at('infra', 'redis', 'redis.conf'), '--port', String(port), '--bind', '127.0.0.1'], { cwd: dir, stdio: 'ignore' });
      const deadline = Date.now() + 10_000;
      for (;;) {
        const probe = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
        probe.on('error', () => undefined);
        const up = await probe.connect().then(() => probe.ping(), () => undefined).finally(() => probe.disconnect());
        if (up === 'PONG') break;
        if (Date.now() > deadline || server.exitCode !== null) throw new Error('redis-server did not start with infra/redis/redis.conf');
        await new Promise((r) => setTimeout(r, 100));
      }
    });
    afterAll(() => {
      server?.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    });

    it('loads the file, and the workers’ own start-up check accepts it', async () => {
      const redis = await connectCheckedRedis(url, redisOptions('producer'));
      try {
        expect(await redis.config('GET', 'maxmemory-policy')).toEqual(['maxmemory-policy', 'noeviction']);
        expect(await redis.config('GET', 'appendonly')).toEqual(['appendonly', 'yes']);
      } finally {
        redis.disconnect();
      }
    });
  });

  it('are what the compose Redis and the StatefulSet run, with a password from the environment', () => {
    const service = COMPOSE.services['redis']!;
    const mount = service.volumes!.find((volume) => typeof volume !== 'string' && volume.source === '../redis/redis.conf');
    expect(mount).toMatchObject({ read_only: true });
    const target = typeof mount === 'string' ? '' : mount!.target;
    expect(([] as string[]).concat(service.command ?? []).join(' ')).toContain(`redis-server ${target} --requirepass`);
    expect(service.healthcheck?.test).toBeDefined();

    const redis = named('StatefulSet', 'redis');
    const pod = podTemplateOf(redis)!.spec;
    const config = pod.volumes!.find((volume) => volume.configMap?.name === 'redis-config')!;
    const mountPath = pod.containers[0]!.volumeMounts!.find((m) => m.name === config.name)!.mountPath;
    expect(pod.containers[0]!.command!.join(' ')).toContain(`redis-server ${mountPath}/redis.conf --requirepass`);
    expect((redis.spec as { volumeClaimTemplates?: unknown[] }).volumeClaimTemplates).toHaveLength(1);
  });
});
