/**
 * The private Redis of test/support/private-redis.ts and the memory probes of
 * test/support/process-metrics.ts, against real `redis-server` processes: persistence across
 * restarts (and its loss when asked), the configuration asked for, a password, a hung or killed
 * server, clean-up, and RSS / used_memory figures that follow a server that grows.
 */
import { existsSync } from 'node:fs';
import { Redis } from 'ioredis';
import { afterEach, describe, expect, test } from 'vitest';
import { startPrivateRedis, type PrivateRedis, type PrivateRedisOptions } from './support/private-redis';
import { descendantPids, MiB, redisUsedMemory, rssGrowthAfterWarmup, sampleRss, startRssSampler } from './support/process-metrics';

const servers: PrivateRedis[] = [];
const clients: Redis[] = [];

async function start(options: PrivateRedisOptions = {}): Promise<PrivateRedis> {
  const server = await startPrivateRedis(options);
  servers.push(server);
  return server;
}

/** A client that fails fast instead of retrying for ever. */
function connect(url: string, options: { password?: string; reconnect?: boolean } = {}): Redis {
  const redis = new Redis(url, {
    maxRetriesPerRequest: options.reconnect ? 20 : 0,
    retryStrategy: options.reconnect ? (times) => Math.min(times * 50, 500) : () => null,
    ...(options.password !== undefined ? { password: options.password } : {}),
  });
  redis.on('error', () => undefined);
  clients.push(redis);
  return redis;
}

afterEach(async () => {
  for (const redis of clients.splice(0)) redis.disconnect();
  for (const server of servers.splice(0)) await server.stop();
});

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('private redis-server', () => {
  test('append-only: data survives a restart with keepData, and is gone without', async () => {
    const server = await start({ appendonly: true });
    expect((await server.info('persistence'))['aof_enabled']).toBe('1');
    // A client that stays connected across restarts reconnects by itself, as workers must.
    const redis = connect(server.url, { reconnect: true });
    await redis.set('run:state', 'running');
    await redis.rpush('run:list', 'a', 'b', 'c');
    const firstPid = server.pid;

    await server.restart({ keepData: true });
    expect(server.pid).not.toBe(firstPid);
    expect(await redis.get('run:state')).toBe('running');
    expect(await redis.lrange('run:list', 0, -1)).toEqual(['a', 'b', 'c']);

    await server.restart({ keepData: false });
    expect(await redis.get('run:state')).toBeNull();
    expect(await redis.dbsize()).toBe(0);
    // Still append-only, same port, same URL.
    expect((await server.info('persistence'))['aof_enabled']).toBe('1');
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`);
  });

  test('a crash (SIGKILL) loses no acknowledged write with appendfsync always', async () => {
    const server = await start({ appendonly: true, appendfsync: 'always' });
    const redis = connect(server.url);
    const pipeline = redis.pipeline();
    for (let i = 0; i < 1000; i++) pipeline.set(`key:${i}`, String(i));
    await pipeline.exec();
    redis.disconnect();
    await server.restart({ keepData: true, signal: 'SIGKILL' });
    expect(await connect(server.url).dbsize()).toBe(1000);
  });

  test('without persistence a restart loses the data even with keepData', async () => {
    const server = await start();
    await connect(server.url).set('k', 'v');
    await server.restart({ keepData: true });
    expect(await connect(server.url).exists('k')).toBe(0);
  });

  test('maxmemory-policy and maxmemory are what was asked (INFO); noeviction by default', async () => {
    const lru = await start({ maxmemoryPolicy: 'allkeys-lru', maxmemory: '64mb' });
    const memory = await lru.info('memory');
    expect(memory['maxmemory_policy']).toBe('allkeys-lru');
    expect(memory['maxmemory']).toBe(String(64 * MiB));
    expect(await redisUsedMemory(connect(lru.url))).toMatchObject({ maxmemoryPolicy: 'allkeys-lru', maxmemory: 64 * MiB });

    const plain = await start();
    expect((await plain.info('memory'))['maxmemory_policy']).toBe('noeviction');
  });

  test('a password is required when set', async () => {
    const password = 's3cret/with:odd@chars';
    const server = await start({ password });
    expect(server.url).toBe(`redis://:${encodeURIComponent(password)}@127.0.0.1:${server.port}`);
    expect(await connect(server.url).ping()).toBe('PONG');
    const bare = `redis://127.0.0.1:${server.port}`;
    await expect(connect(bare).get('k')).rejects.toThrow(/NOAUTH/);
    await expect(connect(bare, { password: 'wrong' }).ping()).rejects.toThrow(/WRONGPASS|invalid password/);
    expect((await server.info('server'))['tcp_port']).toBe(String(server.port));
  });

  test('SIGSTOP hangs the server until SIGCONT; SIGKILL ends it and restart brings it back', async () => {
    const server = await start({ appendonly: true, appendfsync: 'always' });
    const redis = new Redis(server.url, { commandTimeout: 300, maxRetriesPerRequest: 0 });
    redis.on('error', () => undefined);
    clients.push(redis);
    await redis.set('k', 'v');
    await server.kill('SIGSTOP');
    await expect(redis.get('k')).rejects.toThrow(/timed out/i);
    await server.kill('SIGCONT');
    expect(await redis.get('k')).toBe('v');

    const pid = server.pid!;
    await server.kill('SIGKILL');
    expect(server.pid).toBeUndefined();
    expect(alive(pid)).toBe(false);
    await server.restart({ keepData: true });
    expect(await connect(server.url).get('k')).toBe('v');
  });

  test('stop ends the process and removes its temporary directory', async () => {
    const server = await start({ appendonly: true });
    const pid = server.pid!;
    expect(alive(pid)).toBe(true);
    expect(existsSync(server.dir)).toBe(true);
    await server.stop();
    await server.stop(); // twice is fine
    expect(alive(pid)).toBe(false);
    expect(existsSync(server.dir)).toBe(false);
    await expect(server.restart({ keepData: true })).rejects.toThrow(/after stop/);
  });

  test('a missing redis-server fails with a message that says how to install it', async () => {
    await expect(startPrivateRedis({ binary: '/nonexistent/redis-server' })).rejects.toThrow(
      /redis-server is not available .*apt-get install redis-server/,
    );
  });
});

