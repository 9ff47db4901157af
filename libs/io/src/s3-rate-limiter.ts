/**
 * A fleet-wide budget of S3 requests per second, shared through Redis (`--s3-rps`).
 *
 * One budget per fleet, not per bucket or endpoint: every process using the same Redis, the
 * same BullMQ prefix and the same budget name (`--s3-rps-key`, default `default`) shares it,
 * whatever bucket a request goes to. That makes `--s3-rps` the number an operator sets against
 * what they pay for or what a server can take ("this fleet makes at most n requests per
 * second"); fleets that talk to different endpoints take different names.
 *
 * The budget is a token bucket held in one Redis hash and spent by one Lua script, so that
 * processes never race: `burst` tokens at most, refilled at `rps` per second, on Redis's own
 * clock (`TIME`: the processes' clocks never matter). In any window of T seconds at most
 * `rps × T + burst` tokens are granted. The script also counts its grants per second of Redis
 * time (`…:grants:<unix second>` keys, kept for `countersTtlSeconds`): the limiter's own
 * account, which tests and operators can read back.
 *
 * Waiting never blocks: a denied request sleeps (a timer) for as long as the script says a
 * token takes, then asks again; BullMQ's lock renewal and everything else go on meanwhile.
 *
 * Redis lost: the limiter's connection must fail fast ({@link rateLimiterRedisOptions}: no
 * offline queue, a command timeout). Like the worker, the limiter keeps trying while Redis is
 * away — it reports the loss once (`unavailable` event, logged by the worker) and its recovery —
 * but a request waits for at most `unavailableTimeoutMs`, then fails with
 * {@link RateLimiterUnavailableError}: a transient fault, never a silent hang and never a
 * request sent without a token.
 *
 * Standalone Redis only (as BullMQ's own scripts): the counter keys are built in the script.
 */
import type { Redis, RedisOptions } from 'ioredis';
import { createHash } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { RateLimiterUnavailableError } from './rate-limiter-unavailable-error';

export interface S3RateLimiterOptions {
  /** Requests per second for the whole fleet sharing the budget. */
  rps: number;
  /**
   * Tokens the bucket holds: requests that may go at once after a quiet spell.
   * @defaultValue `rps` (one second's worth)
   */
  burst?: number;
  /** BullMQ key prefix: the budget lives under it. */
  prefix: string;
  /**
   * Name of the budget; processes with the same prefix and name share it.
   * @defaultValue 'default'
   */
  name?: string;
  /**
   * How long one request may wait for Redis to answer again before it fails.
   * @defaultValue 30000
   */
  unavailableTimeoutMs?: number;
  /**
   * Seconds the per-second grant counters are kept.
   * @defaultValue 600
   */
  countersTtlSeconds?: number;
  onEvent?: (event: RateLimiterEvent) => void;
}

export type RateLimiterEvent =
  | { type: 'granted'; waitedMs: number; denials: number }
  | { type: 'unavailable'; error: string }
  | { type: 'recovered'; afterMs: number };

/** Counters of this process's limiter since it started. */
export interface RateLimiterCounts {
  granted: number;
  /** Grants that had to wait (at least one denial first). */
  waited: number;
  /** Denials: asks answered "not yet". */
  denied: number;
  /** Requests failed because Redis did not answer in time. */
  failed: number;
  waitedMs: number;
}

/**
 * ioredis options for the limiter's own connection: commands fail at once while disconnected
 * (no offline queue) and after `commandTimeoutMs` on a server that does not answer; the
 * connection itself keeps reconnecting, as the worker's does.
 */
export function rateLimiterRedisOptions(commandTimeoutMs = 2000): RedisOptions {
  return {
    maxRetriesPerRequest: 1,
    enableOfflineQueue: false,
    commandTimeout: commandTimeoutMs,
    connectTimeout: 5000,
    retryStrategy: (times) => Math.min(100 * 2 ** Math.min(times, 6), 5000),
  };
}

/** `--s3-rps` and `--s3-burst`: a positive number (fractions allowed, e.g. 0.5 = one every 2 s). */
export function parseRequestsPerSecond(flag: string, value: string): number {
  const n = Number(value.trim());
  if (value.trim() === '' || !Number.isFinite(n) || n <= 0) {
    throw new Error(`${flag} must be a positive number of requests per second, got ${JSON.stringify(value)}`);
  }
  return n;
}

function s3RateLimitKey(prefix: string, name = 'default'): string {
  return `${prefix}:siglip:s3-rps:${name}`;
}

/** Prefix of the per-second grant counters: `<key>:grants:<unix second of Redis time>`. */
function s3RateGrantsPrefix(prefix: string, name = 'default'): string {
  return `${s3RateLimitKey(prefix, name)}:grants:`;
}

// KEYS[1]: the bucket hash; KEYS[2]: prefix of the per-second grant counters.
// ARGV: rate (tokens/s), burst (capacity), counter TTL (s). Returns {granted 0|1, wait µs}.
const TAKE_TOKEN = `
if redis.replicate_commands then redis.replicate_commands() end
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local ttl = tonumber(ARGV[3])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(state[1])
local at = tonumber(state[2])
if tokens == nil or at == nil then
  tokens = burst
  at = now
end
if now > at then
  tokens = math.min(burst, tokens + (now - at) * rate / 1000000)
else
  now = at
end
local granted = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  granted = 1
  local counter = KEYS[2] .. t[1]
  redis.call('INCR', counter)
  redis.call('EXPIRE', counter, ttl)
else
  wait = math.ceil((1 - tokens) * 1000000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 60000)
return {granted, wait}
`;
const TAKE_TOKEN_SHA = createHash('sha1').update(TAKE_TOKEN).digest('hex');

