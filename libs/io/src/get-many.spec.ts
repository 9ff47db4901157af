/** fetchMany, the bounded fetch loop of both stores, against a fetch function it does not know. */
import { describe, expect, it } from 'vitest';
import { fetchMany } from './get-many';
import type { GetOptions, StoredObject } from './object-store';
import { ObjectStoreError } from './object-store-error';

interface Gate {
  key: string;
  options: GetOptions;
  resolve(): void;
  reject(error: unknown): void;
}

/** A fetch whose calls wait until the test lets them go (`releaseAll`: every call, now and later). */
function gatedFetch() {
  const calls: Gate[] = [];
  let released = false;
  const fetch = (key: string, options: GetOptions) =>
    new Promise<StoredObject>((resolve, reject) => {
      const call = { key, options, resolve: () => resolve({ bytes: Buffer.from(key), info: { key, size: key.length, etag: `e-${key}` } }), reject };
      calls.push(call);
      if (released) call.resolve();
    });
  const releaseAll = () => {
    released = true;
    for (const call of calls) call.resolve();
  };
  return { calls, fetch, releaseAll };
}

const tick = () => new Promise((resolve) => setImmediate(resolve));
const keys = (n: number) => Array.from({ length: n }, (_, i) => ({ key: `k${i}` }));

describe('fetchMany', () => {
  it('keeps at most `concurrency` objects between "fetch started" and "result taken", and yields each once', async () => {
    const { calls, fetch, releaseAll } = gatedFetch();
    const iterator = fetchMany(fetch, keys(7), { concurrency: 3 })[Symbol.asyncIterator]();
    const first = iterator.next();
    await tick();
    expect(calls.map((c) => c.key)).toEqual(['k0', 'k1', 'k2']);
    // Results that are not taken yet still count: settling them starts nothing new.
    calls[1]!.resolve();
    calls[2]!.resolve();
    await tick();
    expect(calls).toHaveLength(3);
    expect((await first).value).toMatchObject({ ok: true, item: { key: 'k1' }, etag: 'e-k1' });
    expect((await iterator.next()).value).toMatchObject({ item: { key: 'k2' } });
    expect(calls).toHaveLength(3);
    // Once they are taken, the next objects start (k0 still in flight).
    const third = iterator.next();
    await tick();
    expect(calls.map((c) => c.key)).toEqual(['k0', 'k1', 'k2', 'k3', 'k4']);
    calls[0]!.resolve();
    expect((await third).value).toMatchObject({ item: { key: 'k0' } });
    const seen = ['k1', 'k2', 'k0'];
    releaseAll();
    for (;;) {
      const next = await iterator.next();
      if (next.done) break;
      seen.push(next.value.item.key);
      expect(calls.length - seen.length).toBeLessThanOrEqual(3);
    }
    expect(seen.sort()).toEqual(keys(7).map((k) => k.key));
  });

  it('turns a failed fetch into a result and ends with the error of a failing item source', async () => {
    const fetch = async (key: string): Promise<StoredObject> => {
      if (key === 'gone') throw new ObjectStoreError('not_found', key, 'gone: no such object');
      if (key === 'bad') throw new ObjectStoreError('invalid_key', key, 'bad key');
      return { bytes: Buffer.from(key), info: { key, size: key.length, etag: 'e' } };
    };
    const results = [];
    for await (const result of fetchMany(fetch, [{ key: 'a' }, { key: 'gone' }, { key: 'bad' }], { concurrency: 2 })) results.push(result);
    expect(results.map((r) => (r.ok ? `${r.item.key} ok` : `${r.item.key} ${r.code} ${r.transient}`)).sort()).toEqual([
      'a ok',
      'bad not_found false',
      'gone not_found false',
    ]);

    const failing = (async function* () {
      yield { key: 'a' };
      throw new Error('the source broke');
    })();
    await expect(
      (async () => {
        for await (const _ of fetchMany(fetch, failing, { concurrency: 2 })) void _;
      })(),
    ).rejects.toThrow('the source broke');
  });

  it("ends with the caller's abort, aborting the fetches in flight", async () => {
    const { calls, fetch } = gatedFetch();
    const controller = new AbortController();
    const iterator = fetchMany(fetch, keys(5), { concurrency: 2, signal: controller.signal })[Symbol.asyncIterator]();
    const next = iterator.next();
    await tick();
    expect(calls).toHaveLength(2);
    controller.abort();
    await expect(next).rejects.toMatchObject({ name: 'AbortError' });
    expect(calls.every((call) => call.options.signal?.aborted)).toBe(true);
  });

  it('stopping early aborts the fetches in flight and closes the item source', async () => {
    const { calls, fetch } = gatedFetch();
    let closed = false;
    const source = (async function* () {
      try {
        for (const item of keys(10)) yield item;
      } finally {
        closed = true;
      }
    })();
    const iterator = fetchMany(fetch, source, { concurrency: 3 })[Symbol.asyncIterator]();
    const first = iterator.next();
    await tick();
    calls[0]!.resolve();
    expect((await first).value).toMatchObject({ item: { key: 'k0' } });
    await iterator.return!(undefined);
    expect(closed).toBe(true);
    expect(calls.slice(1).every((call) => call.options.signal?.aborted)).toBe(true);
  });

  it('refuses a concurrency that is not a positive integer', async () => {
    await expect(fetchMany(async () => ({ bytes: Buffer.alloc(0), info: { key: '', size: 0, etag: '' } }), [], { concurrency: 0 }).next()).rejects.toThrow(RangeError);
  });
});
