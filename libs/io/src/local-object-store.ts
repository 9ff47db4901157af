/**
 * The object store over a local directory: keys are '/'-separated paths relative to the root.
 *
 * - `etag`: the first 32 hex digits of SHA-256 over "<size>:<mtime in ns>". It changes whenever
 *   a file is rewritten (or touched), which is what change detection needs; it is not a hash of
 *   the content (reading every file to list a directory would be far too slow).
 * - `put` writes a temp file `.siglip-tmp-<random>` in the destination directory, fsyncs it and
 *   renames it over the key: rename(2) in one directory is atomic, so readers see the old file or
 *   the whole new one. Listing skips temp names (also those left by a crashed writer), and keys
 *   whose last segment starts with `.siglip-tmp-` are refused.
 * - `list` walks directories lazily, one directory in memory at a time, its entries sorted so
 *   that keys come out in UTF-8 byte order, exactly like S3 (a directory `a` sorts as `a/`, so
 *   `a-b` comes before `a/x`). Symlinks to files are followed; symlinks to directories are not.
 */
import { createHash, randomBytes } from 'node:crypto';
import { close as fsClose, constants as fsConstants, fstat as fsFstat, open as fsOpen, openAsBlob, read as fsRead, type BigIntStats, type Dirent } from 'node:fs';
import { mkdir, open, readdir, rename, stat, unlink, type FileHandle } from 'node:fs/promises';
import { dirname, isAbsolute, join, relative, sep } from 'node:path';
import type { Readable } from 'node:stream';
import { pathToFileURL } from 'node:url';
import { mapBounded } from './bounded-concurrency';
import { fetchMany } from './get-many';
import { compareKeys } from './key-order';
import { listFilter, pageSizeOf } from './list-filter';
import { parseLocation } from './location';
import type {
  FetchResult,
  GetManyOptions,
  GetOptions,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  PutOptions,
  RandomAccessBlob,
  StoredObject,
} from './object-store';
import { isAbortError, ObjectStoreError } from './object-store-error';

export const LOCAL_TEMP_PREFIX = '.siglip-tmp-';

/** Files stat'ed at once while listing. */
const STAT_CONCURRENCY = 32;

export function localEtag(size: bigint | number, mtimeNs: bigint): string {
  return createHash('sha256').update(`${size}:${mtimeNs}`).digest('hex').slice(0, 32);
}

function infoOf(key: string, stats: BigIntStats): ObjectInfo {
  return { key, size: Number(stats.size), etag: localEtag(stats.size, stats.mtimeNs), lastModified: new Date(Number(stats.mtimeMs)) };
}

export class LocalObjectStore implements ObjectStore {
  readonly kind = 'file' as const;
  /** Absolute path of the directory the keys are relative to. */
  readonly root: string;

  constructor(root: string) {
    if (!isAbsolute(root)) throw new TypeError(`the root of a local store must be an absolute path, got ${JSON.stringify(root)}`);
    this.root = root.length > 1 && root.endsWith(sep) ? root.slice(0, -1) : root;
  }

  uriOf(key: string): string {
    return pathToFileURL(this.pathOf(key)).href;
  }

  keyOf(uri: string): string | undefined {
    let path: string;
    try {
      const location = parseLocation(uri);
      if (location.kind !== 'file') return undefined;
      path = location.root;
    } catch {
      return undefined;
    }
    const rel = relative(this.root, path);
    if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) return undefined;
    const key = rel.split(sep).join('/');
    return validKey(key) ? key : undefined;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<ObjectInfo> {
    const keep = listFilter(options);
    const pageSize = pageSizeOf(options);
    const slash = prefix.lastIndexOf('/');
    const dirKey = prefix.slice(0, slash + 1);
    const namePrefix = prefix.slice(slash + 1);
    if (dirKey !== '' && !validKey(dirKey.slice(0, -1))) throw invalidKey(prefix);
    const walk = this.walk(dirKey, namePrefix, options.startAfter, pageSize, options.signal);
    for await (const info of walk) if (keep(info)) yield info;
  }

