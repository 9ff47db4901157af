/**
 * The storage seam of the pipeline: one interface, an S3 implementation and a local-filesystem
 * one that behave the same on the same test table (see object-store.spec.ts).
 */
import type { Readable } from 'node:stream';

export interface ObjectInfo {
  /** Key relative to the store (S3: the object key; local: a '/'-separated path below the root). */
  key: string;
  size: number;
  /**
   * S3: the ETag without its quotes. Local: a hash of size + mtime (ns), see LocalObjectStore;
   * both change when the object is rewritten, which is all incremental runs need.
   */
  etag: string;
  lastModified?: Date;
}

export interface ListOptions {
  /** Only keys strictly after this one (byte order), as ListObjectsV2's `StartAfter`. */
  startAfter?: string;
  /** Keep keys ending in one of these, compared case-insensitively, e.g. `['.jpg', '.png']`. */
  suffixes?: string[];
  /** Keep objects of at most this many bytes. */
  maxSize?: number;
  signal?: AbortSignal;
  /**
   * Keys asked for per ListObjectsV2 page (S3 caps it at 1,000); local stores stat this many
   * files of a directory at a time.
   * @defaultValue 1000
   */
  pageSize?: number;
}

export interface GetOptions {
  /** Refuse (code `too_large_bytes`) an object larger than this, without reading it whole. */
  maxBytes?: number;
  signal?: AbortSignal;
  /**
   * Return an empty Buffer for an empty object instead of failing with `empty_object`.
   * @defaultValue false
   */
  allowEmpty?: boolean;
}

export interface PutOptions {
  contentType?: string;
  /** Aborting leaves the old object (or none) in place, and no multipart parts behind. */
  signal?: AbortSignal;
}

export interface GetManyOptions {
  /** Objects fetched at once. Size the S3 client's `maxSockets` to at least this. */
  concurrency: number;
  maxBytes?: number;
  /** Stops the whole iteration (it throws an AbortError); never reported as a per-object result. */
  signal?: AbortSignal;
}

/** Per-object failure codes of `getMany` (and of ObjectStoreError on reads). */
export type FetchErrorCode = 'not_found' | 'empty_object' | 'too_large_bytes' | 'access_denied' | 'transient';
/** `invalid_key`: a key the store cannot hold (local: absolute, `..`, empty segments; reserved temp names). */
export type ObjectStoreErrorCode = FetchErrorCode | 'invalid_key';

export type FetchResult<T> =
  | { item: T; ok: true; bytes: Buffer; etag: string; size: number }
  | { item: T; ok: false; code: FetchErrorCode; transient: boolean; message: string };

/** An object read whole, with the metadata of the version that was read. */
export interface StoredObject {
  bytes: Buffer;
  info: ObjectInfo;
}

/**
 * A byte source parquet-wasm can read ranges from (`size`, `slice(start, end).arrayBuffer()`):
 * a real `Blob` for local files (`fs.openAsBlob`), ranged GETs for S3.
 */
export interface RandomAccessBlob {
  readonly size: number;
  slice(start?: number, end?: number): { arrayBuffer(): Promise<ArrayBuffer> };
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** One object tag (S3 object tagging). */
export interface ObjectTag {
  key: string;
  value: string;
}

export interface ObjectStore {
  readonly kind: 's3' | 'file';
  /** `s3://bucket/key` or `file:///abs/path` (percent-encoded). */
  uriOf(key: string): string;
  /** Inverse of {@link uriOf}; undefined when the URI is not in this store. */
  keyOf(uri: string): string | undefined;
  /**
   * Objects whose key starts with `prefix`, in byte order of the key (the same in both stores),
   * streamed page by page: never the whole listing in memory.
   */
  list(prefix: string, options?: ListOptions): AsyncIterable<ObjectInfo>;
  /** The whole object. Throws ObjectStoreError (`not_found`, `too_large_bytes`, `empty_object`, …). */
  get(key: string, options?: GetOptions): Promise<Buffer>;
  /** As {@link get}, with the ETag and size of the version read. */
  getObject(key: string, options?: GetOptions): Promise<StoredObject>;
  /** A stream of the object's bytes (text manifests). Throws ObjectStoreError like {@link get}. */
  getStream(key: string, options?: { signal?: AbortSignal }): Promise<Readable>;
  /** Random access to an object without reading it whole (Parquet readers). */
  openBlob(key: string): Promise<RandomAccessBlob>;
  head(key: string): Promise<ObjectInfo | undefined>;
  exists(key: string): Promise<boolean>;
  /** Atomic: readers see the old object or the whole new one, never a part. */
  put(key: string, body: Uint8Array | NodeJS.ReadableStream, options?: PutOptions): Promise<void>;
  /** No error when the object is absent. */
  delete(key: string): Promise<void>;
  /**
   * The object's tag set, in the store's order; only a store whose objects have tags (S3) has
   * it. Throws ObjectStoreError (`not_found` for a missing object).
   */
  getTags?(key: string, options?: { signal?: AbortSignal }): Promise<ObjectTag[]>;
  /** Replaces the object's whole tag set (an empty set removes its tags); present with {@link getTags}. */
  putTags?(key: string, tags: readonly ObjectTag[], options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * Fetches with bounded concurrency, yielding results as they complete (not in input order).
   * Never throws for one object: every item gets exactly one result.
   */
  getMany<T extends { key: string }>(
    items: Iterable<T> | AsyncIterable<T>,
    options: GetManyOptions,
  ): AsyncIterable<FetchResult<T>>;
  /** Releases sockets (S3) — only of a client the store created itself. */
  close(): void;
}