describe('process metrics', () => {
  test('RSS samples, the peak, and Redis used_memory follow a server that grows', async () => {
    const server = await start();
    const pid = server.pid!;
    const before = sampleRss(pid)!;
    expect(before.rssBytes).toBeGreaterThan(0);
    expect(before.hwmBytes).toBeGreaterThanOrEqual(before.rssBytes);
    // The test process is the server's parent.
    expect(descendantPids(process.pid)).toContain(pid);

    const sampler = startRssSampler(pid, { intervalMs: 20 });
    const redis = connect(server.url);
    const value = 'x'.repeat(100 * 1024);
    for (let batch = 0; batch < 4; batch++) {
      const pipeline = redis.pipeline();
      for (let i = 0; i < 100; i++) pipeline.set(`big:${batch}:${i}`, value);
      await pipeline.exec();
    }
    const memory = await redisUsedMemory(redis);
    expect(memory.usedMemory).toBeGreaterThan(40 * MiB);
    expect(memory.usedMemoryPeak).toBeGreaterThanOrEqual(memory.usedMemory);
    expect(memory.maxmemoryPolicy).toBe('noeviction');

    const summary = sampler.stop();
    expect(summary.samples.length).toBeGreaterThan(1);
    expect(summary.peakRssBytes).toBeGreaterThan(before.rssBytes + 30 * MiB);
    expect(summary.hwmBytes).toBeGreaterThanOrEqual(summary.peakRssBytes);
    expect(summary.lastRssBytes).toBe(summary.samples.at(-1)!.rssBytes);

    await server.stop();
    expect(sampleRss(pid)).toBeUndefined();
  });

  test('includeChildren adds the descendants to the sampled process', async () => {
    const server = await start();
    const own = sampleRss(process.pid)!.rssBytes;
    const child = sampleRss(server.pid!)!.rssBytes;
    const tree = startRssSampler(process.pid, { includeChildren: true }).stop();
    // Memory moves a little between the three readings; the child's share must be there.
    expect(tree.peakRssBytes).toBeGreaterThan(own + child / 2);
  });

  test('RSS growth after warm-up compares medians of the first and last windows', () => {
    const samples = Array.from({ length: 100 }, (_, i) => ({
      atMs: i * 1000,
      // Warm-up ramp to 100 MB, then flat with GC noise, then +5 % at the end.
      rssBytes: (i < 20 ? 5 * i : i < 80 ? 100 : 105) * MiB + (i % 3 === 0 ? 20 * MiB : 0),
    }));
    expect(rssGrowthAfterWarmup(samples, 20_000, 10_000)).toBeCloseTo(0.05, 5);
    expect(() => rssGrowthAfterWarmup(samples, 200_000)).toThrow(/not enough samples/);
  });
});
