import { randomBytes } from 'node:crypto';
import type { Redis } from 'ioredis';

const RELEASE = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const RENEW = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

/**
 * A lease on planning one run, so that the same run enqueued twice at the same time gets one
 * plan: the second producer waits for the first and then finds the work already planned.
 * The lease expires on its own if its holder dies.
 */
export class RunLock {
  private timer: NodeJS.Timeout | undefined;
  private readonly token = randomBytes(12).toString('hex');

  constructor(
    private readonly redis: Redis,
    private readonly key: string,
    private readonly ttlMs = 30_000,
  ) {}

  async tryAcquire(): Promise<boolean> {
    const ok = await this.redis.set(this.key, this.token, 'PX', this.ttlMs, 'NX');
    if (ok !== 'OK') return false;
    this.timer = setInterval(() => {
      this.redis.eval(RENEW, 1, this.key, this.token, this.ttlMs).catch(() => undefined);
    }, Math.floor(this.ttlMs / 3));
    this.timer.unref();
    return true;
  }

  /** Waits until acquired; `onWait` is called once if another holder has it. */
  async acquire(onWait?: () => void, signal?: AbortSignal): Promise<void> {
    let told = false;
    while (!(await this.tryAcquire())) {
      if (!told) onWait?.();
      told = true;
      if (signal?.aborted) throw signal.reason;
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }

  async release(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.redis.eval(RELEASE, 1, this.key, this.token);
  }
}
