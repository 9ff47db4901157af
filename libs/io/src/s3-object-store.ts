/**
 * The object store over one S3 bucket (AWS S3, MinIO, moto…).
 *
 * Atomicity of `put` comes from S3 itself: a PutObject or a CompleteMultipartUpload makes the
 * whole new object visible at once, so readers see the old object or the new one, never a part.
 * What is ours to guarantee is that a failed or aborted multipart upload leaves no parts behind:
 * the upload is aborted before `put` rejects (`leavePartsOnError: false`, and our signal is
 * turned into a failing body stream rather than lib-storage's abort, which rejects before its
 * own cleanup has run). If even AbortMultipartUpload fails (network gone), parts remain until a
 * bucket lifecycle rule (AbortIncompleteMultipartUpload) removes them: configure one.
 */
import type { ListObjectsV2CommandOutput, S3Client } from '@aws-sdk/client-s3';
import { S3, Storage } from './lazy-aws-sdk';
import { PassThrough, Readable } from 'node:stream';
import { fetchMany } from './get-many';
import { listFilter, pageSizeOf } from './list-filter';
import type {
  FetchResult,
  GetManyOptions,
  GetOptions,
  ListOptions,
  ObjectInfo,
  ObjectStore,
  ObjectTag,
  PutOptions,
  RandomAccessBlob,
  StoredObject,
} from './object-store';
import { isAbortError, ObjectStoreError } from './object-store-error';
import { classifyS3Error, s3StoreError } from './s3-error';
import { S3RangeBlob } from './s3-range-blob';
import { lookaheadPages } from './lookahead-pages';

export interface S3ObjectStoreOptions {
  client: S3Client;
  bucket: string;
  /**
   * Destroy the client on {@link S3ObjectStore.close} (true when the store created it).
   * @defaultValue false
   */
  ownsClient?: boolean;
  /**
   * Byte arrays of at least this size go through a multipart upload; smaller ones through one
   * PutObject. Streams always go through lib-storage, which uses one PutObject for streams
   * shorter than a part.
   * @defaultValue 16 MiB
   */
  multipartThresholdBytes?: number;
  /**
   * Part size of multipart uploads (S3's minimum is 5 MiB).
   * @defaultValue 8 MiB
   */
  partSizeBytes?: number;
  /**
   * Parts uploaded at once by one multipart upload (memory: queueSize × partSize).
   * @defaultValue 4
   */
  uploadQueueSize?: number;
}

export type { ObjectTag } from './object-store';

export const DEFAULT_MULTIPART_THRESHOLD_BYTES = 16 * 1024 * 1024;
export const DEFAULT_PART_SIZE_BYTES = 8 * 1024 * 1024;
const MIN_PART_SIZE_BYTES = 5 * 1024 * 1024;

/** ETags come quoted from S3 (`"abc…"`); stored and compared without the quotes. */
export function normalizeEtag(etag: string | undefined): string {
  if (!etag) return '';
  return etag.startsWith('"') && etag.endsWith('"') && etag.length >= 2 ? etag.slice(1, -1) : etag;
}

/** Listing pages requested ahead of the caller (`lookaheadPages`); measured in bench/README.md. */
const LIST_LOOKAHEAD_PAGES = 3;

export class S3ObjectStore implements ObjectStore {
  readonly kind = 's3' as const;
  readonly bucket: string;
  readonly client: S3Client;
  private readonly ownsClient: boolean;
  private readonly multipartThreshold: number;
  private readonly partSize: number;
  private readonly queueSize: number;

  constructor(options: S3ObjectStoreOptions) {
    this.client = options.client;
    this.bucket = options.bucket;
    this.ownsClient = options.ownsClient ?? false;
    this.partSize = Math.max(options.partSizeBytes ?? DEFAULT_PART_SIZE_BYTES, MIN_PART_SIZE_BYTES);
    this.multipartThreshold = options.multipartThresholdBytes ?? DEFAULT_MULTIPART_THRESHOLD_BYTES;
    this.queueSize = options.uploadQueueSize ?? 4;
  }

  uriOf(key: string): string {
    return `s3://${this.bucket}/${key}`;
  }

  keyOf(uri: string): string | undefined {
    const prefix = `s3://${this.bucket}/`;
    if (!uri.startsWith(prefix)) return undefined;
    const key = uri.slice(prefix.length);
    return key === '' ? undefined : key;
  }

