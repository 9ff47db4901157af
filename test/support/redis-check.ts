import { Redis } from 'ioredis';

export function defaultRedisUrl(): string {
  return process.env['REDIS_URL'] ?? 'redis://127.0.0.1:6379';
}

const HOW_TO_GET_REDIS =
  "Start one with `redis-server --daemonize yes --port 6379 --save '' --appendonly no` " +
  '(Debian: `apt-get install redis-server`), or point REDIS_URL at a running Redis ≥ 6.2.';

/** Fails with a message that says how to get Redis when none answers at `url`. */
export async function assertRedisReachable(url: string): Promise<void> {
  const redis = new Redis(url, {
    lazyConnect: true,
    maxRetriesPerRequest: 0,
    connectTimeout: 3000,
    retryStrategy: () => null,
  });
  redis.on('error', () => undefined);
  try {
    await redis.connect();
    const pong = await redis.ping();
    if (pong !== 'PONG') throw new Error(`unexpected PING reply ${pong}`);
  } catch (error) {
    throw new Error(`Redis is not reachable at ${url} (${(error as Error).message}). ${HOW_TO_GET_REDIS}`);
  } finally {
    redis.disconnect();
  }
}
