/**
 * One behaviour suite, run against the S3 store (moto) and the local store: both must answer
 * the same table the same way (architecture §3, issue 4).
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import { compareKeys } from './key-order';
import type { ObjectStore } from './object-store';
import { isObjectStoreError, ObjectStoreError } from './object-store-error';
import { describe, expect, forEachBounded, patternBytes, STORE_KINDS, TEST_PART_SIZE } from './testing/store-fixtures';

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const item of iterable) out.push(item);
  return out;
}

async function keysOf(store: ObjectStore, prefix: string, options = {}): Promise<string[]> {
  return (await collect(store.list(prefix, options))).map((info) => info.key);
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}

/** A stream of `total` bytes in `chunk`-sized pieces, pausing between them, failing after `failAfter` bytes if set. */
function slowStream(bytes: Buffer, chunk: number, pauseMs: number, failAfter?: number): Readable {
  return Readable.from(
    (async function* () {
      for (let offset = 0; offset < bytes.length; offset += chunk) {
        if (failAfter !== undefined && offset >= failAfter) throw new Error('source stream broke');
        yield bytes.subarray(offset, Math.min(bytes.length, offset + chunk));
        if (pauseMs > 0) await sleep(pauseMs);
      }
    })(),
    { objectMode: false },
  );
}

