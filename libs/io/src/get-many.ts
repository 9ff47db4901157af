/**
 * Bounded-concurrency fetching shared by both stores: at most `concurrency` objects in flight,
 * results yielded as they complete, one result per item whatever happens to it. Only the
 * caller's signal (or a failing item source) ends the iteration with an exception.
 */
import type { FetchResult, GetManyOptions, GetOptions, StoredObject } from './object-store';
import { isAbortError, ObjectStoreError } from './object-store-error';

type Fetch = (key: string, options: GetOptions) => Promise<StoredObject>;

type Settled<T> = { kind: 'result'; id: number; result: FetchResult<T> } | { kind: 'next'; next: IteratorResult<T> };

export async function* fetchMany<T extends { key: string }>(
  fetch: Fetch,
  items: Iterable<T> | AsyncIterable<T>,
  options: GetManyOptions,
): AsyncGenerator<FetchResult<T>> {
  const { concurrency, maxBytes } = options;
  if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError(`concurrency must be a positive integer, got ${concurrency}`);
  options.signal?.throwIfAborted();
  // Our own controller stops in-flight fetches when the consumer stops early.
  const stop = new AbortController();
  const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
  const aborted = new Promise<never>((_, reject) => {
    signal.addEventListener('abort', () => reject(signal.reason), { once: true });
  });
  aborted.catch(() => undefined);

  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : toAsync(items[Symbol.iterator]());
  const inFlight = new Map<number, Promise<Settled<T>>>();
  let pendingNext: Promise<Settled<T>> | undefined;
  let exhausted = false;
  let nextId = 0;

  const start = (item: T): void => {
    const id = nextId++;
    const settled = fetchOne(fetch, item, { maxBytes, signal }).then((result): Settled<T> => ({ kind: 'result', id, result }));
    inFlight.set(id, settled);
  };

  try {
    for (;;) {
      if (!exhausted && !pendingNext && inFlight.size < concurrency) {
        pendingNext = iterator.next().then((next): Settled<T> => ({ kind: 'next', next }));
      }
      if (!pendingNext && inFlight.size === 0) return;
      const contenders: Promise<Settled<T>>[] = [...inFlight.values(), aborted];
      if (pendingNext) contenders.push(pendingNext);
      const settled = await Promise.race(contenders);
      if (settled.kind === 'next') {
        pendingNext = undefined;
        if (settled.next.done) exhausted = true;
        else start(settled.next.value);
        continue;
      }
      inFlight.delete(settled.id);
      signal.throwIfAborted();
      yield settled.result;
    }
  } finally {
    stop.abort();
    if (!exhausted) await iterator.return?.();
  }
}

async function fetchOne<T extends { key: string }>(fetch: Fetch, item: T, options: GetOptions): Promise<FetchResult<T>> {
  try {
    const { bytes, info } = await fetch(item.key, options);
    return { item, ok: true, bytes, etag: info.etag, size: info.size };
  } catch (error) {
    if (error instanceof ObjectStoreError) {
      // A key the store cannot hold names no object: not found, permanently.
      const code = error.code === 'invalid_key' ? 'not_found' : error.code;
      return { item, ok: false, code, transient: error.transient, message: error.message };
    }
    // Aborts surface from the main loop; anything unexpected is not data (architecture §3).
    const message = isAbortError(error) ? 'aborted' : `unexpected error reading ${item.key}: ${String(error)}`;
    return { item, ok: false, code: 'transient', transient: true, message };
  }
}

function toAsync<T>(iterator: Iterator<T>): AsyncIterator<T> {
  return {
    next: async () => iterator.next(),
    return: async (value?: unknown) => iterator.return?.(value) ?? { done: true, value: undefined },
  };
}
