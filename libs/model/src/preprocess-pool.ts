import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { ImageError } from './image-error';
import { DEFAULT_MAX_PIXELS, type ImagePreprocessConfig, type PreprocessedImage } from './image-preprocessor';
import type { FromPreprocessThread, PreprocessThreadInit, ToPreprocessThread } from './preprocess-protocol';
import { threadEntry } from './thread-entry';

export interface PreprocessPoolOptions {
  /**
   * Preprocessing threads. Each decodes (sharp, on libuv's pool) and resizes (our Pillow
   * resampler, synchronous JavaScript) its images; `bench/run-all.ts` measures the choice.
   * @defaultValue `os.availableParallelism()`
   */
  readonly threads?: number;
  /**
   * Pixel limit of images that do not name their own (see `ImagePreprocessorOptions.maxPixels`).
   * @defaultValue 100_000_000
   */
  readonly maxPixels?: number;
}

interface Pending {
  resolve(image: PreprocessedImage): void;
  reject(error: Error): void;
}

interface PoolThread {
  worker: Worker;
  busy: number;
  failure?: Error;
}

/**
 * `ImagePreprocessor.preprocess` on a small pool of worker threads, so that decoding and
 * resizing scale over the cores and never block the event loop (BullMQ lock renewal, fetches,
 * the inference thread's messages). Pixels are identical to `ImagePreprocessor`'s: each thread
 * runs one. Bytes are copied once into a buffer that is transferred (the caller keeps its
 * own, e.g. to hash it); pixels come back transferred. Images go to the least busy thread.
 *
 * Bad images reject with `ImageError`, as `ImagePreprocessor` does. Threads are unref'd while
 * idle, so an open pool does not keep the process alive.
 */
export class PreprocessPool {
  private nextId = 1;
  private readonly pending = new Map<number, Pending & { thread: PoolThread }>();
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly threads: PoolThread[],
    private readonly maxPixels: number,
  ) {}

  /** Starts the threads (they load sharp once each; about 100 ms). */
  static async start(config: ImagePreprocessConfig, options: PreprocessPoolOptions = {}): Promise<PreprocessPool> {
    const count = options.threads ?? availableParallelism();
    if (!Number.isInteger(count) || count < 1) throw new RangeError(`preprocessing threads must be a positive integer, got ${count}`);
    const init: PreprocessThreadInit = { config };
    const workers = Array.from({ length: count }, () => new Worker(threadEntry('preprocess'), { workerData: init }));
    await Promise.all(workers.map((worker) => new Promise<void>((resolve, reject) => {
      worker.once('online', resolve);
      worker.once('error', reject);
    }))).catch(async (error: unknown) => {
      await Promise.all(workers.map((worker) => worker.terminate()));
      throw error;
    });
    const pool = new PreprocessPool(
      workers.map((worker) => ({ worker, busy: 0 })),
      options.maxPixels ?? DEFAULT_MAX_PIXELS,
    );
    for (const thread of pool.threads) pool.attach(thread);
    return pool;
  }

  /** Number of threads. */
  get size(): number {
    return this.threads.length;
  }

  /** Decode, resize and normalise one image into a new `3 × H × W` array on a pool thread. */
  preprocess(bytes: Uint8Array, options: { maxPixels?: number } = {}): Promise<PreprocessedImage> {
    if (this.closing) return Promise.reject(new Error('the preprocessing pool is closed'));
    const thread = this.threads.reduce((best, t) => (t.failure ? best : !best || t.busy < best.busy ? t : best), undefined as PoolThread | undefined);
    if (!thread) return Promise.reject(this.threads[0]!.failure!);
    const id = this.nextId++;
    // A copy (Buffer#slice would be a view): the caller keeps its bytes, the copy is transferred.
    const buffer = new Uint8Array(bytes).buffer;
    return new Promise<PreprocessedImage>((resolve, reject) => {
      if (thread.busy++ === 0) thread.worker.ref();
      this.pending.set(id, { resolve, reject, thread });
      const message: ToPreprocessThread = { type: 'run', id, bytes: buffer, maxPixels: options.maxPixels ?? this.maxPixels };
      thread.worker.postMessage(message, [buffer]);
    });
  }

  /** Stops the threads; images still in flight reject. */
  close(): Promise<void> {
    this.closing ??= Promise.all(
      this.threads.map(
        (thread) =>
          new Promise<void>((resolve) => {
            const timer = setTimeout(() => void thread.worker.terminate(), 5_000);
            thread.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            thread.worker.ref();
            thread.worker.postMessage({ type: 'close' } satisfies ToPreprocessThread);
          }),
      ),
    ).then(() => this.failPending(new Error('the preprocessing pool was closed')));
    return this.closing;
  }

  private attach(thread: PoolThread): void {
    const { worker } = thread;
    worker.unref();
    worker.on('message', (message: FromPreprocessThread) => this.onMessage(thread, message));
    worker.on('error', (error) => this.failThread(thread, new Error(`a preprocessing thread failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (!this.closing) this.failThread(thread, new Error(`a preprocessing thread exited (code ${code})`));
    });
  }

  private onMessage(thread: PoolThread, message: FromPreprocessThread): void {
    const request = this.pending.get(message.id);
    if (!request) return;
    this.pending.delete(message.id);
    if (--thread.busy === 0 && !this.closing) thread.worker.unref();
    if (message.type === 'result') {
      request.resolve({ pixels: new Float32Array(message.pixels), width: message.width, height: message.height });
    } else if (message.type === 'image-error') {
      request.reject(new ImageError(message.code, message.message));
    } else {
      const error = new Error(message.message);
      error.name = message.name;
      request.reject(error);
    }
  }

  private failThread(thread: PoolThread, error: Error): void {
    thread.failure ??= error;
    for (const [id, request] of this.pending) {
      if (request.thread !== thread) continue;
      this.pending.delete(id);
      request.reject(error);
    }
    thread.busy = 0;
  }

  private failPending(error: Error): void {
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }
}