export class S3RateLimiter {
  readonly rps: number;
  readonly burst: number;
  readonly key: string;
  private readonly grantsPrefix: string;
  private readonly unavailableTimeoutMs: number;
  private readonly countersTtl: number;
  private readonly counts: RateLimiterCounts = { granted: 0, waited: 0, denied: 0, failed: 0, waitedMs: 0 };
  private unavailableSince: number | undefined;
  private closed = false;

  /**
   * `connection`: a connection of the limiter's own, made with {@link rateLimiterRedisOptions}
   * (a BullMQ connection queues commands while Redis is away: a request would hang).
   */
  constructor(
    readonly connection: Redis,
    private readonly options: S3RateLimiterOptions,
  ) {
    if (!(options.rps > 0) || !Number.isFinite(options.rps)) throw new RangeError(`rps must be a positive number, got ${options.rps}`);
    this.rps = options.rps;
    this.burst = options.burst ?? options.rps;
    if (!(this.burst >= 1) || !Number.isFinite(this.burst)) throw new RangeError(`burst must be at least 1, got ${this.burst}`);
    this.key = s3RateLimitKey(options.prefix, options.name);
    this.grantsPrefix = s3RateGrantsPrefix(options.prefix, options.name);
    this.unavailableTimeoutMs = options.unavailableTimeoutMs ?? 30_000;
    this.countersTtl = options.countersTtlSeconds ?? 600;
    // Connection errors are seen through failing commands; an unhandled 'error' event would
    // only print ioredis's warnings.
    connection.on('error', () => undefined);
  }

  /** This process's counters (Prometheus reads them). */
  stats(): Readonly<RateLimiterCounts> {
    return { ...this.counts };
  }

  /** Resolves when a token was taken; use as libs/io's `beforeRequest` gate. */
  readonly acquire = async (): Promise<void> => {
    const started = performance.now();
    let denials = 0;
    let failures = 0;
    let failingSince: number | undefined;
    for (;;) {
      if (this.closed) throw new RateLimiterUnavailableError('the S3 rate limiter is closed');
      let reply: [number, number];
      try {
        reply = await this.take();
      } catch (error) {
        const now = performance.now();
        failingSince ??= now;
        this.noteUnavailable(error);
        if (now - failingSince >= this.unavailableTimeoutMs) {
          this.counts.failed++;
          throw new RateLimiterUnavailableError(
            `S3 rate limiter: Redis did not answer for ${Math.round((now - failingSince) / 1000)} s (${(error as Error).message}); the request was not sent`,
          );
        }
        await sleep(Math.min(1000, 50 * 2 ** failures++));
        continue;
      }
      this.noteAvailable();
      failingSince = undefined;
      const [granted, waitUs] = reply;
      if (granted === 1) {
        const waitedMs = performance.now() - started;
        this.counts.granted++;
        if (denials > 0) {
          this.counts.waited++;
          this.counts.waitedMs += waitedMs;
        }
        this.options.onEvent?.({ type: 'granted', waitedMs, denials });
        return;
      }
      denials++;
      this.counts.denied++;
      // A little jitter, so that processes denied together do not all ask again together.
      const waitMs = Math.max(1, waitUs / 1000) * (1 + Math.random() * 0.2);
      await sleep(waitMs);
    }
  };

  private async take(): Promise<[number, number]> {
    const keys = [this.key, this.grantsPrefix];
    const args = [String(this.rps), String(this.burst), String(this.countersTtl)];
    try {
      return (await this.connection.evalsha(TAKE_TOKEN_SHA, keys.length, ...keys, ...args)) as [number, number];
    } catch (error) {
      if (!/NOSCRIPT/.test((error as Error).message)) throw error;
      return (await this.connection.eval(TAKE_TOKEN, keys.length, ...keys, ...args)) as [number, number];
    }
  }

  private noteUnavailable(error: unknown): void {
    if (this.unavailableSince !== undefined) return;
    this.unavailableSince = performance.now();
    this.options.onEvent?.({ type: 'unavailable', error: (error as Error).message });
  }

  private noteAvailable(): void {
    if (this.unavailableSince === undefined) return;
    const afterMs = performance.now() - this.unavailableSince;
    this.unavailableSince = undefined;
    this.options.onEvent?.({ type: 'recovered', afterMs });
  }

  /** Requests waiting from now on fail; the connection is the caller's to close. */
  close(): void {
    this.closed = true;
  }
}

/** Grants per second of Redis time recorded under a budget (for tests and operators). */
export async function readGrantCounts(redis: Redis, prefix: string, name = 'default'): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  const match = `${s3RateGrantsPrefix(prefix, name)}*`;
  let cursor = '0';
  do {
    const [next, keys] = await redis.scan(cursor, 'MATCH', match, 'COUNT', 1000);
    cursor = next;
    if (keys.length === 0) continue;
    const values = await redis.mget(...keys);
    keys.forEach((key, i) => counts.set(Number(key.slice(key.lastIndexOf(':') + 1)), Number(values[i] ?? 0)));
  } while (cursor !== '0');
  return counts;
}
