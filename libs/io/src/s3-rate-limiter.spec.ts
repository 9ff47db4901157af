import { Redis } from 'ioredis';
import { describe, expect, freePort, test } from '@siglip-batch/testing';
import { RateLimiterUnavailableError } from './rate-limiter-unavailable-error';
import { S3RateLimiter, parseRequestsPerSecond, rateLimiterRedisOptions, readGrantCounts, type RateLimiterEvent } from './s3-rate-limiter';

describe('S3RateLimiter', () => {
  test('clients on two connections share one budget: never more than rps + burst grants in a second of Redis time', async ({ redisUrl, queuePrefix }) => {
    const rps = 20;
    const burst = 4;
    const wanted = 60;
    const connections = [new Redis(redisUrl, rateLimiterRedisOptions()), new Redis(redisUrl, rateLimiterRedisOptions())];
    try {
      // Two processes' worth of limiters (one per connection), four concurrent clients each.
      const limiters = connections.map((redis) => new S3RateLimiter(redis, { rps, burst, prefix: queuePrefix }));
      let taken = 0;
      const client = async (limiter: S3RateLimiter) => {
        while (taken < wanted) {
          taken++;
          await limiter.acquire();
        }
      };
      await Promise.all(limiters.flatMap((limiter) => Array.from({ length: 4 }, () => client(limiter))));

      const counts = limiters.map((limiter) => limiter.stats());
      expect(counts.reduce((n, c) => n + c.granted, 0)).toBe(wanted);
      // The budget was the limit: clients had to be told to wait.
      expect(counts.reduce((n, c) => n + c.denied, 0)).toBeGreaterThan(0);
      expect(counts.every((c) => c.granted > 0)).toBe(true);

      const perSecond = await readGrantCounts(connections[0]!, queuePrefix);
      expect([...perSecond.values()].reduce((a, b) => a + b, 0)).toBe(wanted);
      // More than `burst + rps` tokens cannot be had at once: the run spans several seconds.
      expect(perSecond.size).toBeGreaterThanOrEqual(Math.ceil(wanted / (rps + burst)));
      for (const [second, n] of perSecond) expect(n, `grants in second ${second}`).toBeLessThanOrEqual(rps + burst);
    } finally {
      for (const redis of connections) redis.disconnect();
    }
  });

  test('budgets with another name or prefix are separate', async ({ redisUrl, queuePrefix }) => {
    const redis = new Redis(redisUrl, rateLimiterRedisOptions());
    try {
      const a = new S3RateLimiter(redis, { rps: 1, burst: 2, prefix: queuePrefix, name: 'a' });
      const b = new S3RateLimiter(redis, { rps: 1, burst: 2, prefix: queuePrefix, name: 'b' });
      await Promise.all([a.acquire(), a.acquire(), b.acquire(), b.acquire()]);
      // Both buckets were full: no request waited.
      expect(a.stats().denied + b.stats().denied).toBe(0);
      expect([...(await readGrantCounts(redis, queuePrefix, 'a')).values()].reduce((x, y) => x + y, 0)).toBe(2);
      expect([...(await readGrantCounts(redis, queuePrefix, 'b')).values()].reduce((x, y) => x + y, 0)).toBe(2);
    } finally {
      redis.disconnect();
    }
  });

  test('Redis not answering: the request fails with a clear error after the allowed wait, and the loss is reported', async ({ queuePrefix }) => {
    const port = await freePort();
    const redis = new Redis(`redis://127.0.0.1:${port}`, rateLimiterRedisOptions(200));
    const events: RateLimiterEvent[] = [];
    try {
      const limiter = new S3RateLimiter(redis, { rps: 5, prefix: queuePrefix, unavailableTimeoutMs: 300, onEvent: (event) => events.push(event) });
      const error = await limiter.acquire().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(RateLimiterUnavailableError);
      expect((error as Error).message).toMatch(/Redis did not answer .* the request was not sent/);
      expect(events.filter((event) => event.type === 'unavailable')).toHaveLength(1);
      expect(limiter.stats()).toMatchObject({ granted: 0, failed: 1 });
    } finally {
      redis.disconnect();
    }
  });

  test('--s3-rps values: positive numbers only, with a message naming the flag', () => {
    expect(parseRequestsPerSecond('--s3-rps', '50')).toBe(50);
    expect(parseRequestsPerSecond('--s3-rps', '0.5')).toBe(0.5);
    for (const bad of ['0', '-3', 'abc', '', 'Infinity']) {
      expect(() => parseRequestsPerSecond('--s3-rps', bad)).toThrow(/--s3-rps must be a positive number of requests per second/);
    }
  });
});
