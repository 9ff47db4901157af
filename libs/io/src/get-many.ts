/**
 * Bounded-concurrency fetching shared by both stores: at most `concurrency` objects in flight,
 * results yielded as they complete, one result per item whatever happens to it. Only the
 * caller's signal (or a failing item source) ends the iteration with an exception.
 */
import type { FetchResult, GetManyOptions, GetOptions, StoredObject } from './object-store';
import { isAbortError, ObjectStoreError } from './object-store-error';

type Fetch = (key: string, options: GetOptions) => Promise<StoredObject>;

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

  const iterator = Symbol.asyncIterator in items ? items[Symbol.asyncIterator]() : toAsync(items[Symbol.iterator]());
  // Settled fetches in the order they settled, not yet yielded. Each fetch and each pull of the
  // next item wakes the loop once: no Promise.race over everything in flight per object, whose
  // reactions piled up on the promises still pending (CPU per object on the shard's thread).
  const settled: Array<FetchResult<T>> = [];
  // Started and not yet yielded: bounded by `concurrency`.
  let active = 0;
  let pulling = false;
  let exhausted = false;
  let pullFailure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const resolve = wake;
    wake = undefined;
    resolve?.();
  };
  signal.addEventListener('abort', notify, { once: true });

  const start = (item: T): void => {
    active++;
    void fetchOne(fetch, item, { maxBytes, signal }).then((result) => {
      settled.push(result);
      notify();
    });
  };
  const pull = (): void => {
    pulling = true;
    iterator.next().then(
      (next) => {
        pulling = false;
        if (next.done) exhausted = true;
        else if (!signal.aborted) start(next.value);
        notify();
      },
      (error: unknown) => {
        pulling = false;
        pullFailure = { error };
        notify();
      },
    );
  };

  try {
    for (;;) {
      signal.throwIfAborted();
      if (pullFailure) throw pullFailure.error;
      if (settled.length > 0) {
        active--;
        yield settled.shift()!;
        continue;
      }
      if (!exhausted && !pulling && active < concurrency) pull();
      if (exhausted && !pulling && active === 0) return;
      await new Promise<void>((resolve) => {
        wake = resolve;
      });
    }
  } finally {
    signal.removeEventListener('abort', notify);
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
