import type { RedisOptions } from 'ioredis';

export const DEFAULT_REDIS_URL = 'redis://127.0.0.1:6379';

/** `REDIS_URL` from the environment, or the local default. */
export function redisUrlFromEnv(env: NodeJS.ProcessEnv = process.env): string {
  return env['REDIS_URL']?.trim() || DEFAULT_REDIS_URL;
}

/**
 * ioredis options by role.
 *
 * - `worker`: BullMQ workers block on Redis and must survive restarts, so commands wait for
 *   the connection (`maxRetriesPerRequest: null`) and reconnection never gives up.
 * - `producer`: a command line fails fast when Redis is not there, rather than hanging.
 */
export function redisOptions(role: 'worker' | 'producer'): RedisOptions {
  if (role === 'worker') {
    return {
      maxRetriesPerRequest: null,
      enableReadyCheck: true,
      connectTimeout: 10_000,
      retryStrategy: (times) => Math.min(200 * 2 ** Math.min(times, 6), 10_000),
    };
  }
  return {
    maxRetriesPerRequest: 2,
    enableOfflineQueue: true,
    connectTimeout: 5_000,
    retryStrategy: (times) => (times > 3 ? null : 200 * times),
  };
}