for (const [kind, it] of STORE_KINDS) {
  describe(`ObjectStore behaviour: ${kind}`, () => {
    it('lists more than 2,500 keys across pages, each exactly once, in byte order', async ({ store }) => {
      const keys = Array.from({ length: 2600 }, (_, i) => `many/${i % 7 === 0 ? `d${i % 3}/` : ''}${String(i).padStart(5, '0')}.jpg`);
      await forEachBounded(keys, 24, (key) => store.put(key, Buffer.from(key)));
      await store.put('outside/x.jpg', Buffer.from('x'));
      const expected = [...keys].sort(compareKeys);

      const listed = await collect(store.list('many/'));
      expect(listed.map((info) => info.key)).toEqual(expected);
      expect(new Set(listed.map((info) => info.key)).size).toBe(keys.length);
      const first = listed[0]!;
      expect(first.size).toBe(Buffer.byteLength(first.key));
      expect(first.etag).toMatch(/^[0-9a-f-]{16,}$/);

      // Small pages, and startAfter in the middle of a page.
      expect(await keysOf(store, 'many/', { pageSize: 250 })).toEqual(expected);
      const after = expected[1234]!;
      expect(await keysOf(store, 'many/', { startAfter: after })).toEqual(expected.slice(1235));
      expect(await keysOf(store, 'many/', { startAfter: 'many/d' })).toEqual(expected.filter((key) => compareKeys(key, 'many/d') > 0));
      // 2,600 puts and five listings against moto: minutes on a loaded machine, not a hang.
    }, 240_000);

    it('orders keys by UTF-8 bytes, the same in both stores', async ({ store }) => {
      const keys = ['o/a-b.jpg', 'o/a/b.jpg', 'o/a.jpg', 'o/a0', 'o/B.jpg', 'o/é.jpg', 'o/\uFFFD.jpg', 'o/😀.jpg', 'o/a/c/d.png', 'o/ab'];
      for (const key of keys) await store.put(key, Buffer.from('1'));
      const expected = ['o/B.jpg', 'o/a-b.jpg', 'o/a.jpg', 'o/a/b.jpg', 'o/a/c/d.png', 'o/a0', 'o/ab', 'o/é.jpg', 'o/\uFFFD.jpg', 'o/😀.jpg'];
      expect([...keys].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)))).toEqual(expected);
      expect(await keysOf(store, 'o/')).toEqual(expected);
      expect(await keysOf(store, 'o/a')).toEqual(expected.filter((key) => key.startsWith('o/a')));
      expect(await keysOf(store, 'o/', { startAfter: 'o/a.jpg' })).toEqual(expected.slice(3));
      expect(await keysOf(store, 'o/', { startAfter: 'o/a/b.jpg' })).toEqual(expected.slice(4));
    });

    it('filters by suffix (case-insensitive) and by size while listing', async ({ store }) => {
      const objects: Record<string, number> = { 'f/a.jpg': 10, 'f/b.JPG': 10, 'f/big.jpg': 5000, 'f/c.png': 20, 'f/d.txt': 5, 'f/e.jpeg': 5, 'f/jpg': 3 };
      for (const [key, size] of Object.entries(objects)) await store.put(key, Buffer.alloc(size, 1));
      expect(await keysOf(store, 'f/', { suffixes: ['.jpg', '.PNG'] })).toEqual(['f/a.jpg', 'f/b.JPG', 'f/big.jpg', 'f/c.png']);
      expect(await keysOf(store, 'f/', { maxSize: 10 })).toEqual(['f/a.jpg', 'f/b.JPG', 'f/d.txt', 'f/e.jpeg', 'f/jpg']);
      expect(await keysOf(store, 'f/', { suffixes: ['.jpg', '.jpeg'], maxSize: 1000 })).toEqual(['f/a.jpg', 'f/b.JPG', 'f/e.jpeg']);
      expect(await keysOf(store, 'nothing-here/')).toEqual([]);
    });

    it('reports a missing key as not_found, permanently', async ({ store }) => {
      const error = await rejection(store.get('missing/key.jpg'));
      expect(error).toBeInstanceOf(ObjectStoreError);
      expect(error).toMatchObject({ code: 'not_found', transient: false, key: 'missing/key.jpg' });
      expect(await store.head('missing/key.jpg')).toBeUndefined();
      expect(await store.exists('missing/key.jpg')).toBe(false);
      await expect(store.delete('missing/key.jpg')).resolves.toBeUndefined();
    });

    it('refuses an object over maxBytes, and an empty object', async ({ store }) => {
      await store.put('big.bin', patternBytes(300_000));
      await store.put('empty.bin', new Uint8Array(0));
      expect(await rejection(store.get('big.bin', { maxBytes: 1000 }))).toMatchObject({ code: 'too_large_bytes', transient: false });
      expect((await store.get('big.bin', { maxBytes: 300_000 })).length).toBe(300_000);
      expect(await rejection(store.get('empty.bin'))).toMatchObject({ code: 'empty_object', transient: false });
      expect((await store.get('empty.bin', { allowEmpty: true })).length).toBe(0);
      expect(await store.head('empty.bin')).toMatchObject({ key: 'empty.bin', size: 0 });
    });

    it('gets, heads, overwrites and deletes; etag follows the version', async ({ store }) => {
      await store.put('doc/a.json', Buffer.from('{"v":1}'), { contentType: 'application/json' });
      const first = await store.getObject('doc/a.json');
      expect(first.bytes.toString()).toBe('{"v":1}');
      expect(await store.head('doc/a.json')).toMatchObject({ key: 'doc/a.json', size: 7, etag: first.info.etag });
      await sleep(5);
      await store.put('doc/a.json', Buffer.from('{"v":22}'));
      const second = await store.getObject('doc/a.json');
      expect(second.bytes.toString()).toBe('{"v":22}');
      expect(second.info.etag).not.toBe(first.info.etag);
      const listed = await collect(store.list('doc/'));
      expect(listed).toMatchObject([{ key: 'doc/a.json', size: 8, etag: second.info.etag }]);
      await store.delete('doc/a.json');
      expect(await store.exists('doc/a.json')).toBe(false);
    });

    it('streams an object and reads byte ranges of it', async ({ store }) => {
      const bytes = patternBytes(100_000, 7);
      await store.put('r/blob.bin', bytes);
      const chunks: Buffer[] = [];
      for await (const chunk of await store.getStream('r/blob.bin')) chunks.push(chunk as Buffer);
      expect(Buffer.concat(chunks).equals(bytes)).toBe(true);
      const blob = await store.openBlob('r/blob.bin');
      expect(blob.size).toBe(100_000);
      expect(Buffer.from(await blob.slice(1000, 1010).arrayBuffer()).equals(bytes.subarray(1000, 1010))).toBe(true);
      expect(await rejection(store.getStream('r/missing.bin'))).toMatchObject({ code: 'not_found' });
    });

    it('round-trips 20 MB through a streamed (multipart) put', async ({ store }) => {
      const bytes = patternBytes(20 * 1024 * 1024, 3);
      await store.put('large/20mb.bin', slowStream(bytes, 1024 * 1024, 0));
      const got = await store.getObject('large/20mb.bin');
      expect(got.info.size).toBe(bytes.length);
      expect(got.bytes.equals(bytes)).toBe(true);
      // And a byte array over the multipart threshold.
      await store.put('large/array.bin', bytes.subarray(0, 11 * 1024 * 1024));
      expect((await store.get('large/array.bin')).equals(bytes.subarray(0, 11 * 1024 * 1024))).toBe(true);
    });

    it('a put whose stream fails midway leaves no object and nothing half-written', async ({ store }) => {
      const bytes = patternBytes(3 * TEST_PART_SIZE, 4);
      const error = await rejection(store.put('fail/stream.bin', slowStream(bytes, 1024 * 1024, 0, TEST_PART_SIZE + 2 * 1024 * 1024)));
      expect((error as Error).message).toBe('source stream broke');
      expect(await store.exists('fail/stream.bin')).toBe(false);
      expect(await keysOf(store, 'fail/')).toEqual([]);
    });

    it('a put aborted by its signal midway leaves no object', async ({ store }) => {
      const bytes = patternBytes(3 * TEST_PART_SIZE, 5);
      const controller = new AbortController();
      const source = slowStream(bytes, 512 * 1024, 20);
      let sent = 0;
      source.on('data', (chunk: Buffer) => {
        sent += chunk.length;
        if (sent > TEST_PART_SIZE + 1024 * 1024) controller.abort();
      });
      const error = await rejection(store.put('fail/aborted.bin', source, { signal: controller.signal }));
      expect((error as Error).name).toBe('AbortError');
      expect(await store.exists('fail/aborted.bin')).toBe(false);
      expect(await keysOf(store, 'fail/')).toEqual([]);
    });

    it('put is atomic: a concurrent reader sees the old object or the whole new one', async ({ store }) => {
      const before = patternBytes(2 * 1024 * 1024, 8);
      const after = patternBytes(TEST_PART_SIZE + 1024 * 1024, 9);
      await store.put('atomic/x.bin', before);
      let writing = true;
      const seen = new Set<string>();
      const reader = (async () => {
        while (writing) {
          const bytes = await store.get('atomic/x.bin');
          if (bytes.equals(before)) seen.add('before');
          else if (bytes.equals(after)) seen.add('after');
          else throw new Error(`a reader saw ${bytes.length} bytes: neither the old nor the new object`);
          expect(await keysOf(store, 'atomic/')).toEqual(['atomic/x.bin']);
        }
      })();
      await store.put('atomic/x.bin', slowStream(after, 256 * 1024, 10));
      writing = false;
      await reader;
      expect(seen.has('before')).toBe(true);
      expect((await store.get('atomic/x.bin')).equals(after)).toBe(true);
    });

    it('getMany returns one result per item: good, missing, too large, empty', async ({ store }) => {
      for (let i = 0; i < 6; i++) await store.put(`m/good-${i}.jpg`, patternBytes(1000 + i, i + 1));
      await store.put('m/large.jpg', patternBytes(50_000));
      await store.put('m/empty.jpg', new Uint8Array(0));
      const items = [
        ...Array.from({ length: 6 }, (_, i) => ({ key: `m/good-${i}.jpg`, row: i })),
        { key: 'm/missing.jpg', row: 6 },
        { key: 'm/large.jpg', row: 7 },
        { key: 'm/empty.jpg', row: 8 },
      ];
      async function* asyncItems() {
        for (const item of items) yield item;
      }
      for (const source of [items, asyncItems()]) {
        const results = await collect(store.getMany(source, { concurrency: 3, maxBytes: 10_000 }));
        expect(results.map((result) => result.item.row).sort((a, b) => a - b)).toEqual(items.map((item) => item.row));
        const byKey = new Map(results.map((result) => [result.item.key, result]));
        for (let i = 0; i < 6; i++) {
          const result = byKey.get(`m/good-${i}.jpg`)!;
          expect(result.ok).toBe(true);
          if (result.ok) {
            expect(result.bytes.equals(patternBytes(1000 + i, i + 1))).toBe(true);
            expect(result.size).toBe(1000 + i);
            expect(result.etag).toBe((await store.head(`m/good-${i}.jpg`))!.etag);
          }
        }
        expect(byKey.get('m/missing.jpg')).toMatchObject({ ok: false, code: 'not_found', transient: false });
        expect(byKey.get('m/large.jpg')).toMatchObject({ ok: false, code: 'too_large_bytes', transient: false });
        expect(byKey.get('m/empty.jpg')).toMatchObject({ ok: false, code: 'empty_object', transient: false });
      }
      // Stopping early neither hangs nor leaks an unhandled rejection.
      for await (const _ of store.getMany(items, { concurrency: 2 })) break;
      // The caller's signal ends the iteration itself.
      const controller = new AbortController();
      controller.abort();
      await expect(collect(store.getMany(items, { concurrency: 2, signal: controller.signal }))).rejects.toMatchObject({ name: 'AbortError' });
    });

    it('uriOf and keyOf are inverse, with keys that need encoding', async ({ store }) => {
      for (const key of ['plain/a.jpg', 'with space/#hash%20?.jpg', 'unicodé/😀.png']) {
        const uri = store.uriOf(key);
        expect(uri.startsWith(kind === 's3' ? 's3://' : 'file:///')).toBe(true);
        expect(store.keyOf(uri)).toBe(key);
        await store.put(key, Buffer.from(key));
        expect((await store.get(store.keyOf(uri)!)).toString()).toBe(key);
      }
      expect(store.keyOf(kind === 's3' ? 's3://another-bucket/a.jpg' : 'file:///elsewhere/a.jpg')).toBeUndefined();
      expect(store.keyOf('https://example.com/a.jpg')).toBeUndefined();
    });

    it('errors are ObjectStoreErrors with a code, the key and a message naming the object', async ({ store }) => {
      const error = await rejection(store.get('nope/x.jpg'));
      expect(isObjectStoreError(error, 'not_found')).toBe(true);
      expect((error as Error).message).toContain('nope/x.jpg');
      expect((error as Error).name).toBe('ObjectStoreError');
    });
  });
}