  private async *walk(
    dirKey: string,
    namePrefix: string,
    startAfter: string | undefined,
    pageSize: number,
    signal: AbortSignal | undefined,
  ): AsyncGenerator<ObjectInfo> {
    signal?.throwIfAborted();
    let dirents: Dirent[];
    try {
      dirents = await readdir(join(this.root, dirKey), { withFileTypes: true });
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return;
      throw fsError(error, dirKey, 'list');
    }
    const entries = dirents
      .filter((entry) => entry.name.startsWith(namePrefix) && !entry.name.startsWith(LOCAL_TEMP_PREFIX))
      .filter((entry) => entry.isFile() || entry.isDirectory() || entry.isSymbolicLink())
      .map((entry) => ({ entry, sortKey: entry.isDirectory() ? `${entry.name}/` : entry.name }))
      .sort((a, b) => compareKeys(a.sortKey, b.sortKey));
    dirents = [];
    let files: string[] = [];
    const flush = (): Promise<ObjectInfo[]> => {
      const batch = files;
      files = [];
      return this.statAll(batch, signal);
    };
    for (const { entry, sortKey } of entries) {
      const key = dirKey + sortKey;
      if (entry.isDirectory()) {
        // A subtree wholly before startAfter is skipped; one that contains it is walked with the
        // bound; after it (or past it), every later key is after startAfter.
        let bound = startAfter;
        if (bound !== undefined && !bound.startsWith(key)) {
          if (compareKeys(key, bound) < 0) continue;
          bound = undefined;
        }
        yield* await flush();
        yield* this.walk(key, '', bound, pageSize, signal);
        startAfter = undefined;
        continue;
      }
      if (startAfter !== undefined) {
        if (compareKeys(key, startAfter) <= 0) continue;
        startAfter = undefined;
      }
      files.push(key);
      if (files.length >= pageSize) yield* await flush();
    }
    yield* await flush();
  }

  /** Stats a page of files (bounded concurrency), in order; drops what is no longer a file. */
  private async statAll(keys: string[], signal: AbortSignal | undefined): Promise<ObjectInfo[]> {
    const infos = await mapBounded(keys, STAT_CONCURRENCY, async (key): Promise<ObjectInfo | undefined> => {
      signal?.throwIfAborted();
      try {
        const stats = await stat(join(this.root, key), { bigint: true });
        return stats.isFile() ? infoOf(key, stats) : undefined;
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        // Deleted (or a dangling symlink) since readdir: not listed.
        if (code !== 'ENOENT' && code !== 'ENOTDIR') throw fsError(error, key, 'list');
        return undefined;
      }
    });
    return infos.filter((info): info is ObjectInfo => info !== undefined);
  }

  async get(key: string, options: GetOptions = {}): Promise<Buffer> {
    return (await this.getObject(key, options)).bytes;
  }

  async getObject(key: string, options: GetOptions = {}): Promise<StoredObject> {
    options.signal?.throwIfAborted();
    const path = this.readablePath(key);
    // Plain file descriptors and callbacks, not a FileHandle: this is the shard's fetch path, once
    // per image, and FileHandle's promises and bookkeeping cost about as much CPU as the reads.
    let fd: number;
    try {
      fd = await fdCall<number>((done) => fsOpen(path, 'r', done));
    } catch (error) {
      throw fsError(error, key, 'open');
    }
    try {
      let stats: BigIntStats;
      try {
        stats = await fdCall<BigIntStats>((done) => fsFstat(fd, { bigint: true }, done));
      } catch (error) {
        throw fsError(error, key, 'stat');
      }
      if (!stats.isFile()) throw new ObjectStoreError('not_found', key, `${this.uriOf(key)} is not a file`);
      const info = infoOf(key, stats);
      if (options.maxBytes !== undefined && info.size > options.maxBytes) {
        throw new ObjectStoreError('too_large_bytes', key, `${this.uriOf(key)} is ${info.size} bytes, over the limit of ${options.maxBytes}`);
      }
      if (info.size === 0 && !options.allowEmpty) throw new ObjectStoreError('empty_object', key, `${this.uriOf(key)} is empty`);
      // Read exactly the size that was stat'ed, so the bytes and the etag describe one version.
      const bytes = Buffer.allocUnsafe(info.size);
      let offset = 0;
      while (offset < info.size) {
        options.signal?.throwIfAborted();
        const at = offset;
        const bytesRead = await fdCall<number>((done) => fsRead(fd, bytes, at, Math.min(info.size - at, 8 << 20), at, done));
        if (bytesRead === 0) throw new ObjectStoreError('transient', key, `${this.uriOf(key)} shrank while being read`);
        offset += bytesRead;
      }
      return { bytes, info };
    } catch (error) {
      throw isAbortError(error) || error instanceof ObjectStoreError ? error : fsError(error, key, 'read');
    } finally {
      await fdCall<void>((done) => fsClose(fd, done));
    }
  }

  async getStream(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    const { handle } = await this.openForRead(key, options.signal);
    return handle.createReadStream({ autoClose: true, ...(options.signal ? { signal: options.signal } : {}) });
  }