  async *list(prefix: string, options: ListOptions = {}): AsyncGenerator<ObjectInfo> {
    const keep = listFilter(options);
    const pageSize = pageSizeOf(options);
    const stop = new AbortController();
    const signal = options.signal ? AbortSignal.any([options.signal, stop.signal]) : stop.signal;
    const fetchPage = (token: string | undefined): Promise<ListObjectsV2CommandOutput> =>
      this.client.send(
        new S3.ListObjectsV2Command({
          Bucket: this.bucket,
          Prefix: prefix === '' ? undefined : prefix,
          ContinuationToken: token,
          StartAfter: token === undefined ? options.startAfter : undefined,
          MaxKeys: pageSize,
        }),
        { abortSignal: signal },
      );
    try {
      const pages = lookaheadPages({
        fetchPage,
        nextToken: (page) => (page.IsTruncated && page.NextContinuationToken ? page.NextContinuationToken : undefined),
        depth: LIST_LOOKAHEAD_PAGES,
        mapError: (error) => (isAbortError(error) ? error : s3StoreError(error, prefix, `listing s3://${this.bucket}/${prefix}`)),
      });
      for await (const page of pages) {
        for (const object of page.Contents ?? []) {
          const info: ObjectInfo = {
            key: object.Key!,
            size: object.Size ?? 0,
            etag: normalizeEtag(object.ETag),
            ...(object.LastModified ? { lastModified: object.LastModified } : {}),
          };
          if (keep(info)) yield info;
        }
      }
    } finally {
      stop.abort();
    }
  }

  async get(key: string, options: GetOptions = {}): Promise<Buffer> {
    return (await this.getObject(key, options)).bytes;
  }

  async getObject(key: string, options: GetOptions = {}): Promise<StoredObject> {
    const { signal, maxBytes } = options;
    const what = `GET ${this.uriOf(key)}`;
    let response;
    try {
      response = await this.client.send(new S3.GetObjectCommand({ Bucket: this.bucket, Key: key }), signal ? { abortSignal: signal } : {});
    } catch (error) {
      if (isAbortError(error)) throw error;
      throw s3StoreError(error, key, what);
    }
    const body = response.Body as Readable | undefined;
    const length = response.ContentLength;
    const info: ObjectInfo = {
      key,
      size: length ?? 0,
      etag: normalizeEtag(response.ETag),
      ...(response.LastModified ? { lastModified: response.LastModified } : {}),
    };
    if (maxBytes !== undefined && length !== undefined && length > maxBytes) {
      // Destroying the body closes the connection: the object is never downloaded.
      body?.destroy();
      throw new ObjectStoreError('too_large_bytes', key, `${this.uriOf(key)} is ${length} bytes, over the limit of ${maxBytes}`);
    }
    const bytes = body ? await this.readBody(body, key, length, maxBytes, signal) : Buffer.alloc(0);
    info.size = bytes.length;
    if (bytes.length === 0 && !options.allowEmpty) {
      throw new ObjectStoreError('empty_object', key, `${this.uriOf(key)} is empty`);
    }
    return { bytes, info };
  }

