import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import { EXACT_DECODE, type DecodeMode } from './decode-mode';
import { ImageError } from './image-error';
import { DEFAULT_MAX_PIXELS, type ImagePreprocessConfig, type PreprocessedImage, type ResizedImage } from './image-preprocessor';
import type { FromPreprocessThread, PreprocessOutput, PreprocessThreadInit, ToPreprocessThread } from './preprocess-protocol';
import { threadEntry } from './thread-entry';

export interface PreprocessPoolOptions {
  /**
   * Preprocessing threads. Each decodes (sharp, on libuv's pool) and resizes (our Pillow
   * resampler, synchronous JavaScript) its images; `bench/run-all.ts` measures the choice.
   * @defaultValue {@link defaultPreprocessThreads}: one per core but one
   */
  readonly threads?: number;
  /**
   * Pixel limit of images that do not name their own (see `ImagePreprocessorOptions.maxPixels`).
   * @defaultValue 100_000_000
   */
  readonly maxPixels?: number;
  /**
   * Decode mode of images that do not name their own (see `ImagePreprocessorOptions.decode`).
   * @defaultValue `{ mode: 'exact' }`
   */
  readonly decode?: DecodeMode;
}

interface Request {
  id: number;
  /** The caller's bytes: copied at each dispatch, kept so that a thread's death can be survived. */
  bytes: Uint8Array;
  maxPixels: number;
  decode: DecodeMode;
  output: PreprocessOutput;
  resolve(image: { pixels: ArrayBuffer; width: number; height: number }): void;
  reject(error: Error): void;
  thread?: PoolThread;
  /** Was in flight on a thread that died under several requests: runs alone from then on. */
  suspect?: boolean;
}

interface PoolThread {
  worker: Worker;
  /** Requests in flight on it. */
  busy: number;
  online: boolean;
  /** Running one request that must be alone on its thread (see `onThreadEnded`). */
  solo: boolean;
  /** Deaths since it last answered: a thread that keeps dying without work is not restarted. */
  deaths: number;
  /** Set when the thread cannot be (re)started: it is never used again. */
  failure?: Error;
}

/**
 * Preprocessing threads when none are asked for: one per core, but one. The core left over is
 * what the process's other busy threads share: libvips decodes on threads of its own while a
 * preprocessing thread resizes the image before, and the main thread (fetching, hashing,
 * Parquet) and the inference thread run beside them. On two cores one preprocessing thread
 * embeds as fast as two (205–222 against 203–228 img/s) and starts one Node environment fewer:
 * a one-image `embed` took 1.03 s against 1.07 s (bench/README.md, issue 18).
 */
export function defaultPreprocessThreads(cores = availableParallelism()): number {
  return Math.max(1, cores - 1);
}

/** A thread that dies this often in a row without answering once is given up. */
const MAX_DEATHS_WITHOUT_ANSWER = 3;

/**
 * `ImagePreprocessor.preprocess` on a small pool of worker threads, so that decoding and
 * resizing scale over the cores and never block the event loop (BullMQ lock renewal, fetches,
 * the inference thread's messages). Pixels are identical to `ImagePreprocessor`'s: each thread
 * runs one. Bytes are copied into a buffer that is transferred (the caller keeps its own, e.g.
 * to hash it, and must not change it until the call settles); pixels come back transferred.
 * Images go to the least busy thread.
 *
 * Bad images reject with `ImageError`, as `ImagePreprocessor` does — so does any other failure
 * of one image (`preprocess_failed`). A thread that dies (its heap exhausted, an abort) is
 * replaced: when it was preprocessing one image, that image rejects with `preprocess_failed`;
 * when several, each is run again alone on a thread, so only the one that kills a thread
 * again fails and the others are not lost. Threads are unref'd while idle, so an open pool
 * does not keep the process alive.
 */
export class PreprocessPool {
  private nextId = 1;
  private readonly inFlight = new Map<number, Request>();
  /** Requests not yet on a thread (only while suspects are re-run or no thread is free). */
  private readonly waiting: Request[] = [];
  /** Requests whose thread died under several requests: each runs again alone. */
  private readonly suspects: Request[] = [];
  private closing: Promise<void> | undefined;

  private constructor(
    private readonly init: PreprocessThreadInit,
    private readonly threads: PoolThread[],
    private readonly maxPixels: number,
    private readonly decode: DecodeMode,
  ) {}

