/**
 * Bounded concurrency: the one lane pool of the repository. Items are taken in order, at most
 * `concurrency` calls of `fn` are in flight, and an iterable is read only as lanes free up (an
 * async generator over a listing is never read ahead). On the first error no new item is taken;
 * the returned promise rejects with that error once the calls in flight have settled, so nothing
 * of the pool still runs when the caller sees the failure. A caller that must go on past a
 * failed item catches inside `fn`.
 */
export async function forEachBounded<T>(
  items: Iterable<T> | AsyncIterable<T>,
  concurrency: number,
  fn: (item: T, index: number) => Promise<void>,
): Promise<void> {
  if (!(Number.isInteger(concurrency) && concurrency >= 1)) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  const iterator: Iterator<T> | AsyncIterator<T> = isAsyncIterable(items) ? items[Symbol.asyncIterator]() : items[Symbol.iterator]();
  let failure: { error: unknown } | undefined;
  let exhausted = false;
  let taken = 0;
  // Pulls are chained: an async iterator is never asked for its next item while a pull is pending.
  let pulls: Promise<unknown> = Promise.resolve();
  const take = (): Promise<{ item: T; index: number } | undefined> => {
    const pull = pulls.then(async () => {
      if (exhausted || failure) return undefined;
      const result = await iterator.next();
      if (result.done) {
        exhausted = true;
        return undefined;
      }
      return { item: result.value, index: taken++ };
    });
    pulls = pull.catch(() => undefined);
    return pull;
  };
  const lane = async (): Promise<void> => {
    while (!failure) {
      let next;
      try {
        next = await take();
      } catch (error) {
        exhausted = true; // the iterable itself failed: it has nothing more to give
        failure ??= { error };
        return;
      }
      if (!next) return;
      try {
        await fn(next.item, next.index);
      } catch (error) {
        failure ??= { error };
      }
    }
  };
  const lanes = Array.isArray(items) ? Math.min(concurrency, items.length) : concurrency;
  await Promise.all(Array.from({ length: lanes }, lane));
  if (!failure) return;
  // Stopped early: let a generator run its `finally` (close a listing, a file).
  if (!exhausted) {
    try {
      await iterator.return?.();
    } catch {
      // The first error is the one to report.
    }
  }
  throw failure.error;
}

/**
 * {@link forEachBounded} over an array, keeping each result at its item's position. The same
 * first-error rule: no new item after a failure, the rejection once the calls in flight settle.
 */
export async function mapBounded<T, R>(items: readonly T[], concurrency: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  await forEachBounded(items, concurrency, async (item, index) => {
    results[index] = await fn(item, index);
  });
  return results;
}

/** The integers `0 … count - 1`, lazily: a pool over numbered units without a list of them. */
export function* range(count: number): Generator<number> {
  for (let i = 0; i < count; i++) yield i;
}

function isAsyncIterable<T>(items: Iterable<T> | AsyncIterable<T>): items is AsyncIterable<T> {
  return typeof (items as AsyncIterable<T>)[Symbol.asyncIterator] === 'function';
}
