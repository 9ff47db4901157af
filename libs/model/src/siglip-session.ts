import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { Worker } from 'node:worker_threads';
import { DeviceUnavailableError } from './device-unavailable-error';
import { ImagePreprocessor, normalizationTables } from './image-preprocessor';
import { InferenceOutOfMemoryError } from './inference-out-of-memory-error';
import type { ErrorPayload, FromThread, InferenceThreadInit, SessionDescription, ToThread, Tower } from './inference-protocol';
import { flattenPrompts, labelEmbeddings, LabelScorer, type LabelSet } from './label-scorer';
import { ModelLoadError } from './model-load-error';
import { resolveModelOptions, type ResolvedModelOptions, type SiglipModelOptions } from './model-options';
import { loadModelDir, type SiglipModelInfo } from './siglip-config';
import { loadTokenizer } from './load-tokenizer';
import type { TextTokenizer } from './text-tokenizer';
import { takePrestartedInferenceThread } from './inference-prestart';
import { turnOffOrtTelemetryUnlessSet } from './ort-telemetry';
import { threadEntry } from './thread-entry';

/**
 * A SigLIP model ready to embed: its validated directory (`info`), tokenizer, image
 * preprocessor, and the two ONNX Runtime sessions, which live on their own thread so that
 * inference never blocks the event loop.
 *
 *     const model = await SiglipModel.load('models/siglip-so400m-patch14-224', { device: 'cuda:0' });
 *     const batch = allocatePixelBatch(model.preprocessor, n);
 *     await model.preprocessor.preprocessInto(bytes, batch, 0); …
 *     const embeddings = await model.embedImages(batch, n); // n × D, L2-normalised
 *     await model.close();
 */
export class SiglipModel {
  private closed = false;

  private constructor(
    /** The validated model directory. */
    readonly info: SiglipModelInfo,
    /** The options in effect (defaults applied). */
    readonly options: ResolvedModelOptions,
    /** SigLIP's SentencePiece unigram or SigLIP 2's Gemma BPE tokenizer, as the directory needs. */
    readonly tokenizer: TextTokenizer,
    /** Bytes → pixel values exactly as the model's image processor computes them. */
    readonly preprocessor: ImagePreprocessor,
    /** ONNX Runtime's view of the loaded sessions' inputs and outputs (both towers unless `towers` said otherwise). */
    readonly sessions: Readonly<Partial<Record<Tower, SessionDescription>>>,
    private readonly thread: InferenceThread,
  ) {}

  /**
   * Validates options and the model directory (every problem in one `ModelLoadError`),
   * then creates the sessions of `options.towers` (both by default) on the inference thread. A CUDA device that cannot be used
   * fails with `DeviceUnavailableError`; there is no CPU fallback.
   * @param whileSessionsLoad Work for this thread, run once the inference thread has started and
   *   while it loads ONNX Runtime and the sessions, when this thread would otherwise be idle. It is
   *   given the validated model directory (its preprocessing, for threads started meanwhile).
   */
  static async load(dir: string, options: SiglipModelOptions = {}, whileSessionsLoad?: (info: SiglipModelInfo) => void): Promise<SiglipModel> {
    const { options: resolved, problems } = resolveModelOptions(options);
    if (!resolved) throw new ModelLoadError(resolve(dir), problems);
    if (resolved.device.kind === 'cuda') assertCudaProviderInstalled(resolved.deviceName);
    const info = await loadModelDir(dir, { variant: resolved.variant, verifyContentHash: resolved.verifyContentHash });
    // The sessions first: the tokenizer, the preprocessor and `whileSessionsLoad` are this
    // thread's work while the inference thread creates them.
    const starting = InferenceThread.start(
      {
        ...(resolved.towers.includes('vision') ? { visionPath: join(info.dir, info.visionFile) } : {}),
        ...(resolved.towers.includes('text') ? { textPath: join(info.dir, info.textFile) } : {}),
        device: resolved.device,
        intraOpThreads: resolved.intraOpThreads,
        graphOptimizationLevel: resolved.graphOptimizationLevel,
        embedDim: info.embedDim,
        normalization: normalizationTables(info.preprocess),
        ...(resolved.faults ? { faults: resolved.faults } : {}),
      },
      resolved.deviceName,
      info.dir,
    );
    // Awaited below, after this thread's own (asynchronous) work: a failure meanwhile is not unhandled.
    starting.catch(() => undefined);
    let tokenizer: TextTokenizer;
    let preprocessor: ImagePreprocessor;
    try {
      whileSessionsLoad?.(info);
      tokenizer = await loadTokenizer(info, resolved.lowercase === undefined ? {} : { lowercase: resolved.lowercase });
      preprocessor = new ImagePreprocessor(info.preprocess, { maxPixels: resolved.maxPixels, decode: resolved.decode });
    } catch (error) {
      await starting.then(({ thread }) => thread.close(), () => undefined);
      throw error;
    }
    const { thread, sessions } = await starting;
    return new SiglipModel(info, resolved, tokenizer, preprocessor, sessions, thread);
  }