  async openBlob(key: string): Promise<RandomAccessBlob> {
    const path = this.readablePath(key);
    try {
      return await openAsBlob(path);
    } catch (error) {
      throw fsError(error, key, 'open');
    }
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    if (!validKey(key)) return undefined;
    try {
      const stats = await stat(this.pathOf(key), { bigint: true });
      return stats.isFile() ? infoOf(key, stats) : undefined;
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
      throw fsError(error, key, 'stat');
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async put(key: string, body: Uint8Array | NodeJS.ReadableStream, options: PutOptions = {}): Promise<void> {
    if (!validKey(key)) throw invalidKey(key);
    const signal = options.signal;
    signal?.throwIfAborted();
    const path = this.pathOf(key);
    const temp = join(dirname(path), `${LOCAL_TEMP_PREFIX}${randomBytes(8).toString('hex')}`);
    let handle: FileHandle | undefined;
    try {
      await mkdir(dirname(path), { recursive: true });
      handle = await open(temp, fsConstants.O_WRONLY | fsConstants.O_CREAT | fsConstants.O_EXCL, 0o644);
      if (body instanceof Uint8Array) {
        await handle.writeFile(body, signal ? { signal } : {});
      } else {
        for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
          signal?.throwIfAborted();
          await handle.write(typeof chunk === 'string' ? Buffer.from(chunk) : chunk);
        }
      }
      signal?.throwIfAborted();
      // Durable before it becomes visible: a crash after rename never leaves a short file.
      await handle.sync();
      await handle.close();
      handle = undefined;
      await rename(temp, path);
    } catch (error) {
      await handle?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      if (isAbortError(error) || error instanceof ObjectStoreError) throw error;
      if (!isFsError(error)) throw error; // the caller's stream failed: its error, not the store's
      throw fsError(error, key, 'write');
    }
  }

  async delete(key: string): Promise<void> {
    if (!validKey(key)) throw invalidKey(key);
    try {
      await unlink(this.pathOf(key));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code === 'ENOENT' || code === 'ENOTDIR' || code === 'EISDIR') return;
      throw fsError(error, key, 'delete');
    }
  }

  getMany<T extends { key: string }>(items: Iterable<T> | AsyncIterable<T>, options: GetManyOptions): AsyncIterable<FetchResult<T>> {
    return fetchMany((key, getOptions) => this.getObject(key, getOptions), items, options);
  }

  close(): void {
    // nothing to release
  }

  /** Absolute path of a key (not validated: use {@link readablePath} for reads). */
  pathOf(key: string): string {
    return key === '' ? this.root : join(this.root, ...key.split('/'));
  }

  private readablePath(key: string): string {
    // A key that cannot exist in this store names no object.
    if (!validKey(key)) throw new ObjectStoreError('not_found', key, `${JSON.stringify(key)} is not a valid key of ${this.root}`);
    return this.pathOf(key);
  }

  private async openForRead(key: string, signal: AbortSignal | undefined): Promise<{ handle: FileHandle; stats: BigIntStats }> {
    signal?.throwIfAborted();
    const path = this.readablePath(key);
    let handle: FileHandle;
    try {
      handle = await open(path, 'r');
    } catch (error) {
      throw fsError(error, key, 'open');
    }
    try {
      const stats = await handle.stat({ bigint: true });
      if (!stats.isFile()) throw new ObjectStoreError('not_found', key, `${this.uriOf(key)} is not a file`);
      return { handle, stats };
    } catch (error) {
      await handle.close();
      throw error instanceof ObjectStoreError ? error : fsError(error, key, 'stat');
    }
  }
}

/** Keys are relative '/'-separated paths: no empty, '.' or '..' segments, no NUL, no temp names. */
export function validKey(key: string): boolean {
  if (key === '' || key.includes('\0')) return false;
  const segments = key.split('/');
  for (const segment of segments) if (segment === '' || segment === '.' || segment === '..') return false;
  return !segments[segments.length - 1]!.startsWith(LOCAL_TEMP_PREFIX);
}

function invalidKey(key: string): ObjectStoreError {
  return new ObjectStoreError(
    'invalid_key',
    key,
    `${JSON.stringify(key)} is not a valid key: use a relative '/'-separated path without empty, "." or ".." segments`,
  );
}

/** A node:fs callback call as a promise (cheaper per call than node:fs/promises' FileHandle). */
function fdCall<T>(call: (done: (error: NodeJS.ErrnoException | null, value: T) => void) => void): Promise<T> {
  return new Promise<T>((resolve, reject) => call((error, value) => (error ? reject(error) : resolve(value))));
}

function isFsError(error: unknown): boolean {
  return typeof (error as NodeJS.ErrnoException | undefined)?.code === 'string' && typeof (error as NodeJS.ErrnoException).syscall === 'string';
}

/** errno → store error: missing → not_found, permissions → access_denied, anything else → transient. */
function fsError(error: unknown, key: string, operation: string): ObjectStoreError {
  const code = (error as NodeJS.ErrnoException | undefined)?.code;
  const detail = `${operation} ${JSON.stringify(key)} failed: ${(error as Error | undefined)?.message ?? String(error)}`;
  switch (code) {
    case 'ENOENT':
    case 'ENOTDIR':
    case 'EISDIR':
      return new ObjectStoreError(operation === 'write' ? 'invalid_key' : 'not_found', key, detail);
    case 'EACCES':
    case 'EPERM':
      return new ObjectStoreError('access_denied', key, detail);
    case 'ENAMETOOLONG':
    case 'EEXIST':
      return new ObjectStoreError(operation === 'write' ? 'invalid_key' : 'not_found', key, detail);
    default:
      return new ObjectStoreError('transient', key, detail);
  }
}