  /** Starts the threads (they load sharp once each; about 100 ms). */
  static async start(config: ImagePreprocessConfig, options: PreprocessPoolOptions = {}): Promise<PreprocessPool> {
    const count = options.threads ?? defaultPreprocessThreads();
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
      init,
      workers.map((worker) => ({ worker, busy: 0, online: true, solo: false, deaths: 0 })),
      options.maxPixels ?? DEFAULT_MAX_PIXELS,
      options.decode ?? EXACT_DECODE,
    );
    for (const thread of pool.threads) pool.attach(thread);
    return pool;
  }

  /** Number of threads. */
  get size(): number {
    return this.threads.length;
  }

  /** Decode, resize and normalise one image into a new `3 × H × W` array on a pool thread. */
  async preprocess(bytes: Uint8Array, options: { maxPixels?: number; decode?: DecodeMode } = {}): Promise<PreprocessedImage> {
    const { pixels, width, height } = await this.request(bytes, options, 'normalized');
    return { pixels: new Float32Array(pixels), width, height };
  }

  /**
   * Decode and resize one image to `H × W × 3` uint8 RGB on a pool thread
   * (`ImagePreprocessor.preprocessResized`): a quarter of the bytes of {@link preprocess}'s, for
   * `SiglipModel.embedResizedImages`, which normalises them on the inference thread.
   */
  async preprocessResized(bytes: Uint8Array, options: { maxPixels?: number; decode?: DecodeMode } = {}): Promise<ResizedImage> {
    const { pixels, width, height } = await this.request(bytes, options, 'resized');
    return { rgb: new Uint8Array(pixels), width, height };
  }

  private request(bytes: Uint8Array, options: { maxPixels?: number; decode?: DecodeMode }, output: PreprocessOutput): Promise<{ pixels: ArrayBuffer; width: number; height: number }> {
    if (this.closing) return Promise.reject(new Error('the preprocessing pool is closed'));
    const broken = this.allFailed();
    if (broken) return Promise.reject(broken);
    return new Promise((resolve, reject) => {
      this.waiting.push({ id: this.nextId++, bytes, maxPixels: options.maxPixels ?? this.maxPixels, decode: options.decode ?? this.decode, output, resolve, reject });
      this.dispatch();
    });
  }

  /** Stops the threads; images still in flight reject. */
  close(): Promise<void> {
    this.closing ??= Promise.all(
      this.threads.map(
        (thread) =>
          new Promise<void>((resolve) => {
            if (thread.failure) return resolve();
            const timer = setTimeout(() => void thread.worker.terminate(), 5_000);
            thread.worker.once('exit', () => {
              clearTimeout(timer);
              resolve();
            });
            thread.worker.ref();
            thread.worker.postMessage({ type: 'close' } satisfies ToPreprocessThread);
          }),
      ),
    ).then(() => this.failAll(new Error('the preprocessing pool was closed')));
    return this.closing;
  }

  /** Suspects first, each alone on an idle thread; other requests wait until none is left. */
  private dispatch(): void {
    while (this.suspects.length > 0) {
      const idle = this.threads.find((t) => !t.failure && t.busy === 0);
      if (!idle) break;
      idle.solo = true;
      this.send(idle, this.suspects.shift()!);
    }
    while (this.suspects.length === 0 && this.waiting.length > 0) {
      const thread = this.threads.reduce<PoolThread | undefined>((best, t) => (t.failure || t.solo ? best : !best || t.busy < best.busy ? t : best), undefined);
      if (!thread) break;
      this.send(thread, this.waiting.shift()!);
    }
    const broken = this.allFailed();
    if (broken) this.failAll(broken);
  }

  private send(thread: PoolThread, request: Request): void {
    // A copy (Buffer#slice would be a view): the caller keeps its bytes, the copy is transferred.
    const buffer = new Uint8Array(request.bytes).buffer;
    if (thread.busy++ === 0) thread.worker.ref();
    request.thread = thread;
    this.inFlight.set(request.id, request);
    const message: ToPreprocessThread = { type: 'run', id: request.id, bytes: buffer, maxPixels: request.maxPixels, decode: request.decode, output: request.output };
    thread.worker.postMessage(message, [buffer]);
  }

  private attach(thread: PoolThread): void {
    const { worker } = thread;
    worker.unref();
    worker.once('online', () => {
      if (thread.worker === worker) thread.online = true;
    });
    worker.on('message', (message: FromPreprocessThread) => this.onMessage(thread, message));
    worker.on('error', (error) => this.onThreadEnded(thread, worker, new Error(`a preprocessing thread failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => this.onThreadEnded(thread, worker, new Error(`a preprocessing thread exited (code ${code})`)));
  }

  private onMessage(thread: PoolThread, message: FromPreprocessThread): void {
    const request = this.inFlight.get(message.id);
    if (!request) return;
    this.inFlight.delete(message.id);
    thread.deaths = 0;
    if (message.type === 'result') {
      request.resolve({ pixels: message.pixels, width: message.width, height: message.height });
    } else {
      request.reject(new ImageError(message.code, message.message));
    }
    if (--thread.busy === 0) {
      thread.solo = false;
      if (!this.closing) thread.worker.unref();
    }
    this.dispatch();
  }

  /**
   * A thread died (`error` then `exit`, or `exit` alone). Which of its images killed it cannot be
   * told when it had several: those run again, one at a time. A lone image is the culprit.
   */
  private onThreadEnded(thread: PoolThread, worker: Worker, reason: Error): void {
    if (this.closing || thread.worker !== worker || thread.failure) return;
    const lost = [...this.inFlight.values()].filter((request) => request.thread === thread);
    for (const request of lost) this.inFlight.delete(request.id);
    const started = thread.online;
    if (!started || ++thread.deaths > MAX_DEATHS_WITHOUT_ANSWER) thread.failure = reason;
    else this.restart(thread);
    if (!started) {
      // It never ran them: not their fault. They go back to wait for another thread.
      for (const request of lost) (request.suspect ? this.suspects : this.waiting).unshift(request);
    } else if (lost.length === 1) {
      lost[0]!.reject(new ImageError('preprocess_failed', `the preprocessing thread died while preprocessing this image (${reason.message})`));
    } else {
      for (const request of lost) request.suspect = true;
      this.suspects.push(...lost);
    }
    this.dispatch();
  }

  private restart(thread: PoolThread): void {
    thread.busy = 0;
    thread.solo = false;
    thread.online = false;
    try {
      thread.worker = new Worker(threadEntry('preprocess'), { workerData: this.init });
    } catch (error) {
      thread.failure = error as Error;
      return;
    }
    this.attach(thread);
  }

  /** The first thread's failure when no thread is left, else undefined. */
  private allFailed(): Error | undefined {
    return this.threads.every((t) => t.failure) ? this.threads[0]!.failure : undefined;
  }

  private failAll(error: Error): void {
    for (const request of [...this.inFlight.values(), ...this.waiting, ...this.suspects]) request.reject(error);
    this.inFlight.clear();
    this.waiting.length = 0;
    this.suspects.length = 0;
  }
}