  /** Width of the embeddings. */
  get embedDim(): number {
    return this.info.embedDim;
  }

  /**
   * Embeds `count` preprocessed images (`count × 3 × H × W` values, e.g. from
   * `preprocessor.preprocessInto`). Returns `count × embedDim` L2-normalised values.
   * The array's buffer is transferred to the inference thread (it is detached afterwards)
   * when it is exactly the batch; a view into a larger buffer is copied.
   * Throws `InferenceOutOfMemoryError` when ONNX Runtime cannot allocate the batch.
   */
  async embedImages(pixels: Float32Array, count: number): Promise<Float32Array> {
    const { height, width } = this.info.imageSize;
    const expected = count * 3 * height * width;
    if (!Number.isInteger(count) || count < 1 || pixels.length < expected) {
      throw new RangeError(`embedImages: ${pixels.length} values cannot hold ${count} images of 3×${height}×${width}`);
    }
    const buffer = ownBuffer(pixels.subarray(0, expected));
    return this.run('vision', buffer, [count, 3, height, width]);
  }

  /**
   * Embeds `count` images resized but not normalised: `count × H × W × 3` uint8 RGB, e.g. from
   * `preprocessor.preprocessResized` or `PreprocessPool.preprocessResized`. The inference thread
   * normalises them (the same floats as `preprocessor.preprocess`, so the same embeddings as
   * {@link embedImages}): a quarter of the bytes to pack and hand over. The buffer is transferred
   * like `embedImages`'.
   */
  async embedResizedImages(rgb: Uint8Array, count: number): Promise<Float32Array> {
    const { height, width } = this.info.imageSize;
    const expected = count * height * width * 3;
    if (!Number.isInteger(count) || count < 1 || rgb.length < expected) {
      throw new RangeError(`embedResizedImages: ${rgb.length} bytes cannot hold ${count} RGB images of ${height}×${width}`);
    }
    return this.run('vision', ownBuffer(rgb.subarray(0, expected)), [count, 3, height, width], true);
  }

  /** Embeds texts through the tokenizer (padded to the model's text length). `texts.length × embedDim`, normalised. */
  async embedTexts(texts: readonly string[]): Promise<Float32Array> {
    if (texts.length === 0) return new Float32Array(0);
    return this.embedTokenIds(this.tokenizer.encodeBatch(texts), texts.length);
  }

  /** Embeds already tokenised texts: int64 `[count × textLength]`. The buffer is transferred like `embedImages`'. */
  async embedTokenIds(ids: BigInt64Array, count: number): Promise<Float32Array> {
    const length = this.info.textLength;
    if (!Number.isInteger(count) || count < 1 || ids.length !== count * length) {
      throw new RangeError(`embedTokenIds: ${ids.length} ids are not ${count} rows of ${length}`);
    }
    return this.run('text', ownBuffer(ids), [count, length]);
  }

  /**
   * Embeds every prompt of a label set and averages each label's prompts (mean of the
   * normalised prompt embeddings, renormalised), ready to score image embeddings.
   */
  async labelScorer(set: LabelSet): Promise<LabelScorer> {
    const prompts = flattenPrompts(set);
    const embedded = await this.embedTexts(prompts);
    const embeddings = labelEmbeddings(set, embedded, this.embedDim);
    return new LabelScorer(set, embeddings, this.embedDim, this.info.logitScale, this.info.logitBias);
  }

