/** A counting semaphore for bounding work in flight; `cancel` fails every waiter. */
export class Semaphore {
  private waiters: Array<{ resolve: () => void; reject: (error: unknown) => void }> = [];
  private cancelled: { error: unknown } | undefined;

  constructor(private available: number) {}

  async acquire(): Promise<void> {
    if (this.cancelled) throw this.cancelled.error;
    if (this.available > 0) {
      this.available--;
      return;
    }
    await new Promise<void>((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next.resolve();
    else this.available++;
  }

  cancel(error: unknown): void {
    this.cancelled = { error };
    for (const waiter of this.waiters.splice(0)) waiter.reject(error);
  }
}

/** An unbounded async queue: producers push, one consumer iterates until `end()` or `fail()`. */
export class AsyncQueue<T> implements AsyncIterable<T> {
  private items: T[] = [];
  private waiter: { resolve: (result: IteratorResult<T>) => void; reject: (error: unknown) => void } | undefined;
  private ended = false;
  private failed = false;
  private failure: unknown;

  push(item: T): void {
    const waiter = this.waiter;
    if (waiter) {
      this.waiter = undefined;
      waiter.resolve({ value: item, done: false });
    } else {
      this.items.push(item);
    }
  }

  end(): void {
    this.ended = true;
    this.settleWaiter();
  }

  fail(error: unknown): void {
    this.failed = true;
    this.failure = error;
    this.settleWaiter();
  }

  private settleWaiter(): void {
    const waiter = this.waiter;
    if (!waiter) return;
    this.waiter = undefined;
    if (this.failed) waiter.reject(this.failure);
    else waiter.resolve({ value: undefined, done: true });
  }

  [Symbol.asyncIterator](): AsyncIterator<T> {
    return {
      next: () => {
        if (this.items.length > 0) return Promise.resolve({ value: this.items.shift()!, done: false });
        if (this.failed) return Promise.reject(this.failure);
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((resolve, reject) => {
          this.waiter = { resolve, reject };
        });
      },
    };
  }
}
