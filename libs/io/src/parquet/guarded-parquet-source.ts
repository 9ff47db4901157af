/**
 * A Parquet source whose failed reads never reach parquet-wasm.
 *
 * parquet-wasm reads its source by byte ranges from inside Rust futures; when one of those reads
 * rejects or comes back short (a file deleted or replaced while it is read — `compact` running
 * beside `search` — a ranged GET's 404 or 412, a local file gone), the Rust side panics: an
 * uncaught `RuntimeError: unreachable` thrown from a microtask, which no `try` around the read
 * can catch, and the read it belonged to never settles. So every range read goes through this
 * guard: a failed or short read is not handed back to wasm at all (that one read stays pending
 * and its wasm buffers are never freed — a small leak, on a failure that ends the reading
 * anyway); the error goes to {@link GuardedParquetSource.failed} instead, and the reader races
 * its every wasm call against it, so it fails with the store's own error.
 */
import type { RandomAccessBlob } from '../object-store';

export interface GuardedParquetSource {
  /** What parquet-wasm reads (it only calls `size`, `slice` and `arrayBuffer`). */
  blob: Blob;
  /** Rejects with the first failed read's error; never resolves. */
  failed: Promise<never>;
  /** The first failed read's error, once there is one. */
  readonly error: Error | undefined;
}

type Readable = Pick<RandomAccessBlob, 'size' | 'arrayBuffer'> & { slice(start?: number, end?: number): Readable };

export function guardParquetSource(source: Uint8Array | Blob | RandomAccessBlob): GuardedParquetSource {
  let reject!: (error: Error) => void;
  const failed = new Promise<never>((_, r) => (reject = r));
  // Observed by whoever races it; without a reader of it, it is not an unhandled rejection.
  failed.catch(() => undefined);
  let first: Error | undefined;
  const fail = (error: Error) => {
    first ??= error;
    reject(first);
  };
  if (source instanceof Uint8Array) {
    return {
      blob: new Blob([source]),
      failed,
      get error() {
        return first;
      },
    };
  }
  const wrap = (inner: Readable, offset: number): Readable => ({
    size: inner.size,
    slice(start = 0, end = inner.size) {
      const from = start < 0 ? Math.max(0, inner.size + start) : Math.min(start, inner.size);
      return wrap(inner.slice(start, end) as Readable, offset + from);
    },
    async arrayBuffer() {
      try {
        const bytes = await inner.arrayBuffer();
        if (bytes.byteLength !== inner.size) {
          throw new Error(`asked for ${inner.size} bytes at offset ${offset}, got ${bytes.byteLength}: the file changed while it was read`);
        }
        return bytes;
      } catch (error) {
        fail(error instanceof Error ? error : new Error(String(error)));
        return new Promise<ArrayBuffer>(() => undefined);
      }
    },
  });
  return {
    blob: wrap(source as Readable, 0) as unknown as Blob,
    failed,
    get error() {
      return first;
    },
  };
}

/** `promise`, or the guarded source's first failed read, whichever comes first. */
export function unlessReadFailed<T>(source: GuardedParquetSource, promise: Promise<T>): Promise<T> {
  return Promise.race([promise, source.failed]);
}