  /** Releases the sessions and stops the inference thread. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.thread.close();
  }

  private async run(tower: Tower, buffer: ArrayBuffer, dims: number[], resized = false): Promise<Float32Array> {
    if (this.closed) throw new Error('the model is closed');
    if (!this.sessions[tower]) throw new Error(`this model was loaded without its ${tower} tower (option towers: ${this.options.towers.join(', ')})`);
    return new Float32Array(await this.thread.run(tower, buffer, dims, resized));
  }
}

/** The buffer of `view` when the view covers it exactly (so it can be transferred), else a copy's. */
function ownBuffer(view: Float32Array | BigInt64Array | Uint8Array): ArrayBuffer {
  if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength && view.buffer instanceof ArrayBuffer) return view.buffer;
  return view.slice().buffer as ArrayBuffer;
}

/** Execution providers this onnxruntime-node install can use, e.g. `['cpu']` or `['cpu', 'cuda']`. */
export async function availableExecutionProviders(): Promise<string[]> {
  turnOffOrtTelemetryUnlessSet();
  // A namespace import: tsx gives CommonJS modules no `default` in it, Node does.
  const ort = await import('onnxruntime-node');
  const providers: string[] = [];
  for (const backend of ort.listSupportedBackends()) {
    if (backend.name === 'cuda' || backend.name === 'tensorrt') {
      if (existsSync(join(ortBinaryDir(), `libonnxruntime_providers_${backend.name}.so`))) providers.push(backend.name);
    } else {
      providers.push(backend.name);
    }
  }
  return providers;
}

function ortBinaryDir(): string {
  const require = createRequire(import.meta.url);
  const root = dirname(require.resolve('onnxruntime-node/package.json'));
  return join(root, 'bin', 'napi-v6', process.platform, process.arch);
}

/** Fails before any model is read when ONNX Runtime's CUDA provider is not installed. */
function assertCudaProviderInstalled(deviceName: string): void {
  const dir = ortBinaryDir();
  const missing = ['libonnxruntime_providers_shared.so', 'libonnxruntime_providers_cuda.so'].filter((f) => !existsSync(join(dir, f)));
  if (process.platform === 'linux' && missing.length > 0) {
    throw new DeviceUnavailableError(
      deviceName,
      `device ${deviceName} cannot be used: ONNX Runtime's CUDA execution provider is not installed here ` +
        `(${missing.join(', ')} missing in ${dir}); install it with \`npm ci --onnxruntime-node-install=cuda12\` ` +
        `on a machine with CUDA 12 and cuDNN 9, or run with --device cpu`,
    );
  }
}

interface Pending {
  resolve(buffer: ArrayBuffer): void;
  reject(error: Error): void;
  batchSize: number;
}

/** The inference thread from the main thread's side: requests by id, refs the worker only while busy. */
class InferenceThread {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private failure: Error | undefined;
  private closing: Promise<void> | undefined;

  private constructor(private readonly worker: Worker) {
    worker.on('message', (message: FromThread) => this.onMessage(message));
    worker.on('error', (error) => this.failAll(new Error(`the inference thread failed: ${error.message}`, { cause: error })));
    worker.on('exit', (code) => {
      if (!this.closing) this.failAll(new Error(`the inference thread exited (code ${code})`));
    });
  }

