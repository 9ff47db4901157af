import { createRequire } from 'node:module';
import type * as IORedis from 'ioredis';
import type { Redis, RedisOptions } from 'ioredis';
import { redactSecrets } from '@siglip-batch/io/secret-redaction';
import { RedisUnreachableError } from './redis-unreachable-error';

// ioredis (CommonJS, no `exports` map: the instance `import` gets) is loaded when a connection is
// opened, not at import: ~0.1–0.3 s of start-up (--cpu-prof) for `embed`, which never uses Redis.
const requireIoredis = createRequire(import.meta.url);

/**
 * Opens a connection and checks what the pipeline needs of Redis: it answers, the credentials
 * are accepted, and `maxmemory-policy` is `noeviction` (an evicting Redis silently drops
 * queued jobs and locks). Throws with a message naming the problem; never shows a password.
 */
export async function connectCheckedRedis(url: string, options: RedisOptions, checkPolicy = true): Promise<Redis> {
  const shown = redactSecrets(url);
  let redis: Redis;
  try {
    redis = new ((requireIoredis('ioredis') as typeof IORedis).Redis)(url, { ...options, lazyConnect: true });
  } catch (error) {
    // ioredis parses the URL at once; Node's bare "Invalid URL" would not say which one.
    throw new Error(`${shown} is not a valid Redis URL (${(error as Error).message}): expected a URL such as redis://127.0.0.1:6379/0 or rediss://host:6380, with a password in its user-info or a password query parameter`);
  }
  let lastError: Error | undefined;
  redis.on('error', (error: Error) => {
    lastError = error;
  });
  try {
    await withTimeout(redis.connect(), 8000, `Redis at ${shown} did not answer within 8 s`);
    await redis.ping();
  } catch (error) {
    redis.disconnect();
    // ioredis rejects connect() with a bare "Connection is closed." when the server hangs up
    // (e.g. after refusing AUTH); the reason itself arrived as an 'error' event.
    const closed = /Connection is closed/i.test((error as Error | undefined)?.message ?? '');
    const cause = closed && lastError ? lastError : ((error as Error | undefined) ?? lastError);
    const message = describeRedisError(cause, shown);
    // ioredis messages may quote the URL or an option parsed from it. Refused credentials are
    // a configuration to fix; anything else may pass (Redis restarting, a network blip).
    if (REFUSED_CREDENTIALS.test(cause?.message ?? '')) throw new Error(redactSecrets(message));
    throw new RedisUnreachableError(redactSecrets(message));
  }
  if (checkPolicy) {
    const policy = await maxmemoryPolicy(redis);
    if (policy !== undefined && policy !== 'noeviction') {
      redis.disconnect();
      throw new Error(
        `Redis at ${shown} has maxmemory-policy ${policy}; BullMQ needs noeviction (an evicting Redis drops queued jobs): ` +
          'set `maxmemory-policy noeviction` in redis.conf or with CONFIG SET',
      );
    }
  }
  return redis;
}

/** The eviction policy, from INFO (works where CONFIG is disabled, as on managed Redis). */
export async function maxmemoryPolicy(redis: Redis): Promise<string | undefined> {
  const info = await redis.info('memory');
  const match = /^maxmemory_policy:(\S+)/m.exec(info);
  return match?.[1];
}


const REFUSED_CREDENTIALS = /WRONGPASS|NOAUTH|invalid password|invalid username-password/i;

function describeRedisError(error: Error | undefined, shown: string): string {
  const text = error?.message ?? 'unknown error';
  if (REFUSED_CREDENTIALS.test(text)) {
    return `Redis at ${shown} refused the credentials (wrong password or user): set them in REDIS_URL`;
  }
  if (/ECONNREFUSED/.test(text)) return `Redis is not reachable at ${shown} (connection refused): is redis-server running?`;
  if (/ENOTFOUND|EAI_AGAIN/.test(text)) return `Redis host of ${shown} cannot be resolved`;
  return `Redis is not reachable at ${shown}: ${text}`;
}

function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
