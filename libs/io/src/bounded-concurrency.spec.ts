import { describe, expect, it } from 'vitest';
import { forEachBounded, mapBounded, range } from './bounded-concurrency';

/** A call of the pool held open until the test settles it. */
interface Call {
  item: number;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** A `fn` whose calls stay in flight until released, recording how many ran at once. */
function heldCalls() {
  const calls: Call[] = [];
  let inFlight = 0;
  let peak = 0;
  const fn = (item: number): Promise<void> => {
    inFlight++;
    peak = Math.max(peak, inFlight);
    return new Promise<void>((resolve, reject) => {
      calls.push({ item, resolve, reject });
    }).finally(() => inFlight--);
  };
  return { calls, fn, started: () => calls.map((call) => call.item), peak: () => peak };
}

/** Lets every pending promise callback run (no timers involved). */
async function settle(): Promise<void> {
  for (let i = 0; i < 20; i++) await Promise.resolve();
}

/** Settles the oldest call still open (resolving or rejecting it), then lets the pool move on. */
async function release(calls: Call[], item: number, error?: Error): Promise<void> {
  const call = calls.find((c) => c.item === item)!;
  if (error) call.reject(error);
  else call.resolve();
  await settle();
}

describe('forEachBounded', () => {
  it('keeps at most `concurrency` calls in flight and takes items in order', async () => {
    const { calls, fn, started, peak } = heldCalls();
    const done = forEachBounded([0, 1, 2, 3, 4, 5, 6], 3, fn);
    await settle();
    expect(started()).toEqual([0, 1, 2]);
    await release(calls, 1);
    expect(started()).toEqual([0, 1, 2, 3]);
    for (const item of [0, 2, 3, 4, 5, 6]) await release(calls, item);
    await done;
    expect(started()).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(peak()).toBe(3);
  });

  it('reads an async iterable only as lanes free up', async () => {
    let pulled = 0;
    async function* source() {
      for (let i = 0; i < 5; i++) {
        pulled++;
        yield i;
      }
    }
    const { calls, fn } = heldCalls();
    const done = forEachBounded(source(), 2, fn);
    await settle();
    expect(pulled).toBe(2);
    await release(calls, 0);
    expect(pulled).toBe(3);
    for (const item of [1, 2, 3, 4]) await release(calls, item);
    await done;
    expect(pulled).toBe(5);
  });

  it('on the first error takes no new item and rejects with it once the calls in flight settle', async () => {
    const { calls, fn, started } = heldCalls();
    let outcome: string | undefined;
    const done = forEachBounded(range(10), 3, fn).then(
      () => (outcome = 'resolved'),
      (error: Error) => (outcome = error.message),
    );
    await settle();
    await release(calls, 1, new Error('first'));
    expect(started()).toEqual([0, 1, 2]);
    expect(outcome).toBeUndefined();
    await release(calls, 2, new Error('second'));
    expect(outcome).toBeUndefined();
    await release(calls, 0);
    await done;
    expect(outcome).toBe('first');
    expect(started()).toEqual([0, 1, 2]);
  });

  it("closes a generator it stops early (its finally runs)", async () => {
    let closed = false;
    function* source() {
      try {
        for (let i = 0; ; i++) yield i;
      } finally {
        closed = true;
      }
    }
    await expect(
      forEachBounded(source(), 2, async (item) => {
        if (item === 3) throw new Error('stop');
      }),
    ).rejects.toThrow('stop');
    expect(closed).toBe(true);
  });

  it('rejects with the error of the iterable itself after the calls in flight settle', async () => {
    async function* source() {
      yield 0;
      throw new Error('listing failed');
    }
    const { calls, fn } = heldCalls();
    let outcome: string | undefined;
    const done = forEachBounded(source(), 2, fn).catch((error: Error) => (outcome = error.message));
    await settle();
    expect(outcome).toBeUndefined();
    await release(calls, 0);
    await done;
    expect(outcome).toBe('listing failed');
  });

  it('passes each item its position and does nothing for no items', async () => {
    const seen: string[] = [];
    await forEachBounded(['a', 'b', 'c'], 2, async (item, index) => {
      seen.push(`${index}:${item}`);
    });
    expect(seen.sort()).toEqual(['0:a', '1:b', '2:c']);
    await forEachBounded([], 4, () => Promise.reject(new Error('never called')));
  });

  it.each([0, -1, 1.5, Number.NaN])('refuses a concurrency of %s', async (concurrency) => {
    await expect(forEachBounded([1], concurrency, async () => undefined)).rejects.toThrow(RangeError);
  });
});

describe('mapBounded', () => {
  it('keeps results at their items’ positions whatever order the calls finish in', async () => {
    const pending = new Map<number, (value: string) => void>();
    const results = mapBounded([0, 1, 2, 3], 4, (item) => new Promise<string>((resolve) => pending.set(item, resolve)));
    await settle();
    for (const item of [3, 1, 0, 2]) pending.get(item)!(`r${item}`);
    expect(await results).toEqual(['r0', 'r1', 'r2', 'r3']);
  });

  it('rejects with the first error', async () => {
    await expect(
      mapBounded([1, 2, 3], 1, async (item) => {
        if (item >= 2) throw new Error(`item ${item}`);
        return item;
      }),
    ).rejects.toThrow('item 2');
  });
});

describe('range', () => {
  it('counts from 0 up to, not including, its argument', () => {
    expect([...range(4)]).toEqual([0, 1, 2, 3]);
    expect([...range(0)]).toEqual([]);
  });
});