  static async start(
    init: InferenceThreadInit,
    deviceName: string,
    dir: string,
  ): Promise<{ thread: InferenceThread; sessions: Partial<Record<Tower, SessionDescription>> }> {
    // A thread started ahead (`prestartInferenceThread`) has loaded ONNX Runtime's module meanwhile.
    const prestarted = takePrestartedInferenceThread();
    if (prestarted instanceof Error) throw prestarted;
    if (!prestarted) turnOffOrtTelemetryUnlessSet();
    const worker = prestarted ?? new Worker(threadEntry('inference'));
    worker.ref();
    const ready = await new Promise<FromThread>((resolveReady, rejectReady) => {
      const onExit = (code: number) => rejectReady(new Error(`the inference thread exited during start (code ${code})`));
      worker.once('error', rejectReady);
      worker.once('exit', onExit);
      worker.once('message', (message: FromThread) => {
        worker.off('error', rejectReady);
        worker.off('exit', onExit);
        resolveReady(message);
      });
      worker.postMessage({ type: 'init', init } satisfies ToThread);
    });
    if (ready.type !== 'ready') {
      await worker.terminate();
      if (ready.type === 'init-error' && ready.deviceFailure) {
        throw new DeviceUnavailableError(deviceName, `device ${deviceName} cannot be used: ${ready.error.message}`);
      }
      const reason = ready.type === 'init-error' ? ready.error.message : `unexpected message ${ready.type}`;
      throw new ModelLoadError(dir, [`ONNX Runtime cannot create the sessions on ${deviceName}: ${reason}`]);
    }
    const problems = checkSessions(ready.vision, ready.text);
    if (problems.length > 0) {
      await worker.terminate();
      throw new ModelLoadError(dir, problems);
    }
    const thread = new InferenceThread(worker);
    worker.unref();
    return { thread, sessions: { ...(ready.vision ? { vision: ready.vision } : {}), ...(ready.text ? { text: ready.text } : {}) } };
  }

  run(tower: Tower, buffer: ArrayBuffer, dims: number[], resized: boolean): Promise<ArrayBuffer> {
    if (this.failure) return Promise.reject(this.failure);
    const id = this.nextId++;
    return new Promise<ArrayBuffer>((resolveRun, rejectRun) => {
      if (this.pending.size === 0) this.worker.ref();
      this.pending.set(id, { resolve: resolveRun, reject: rejectRun, batchSize: dims[0]! });
      const message: ToThread = { type: 'run', id, tower, buffer, dims, ...(resized ? { resized } : {}) };
      this.worker.postMessage(message, [buffer]);
    });
  }

  close(): Promise<void> {
    this.closing ??= new Promise<void>((resolveClose) => {
      const timer = setTimeout(() => void this.worker.terminate(), 10_000);
      this.worker.once('exit', () => {
        clearTimeout(timer);
        this.failAll(new Error('the model was closed'));
        resolveClose();
      });
      this.worker.ref();
      this.worker.postMessage({ type: 'close' } satisfies ToThread);
    });
    return this.closing;
  }

  private onMessage(message: FromThread): void {
    if (message.type !== 'result' && message.type !== 'error') return;
    const request = this.pending.get(message.id);
    if (!request) return;
    this.pending.delete(message.id);
    if (this.pending.size === 0 && !this.closing) this.worker.unref();
    if (message.type === 'result') request.resolve(message.buffer);
    else request.reject(toInferenceError(message.error, request.batchSize));
  }

  private failAll(error: Error): void {
    this.failure ??= error;
    for (const request of this.pending.values()) request.reject(error);
    this.pending.clear();
  }
}

/** An error from the thread as the error class a caller acts on. */
export function toInferenceError(error: ErrorPayload, batchSize: number): Error {
  if (error.outOfMemory) return new InferenceOutOfMemoryError(batchSize, `out of memory for a batch of ${batchSize}: ${error.message}`);
  const converted = new Error(error.message);
  converted.name = error.name;
  return converted;
}

/** ORT's own view of the sessions, checked once more against what the model must have. */
function checkSessions(vision: SessionDescription | undefined, text: SessionDescription | undefined): string[] {
  const problems: string[] = [];
  const check = (tower: string, session: SessionDescription | undefined, input: string) => {
    if (!session) return;
    if (!session.inputs.some((i) => i.name === input)) {
      problems.push(`${tower} model: ONNX Runtime sees no input ${input} (inputs: ${session.inputs.map((i) => i.name).join(', ')})`);
    }
    if (!session.outputs.some((o) => o.name === 'pooler_output')) {
      problems.push(`${tower} model: ONNX Runtime sees no output pooler_output`);
    }
  };
  check('vision', vision, 'pixel_values');
  check('text', text, 'input_ids');
  return problems;
}
