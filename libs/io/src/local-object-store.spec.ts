/** What only the local store has: temp + rename, etag from size + mtime, lazy walk, key validation. */
import { mkdir, readdir, rm, stat, symlink, truncate, utimes, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { LOCAL_TEMP_PREFIX, localEtag, validKey } from './local-object-store';
import { describe, expect, localStoreTest as it, patternBytes } from './testing/store-fixtures';

describe('LocalObjectStore', () => {
  it('put writes a temp file in the destination directory, then renames it over the key', async ({ localStore }) => {
    await localStore.put('a/b/keep.bin', Buffer.from('old'));
    const dir = join(localStore.root, 'a/b');
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const body = Readable.from(
      (async function* () {
        yield Buffer.from('new ');
        await gate;
        yield Buffer.from('content');
      })(),
    );
    const put = localStore.put('a/b/keep.bin', body);
    // While the writer waits for the rest of its stream:
    let names: string[] = [];
    for (let i = 0; i < 100 && !names.some((name) => name.startsWith(LOCAL_TEMP_PREFIX)); i++) {
      await new Promise((resolve) => setTimeout(resolve, 5));
      names = await readdir(dir);
    }
    expect(names.filter((name) => name.startsWith(LOCAL_TEMP_PREFIX))).toHaveLength(1);
    expect((await localStore.get('a/b/keep.bin')).toString()).toBe('old');
    const listed: string[] = [];
    for await (const info of localStore.list('')) listed.push(info.key);
    expect(listed).toEqual(['a/b/keep.bin']);
    release();
    await put;
    expect(await readdir(dir)).toEqual(['keep.bin']);
    expect((await localStore.get('a/b/keep.bin')).toString()).toBe('new content');
  });

  it('skips temp files left by a crashed writer and refuses keys that look like them', async ({ localStore }) => {
    await localStore.put('d/real.jpg', Buffer.from('x'));
    await writeFile(join(localStore.root, 'd', `${LOCAL_TEMP_PREFIX}0123456789abcdef`), 'partial');
    const listed: string[] = [];
    for await (const info of localStore.list('d/')) listed.push(info.key);
    expect(listed).toEqual(['d/real.jpg']);
    await expect(localStore.put(`d/${LOCAL_TEMP_PREFIX}x`, Buffer.from('x'))).rejects.toMatchObject({ code: 'invalid_key' });
  });

  it('getObject closes its file on every outcome: read, too large, empty, not a file', async ({ localStore }) => {
    await localStore.put('fd/good.jpg', patternBytes(3000));
    await localStore.put('fd/large.jpg', patternBytes(5000));
    await localStore.put('fd/empty.jpg', new Uint8Array(0));
    await mkdir(join(localStore.root, 'fd/dir.jpg'));
    const openFiles = async () => (await readdir('/proc/self/fd')).length;
    const before = await openFiles();
    for (let round = 0; round < 20; round++) {
      expect((await localStore.getObject('fd/good.jpg', { maxBytes: 4000 })).bytes.equals(patternBytes(3000))).toBe(true);
      await expect(localStore.getObject('fd/large.jpg', { maxBytes: 4000 })).rejects.toMatchObject({ code: 'too_large_bytes' });
      await expect(localStore.getObject('fd/empty.jpg')).rejects.toMatchObject({ code: 'empty_object' });
      await expect(localStore.getObject('fd/dir.jpg')).rejects.toMatchObject({ code: 'not_found' });
      await expect(localStore.getObject('fd/missing.jpg')).rejects.toMatchObject({ code: 'not_found' });
    }
    const aborted = new AbortController();
    aborted.abort();
    await expect(localStore.getObject('fd/good.jpg', { signal: aborted.signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(await openFiles()).toBe(before);
  });

  it('etag is a hash of size and mtime: stable across list/head/get, changes when the file is touched', async ({ localStore }) => {
    await localStore.put('e/x.jpg', Buffer.from('12345'));
    const path = join(localStore.root, 'e/x.jpg');
    const stats = await stat(path, { bigint: true });
    const head = await localStore.head('e/x.jpg');
    expect(head?.etag).toBe(localEtag(5, stats.mtimeNs));
    expect((await localStore.getObject('e/x.jpg')).info.etag).toBe(head?.etag);
    await utimes(path, new Date('2020-01-01T00:00:00Z'), new Date('2020-01-01T00:00:00Z'));
    const touched = await localStore.head('e/x.jpg');
    expect(touched?.etag).not.toBe(head?.etag);
    expect(touched?.lastModified?.toISOString()).toBe('2020-01-01T00:00:00.000Z');
  });

  it('refuses a huge file over maxBytes from its size, without reading it', async ({ localStore }) => {
    await mkdir(join(localStore.root, 'huge'), { recursive: true });
    const path = join(localStore.root, 'huge/sparse.bin');
    await writeFile(path, '');
    // 6 GiB, sparse: reading it whole would exceed Node's Buffer limit.
    await truncate(path, 6 * 1024 ** 3);
    // Reading it would fail differently (over Node's Buffer limit): too_large_bytes comes from its size.
    await expect(localStore.get('huge/sparse.bin', { maxBytes: 1024 * 1024 })).rejects.toMatchObject({ code: 'too_large_bytes' });
    expect((await localStore.head('huge/sparse.bin'))?.size).toBe(6 * 1024 ** 3);
  });

  it('walks lazily: a directory is read only when the listing reaches it', async ({ localStore }) => {
    for (const key of ['a/1.jpg', 'a/2.jpg', 'z/1.jpg', 'z/2.jpg']) await localStore.put(key, Buffer.from(key));
    const listed: string[] = [];
    for await (const info of localStore.list('')) {
      listed.push(info.key);
      if (info.key === 'a/1.jpg') await rm(join(localStore.root, 'z'), { recursive: true });
    }
    expect(listed).toEqual(['a/1.jpg', 'a/2.jpg']);
  });

  it('follows symlinks to files, not to directories', async ({ localStore, root }) => {
    await localStore.put('s/target.jpg', Buffer.from('t'));
    await mkdir(join(root, 'outside'), { recursive: true });
    await writeFile(join(root, 'outside/o.jpg'), 'o');
    await symlink(join(localStore.root, 's/target.jpg'), join(localStore.root, 's/link.jpg'));
    await symlink(join(root, 'outside'), join(localStore.root, 's/dirlink'));
    const listed: string[] = [];
    for await (const info of localStore.list('s/')) listed.push(info.key);
    expect(listed).toEqual(['s/link.jpg', 's/target.jpg']);
  });

  it('keys are relative paths: absolute, "..", empty segments are refused for writes and absent for reads', async ({ localStore }) => {
    for (const key of ['', '/etc/passwd', '../escape.jpg', 'a/../../escape.jpg', 'a//b.jpg', 'a/./b.jpg', 'dir/', 'nul\0.jpg']) {
      expect(validKey(key)).toBe(false);
      await expect(localStore.put(key, Buffer.from('x'))).rejects.toMatchObject({ code: 'invalid_key' });
      await expect(localStore.get(key)).rejects.toMatchObject({ code: 'not_found' });
      expect(await localStore.head(key)).toBeUndefined();
    }
    expect(validKey('a/b c/#d.jpg')).toBe(true);
    const results = [];
    for await (const result of localStore.getMany([{ key: '../escape.jpg' }], { concurrency: 1 })) results.push(result);
    expect(results).toMatchObject([{ ok: false, code: 'not_found' }]);
  });

  it('a key that is a directory is not an object', async ({ localStore }) => {
    await localStore.put('dir/inner.jpg', patternBytes(10));
    expect(await localStore.head('dir')).toBeUndefined();
    await expect(localStore.get('dir')).rejects.toMatchObject({ code: 'not_found' });
    await expect(localStore.delete('dir')).resolves.toBeUndefined();
    expect(await localStore.exists('dir/inner.jpg')).toBe(true);
  });
});