  private async readBody(body: Readable, key: string, length: number | undefined, maxBytes: number | undefined, signal?: AbortSignal): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let received = 0;
    const onAbort = (): void => {
      body.destroy(signal?.reason);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      for await (const chunk of body as AsyncIterable<Buffer>) {
        received += chunk.length;
        // Without a Content-Length (chunked responses) the limit is enforced while reading.
        if (maxBytes !== undefined && received > maxBytes) {
          body.destroy();
          throw new ObjectStoreError('too_large_bytes', key, `${this.uriOf(key)} is over the limit of ${maxBytes} bytes`);
        }
        chunks.push(chunk);
      }
    } catch (error) {
      if (error instanceof ObjectStoreError) throw error;
      if (signal?.aborted) throw signal.reason;
      throw new ObjectStoreError('transient', key, `reading the body of ${this.uriOf(key)} failed: ${(error as Error).message}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
    }
    if (length !== undefined && received !== length) {
      throw new ObjectStoreError('transient', key, `${this.uriOf(key)}: got ${received} of ${length} bytes`);
    }
    return chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, received);
  }

  async getStream(key: string, options: { signal?: AbortSignal } = {}): Promise<Readable> {
    try {
      const response = await this.client.send(
        new S3.GetObjectCommand({ Bucket: this.bucket, Key: key }),
        options.signal ? { abortSignal: options.signal } : {},
      );
      return (response.Body as Readable | undefined) ?? Readable.from([]);
    } catch (error) {
      if (isAbortError(error)) throw error;
      throw s3StoreError(error, key, `GET ${this.uriOf(key)}`);
    }
  }

  async openBlob(key: string): Promise<RandomAccessBlob> {
    const info = await this.head(key);
    if (!info) throw new ObjectStoreError('not_found', key, `${this.uriOf(key)} does not exist`);
    return new S3RangeBlob(this.client, this.bucket, key, info.size, info.etag);
  }

  async head(key: string): Promise<ObjectInfo | undefined> {
    try {
      const response = await this.client.send(new S3.HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: response.ContentLength ?? 0,
        etag: normalizeEtag(response.ETag),
        ...(response.LastModified ? { lastModified: response.LastModified } : {}),
      };
    } catch (error) {
      // A missing bucket is an error worth seeing, not an absent object.
      const { code, name } = classifyS3Error(error);
      if (code === 'not_found' && name !== 'NoSuchBucket') return undefined;
      throw s3StoreError(error, key, `HEAD ${this.uriOf(key)}`);
    }
  }

  async exists(key: string): Promise<boolean> {
    return (await this.head(key)) !== undefined;
  }

  async put(key: string, body: Uint8Array | NodeJS.ReadableStream, options: PutOptions = {}): Promise<void> {
    const { signal, contentType } = options;
    signal?.throwIfAborted();
    if (key === '') throw new ObjectStoreError('invalid_key', key, 'an S3 object key cannot be empty');
    if (body instanceof Uint8Array && body.byteLength < this.multipartThreshold) {
      try {
        await this.client.send(
          new S3.PutObjectCommand({ Bucket: this.bucket, Key: key, Body: body, ContentType: contentType }),
          signal ? { abortSignal: signal } : {},
        );
        return;
      } catch (error) {
        if (isAbortError(error)) throw error;
        throw s3StoreError(error, key, `PUT ${this.uriOf(key)}`);
      }
    }
    await this.multipartPut(key, body, contentType, signal);
  }

  private async multipartPut(key: string, body: Uint8Array | NodeJS.ReadableStream, contentType: string | undefined, signal?: AbortSignal): Promise<void> {
    const source = body instanceof Uint8Array ? Readable.from(chunksOf(body, this.partSize)) : (body as Readable);
    // lib-storage reads this stream; failing it (on abort, or when the caller's stream fails) makes
    // the upload fail, abort the multipart upload, and only then reject.
    const feed = new PassThrough({ highWaterMark: this.partSize });
    let sourceError: unknown;
    source.on('error', (error) => {
      sourceError ??= error;
      feed.destroy(error);
    });
    source.pipe(feed);
    const onAbort = (): void => {
      feed.destroy(signal?.reason);
      source.unpipe?.(feed);
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    const upload = new Storage.Upload({
      client: this.client,
      params: { Bucket: this.bucket, Key: key, Body: feed, ContentType: contentType },
      partSize: this.partSize,
      queueSize: this.queueSize,
      leavePartsOnError: false,
    });
    try {
      await upload.done();
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      if (sourceError !== undefined) throw sourceError;
      if (isAbortError(error)) throw error;
      throw s3StoreError(error, key, `multipart upload to ${this.uriOf(key)}`);
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!source.destroyed && source !== (body as unknown)) source.destroy();
    }
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new S3.DeleteObjectCommand({ Bucket: this.bucket, Key: key }));
    } catch (error) {
      const { code, name } = classifyS3Error(error);
      if (code === 'not_found' && name !== 'NoSuchBucket') return;
      throw s3StoreError(error, key, `DELETE ${this.uriOf(key)}`);
    }
  }

  /**
   * The object's tag set (S3 object tagging), in S3's order. Throws ObjectStoreError
   * (`not_found` for a missing object).
   */
  async getTags(key: string, options: { signal?: AbortSignal } = {}): Promise<ObjectTag[]> {
    try {
      const response = await this.client.send(new S3.GetObjectTaggingCommand({ Bucket: this.bucket, Key: key }), { abortSignal: options.signal });
      return (response.TagSet ?? []).map((tag) => ({ key: tag.Key ?? '', value: tag.Value ?? '' }));
    } catch (error) {
      throw s3StoreError(error, key, `GET tagging of ${this.uriOf(key)}`);
    }
  }

  /**
   * Replaces the object's whole tag set (an empty set removes its tags). S3 itself refuses more
   * than 10 tags, keys over 128 or values over 256 characters, and characters outside its set.
   */
  async putTags(key: string, tags: readonly ObjectTag[], options: { signal?: AbortSignal } = {}): Promise<void> {
    try {
      if (tags.length === 0) {
        await this.client.send(new S3.DeleteObjectTaggingCommand({ Bucket: this.bucket, Key: key }), { abortSignal: options.signal });
      } else {
        const TagSet = tags.map((tag) => ({ Key: tag.key, Value: tag.value }));
        await this.client.send(new S3.PutObjectTaggingCommand({ Bucket: this.bucket, Key: key, Tagging: { TagSet } }), { abortSignal: options.signal });
      }
    } catch (error) {
      throw s3StoreError(error, key, `PUT tagging of ${this.uriOf(key)}`);
    }
  }

  getMany<T extends { key: string }>(items: Iterable<T> | AsyncIterable<T>, options: GetManyOptions): AsyncIterable<FetchResult<T>> {
    return fetchMany((key, getOptions) => this.getObject(key, getOptions), items, options);
  }

  close(): void {
    if (this.ownsClient) this.client.destroy();
  }
}

function* chunksOf(bytes: Uint8Array, size: number): Generator<Buffer> {
  for (let offset = 0; offset < bytes.byteLength; offset += size) {
    yield Buffer.from(bytes.buffer, bytes.byteOffset + offset, Math.min(size, bytes.byteLength - offset));
  }
}
