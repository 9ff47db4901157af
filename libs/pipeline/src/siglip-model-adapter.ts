import {
  DEFAULT_MAX_PIXELS,
  ImageError,
  ImagePreprocessor,
  InferenceOutOfMemoryError,
  PreprocessPool,
  SiglipModel,
  assertPixelLimit,
  buildLabelSet,
  describeDecodeMode,
  loadModelDir,
  type DecodeMode,
  type InferenceFaults,
  type ModelVariant,
  type SiglipModelInfo,
} from '@siglip-batch/model';
import { preloadArrow, preloadParquet } from '@siglip-batch/io';
import type { LabelSpec, ModelRef } from '@siglip-batch/jobs';
import type { ImageEmbedder, ImageFailure, ShardScorer, ShardImage } from './embedder';
import type { EncodedLabels, LoadedModel } from './loaded-model';

/**
 * Version of the preprocessing recorded in every Parquet file: bump it whenever pixels can
 * change (resampler, colour handling), so that stored embeddings can be told apart.
 */
export const PREPROCESSING_VERSION = 'siglip-batch/1 pillow-bicubic exif no-icc alpha-dropped';

export interface LoadSiglipOptions {
  /** `cpu`, `cuda` or `cuda:N`. */
  device: string;
  variant: ModelVariant;
  intraOpThreads?: number;
  /** Test seams: a slow or broken model faked on the inference thread (the fault suite). */
  faults?: InferenceFaults;
  /**
   * Preprocessing threads (decode + Pillow resize off the event loop, see `PreprocessPool`);
   * 0 preprocesses on the calling thread. @defaultValue `defaultPreprocessThreads()` (one per core but one)
   */
  preprocessThreads?: number;
  /**
   * This process's ceiling on the pixel limit: a run's own `maxPixels` (from its spec, which
   * whoever enqueued the run chose) applies only below it, so no run can make this process
   * decode larger images. At most `MAX_PIXELS_CEILING` (1,000,000,000).
   * @defaultValue 100_000_000
   */
  maxPixels?: number;
}

function refOf(info: SiglipModelInfo): ModelRef {
  return {
    hash: info.contentHash,
    variant: info.variant,
    checkpoint: info.checkpoint,
    embedDim: info.embedDim,
    textLength: info.textLength,
    imageSize: { height: info.imageSize.height, width: info.imageSize.width },
  };
}

/** What the producer needs of a model: its validated directory, without ONNX sessions. */
export async function inspectSiglipModel(dir: string, variant: ModelVariant = 'fp32'): Promise<ModelRef> {
  return refOf(await loadModelDir(dir, { variant }));
}

/** Loads a SigLIP model dir (sessions on their own thread) as the pipeline's {@link LoadedModel}. */
export async function loadSiglipModel(dir: string, options: LoadSiglipOptions): Promise<LoadedModel> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  assertPixelLimit('the pixel ceiling (--max-pixels)', maxPixels);
  const threads = options.preprocessThreads;
  // Started while the sessions load, not after them: its threads start a Node environment and load
  // sharp (~0.1 s of CPU each) at the same time as the inference thread loads ONNX Runtime.
  let poolStarting: Promise<PreprocessPool> | undefined;
  let model: SiglipModel;
  try {
    model = await SiglipModel.load(
      dir,
      {
        device: options.device,
        variant: options.variant,
        ...(options.intraOpThreads ? { intraOpThreads: options.intraOpThreads } : {}),
        ...(options.faults ? { faults: options.faults } : {}),
      } as Parameters<typeof SiglipModel.load>[1],
      (info) => {
        if (threads !== 0) {
          poolStarting = PreprocessPool.start(info.preprocess, threads === undefined ? {} : { threads });
          // Handled where it is awaited below; this keeps a failure meanwhile from being unhandled.
          poolStarting.catch(() => undefined);
        }
        // This thread is idle while the inference thread loads ONNX Runtime and the sessions
        // (~0.3–0.5 s): load apache-arrow and parquet-wasm, and run the wasm writer once, which
        // the run's first Parquet write (labels.parquet) needs, then rather than on the critical
        // path after them (~0.4 s for apache-arrow, 0.1–0.25 s for parquet-wasm's compile and
        // first write).
        preloadArrow();
        preloadParquet();
      },
    );
  } catch (error) {
    await poolStarting?.then((pool) => pool.close(), () => undefined);
    throw error;
  }
  let pool: PreprocessPool | null = null;
  try {
    if (poolStarting) pool = await poolStarting;
  } catch (error) {
    await model.close();
    throw error;
  }
  return new SiglipLoadedModel(model, pool, maxPixels);
}

class SiglipLoadedModel implements LoadedModel {
  readonly ref: ModelRef;
  readonly preprocessing = PREPROCESSING_VERSION;
  readonly embedder: ImageEmbedder;
  // One preprocessor per pixel limit and decode mode (runs may set their own).
  private readonly preprocessors = new Map<string, ImagePreprocessor>();

  constructor(
    private readonly model: SiglipModel,
    private readonly pool: PreprocessPool | null,
    private readonly maxPixelsCeiling: number,
  ) {
    this.ref = refOf(model.info);
    const { height, width } = model.info.imageSize;
    this.embedder = {
      embedDim: model.embedDim,
      pixelsPerImage: 3 * height * width,
      // Resized uint8 between the threads, normalised on the inference thread: a quarter of the
      // bytes to copy out of the preprocessing thread, pack into batches and hand over.
      pixelFormat: 'resized',
      // The run's limit, never above this process's own.
      preprocess: (bytes, options) => this.preprocess(bytes, Math.min(options.maxPixels, this.maxPixelsCeiling), options.decode ?? { mode: 'exact' }),
      embedImages: (pixels, count) => (pixels instanceof Uint8Array ? model.embedResizedImages(pixels, count) : model.embedImages(pixels, count)),
      isOutOfMemory: (error) => error instanceof InferenceOutOfMemoryError,
    };
  }

  private async preprocess(bytes: Buffer, maxPixels: number, decode: DecodeMode): Promise<ShardImage | ImageFailure> {
    if (this.pool) {
      try {
        const { rgb, width, height } = await this.pool.preprocessResized(bytes, { maxPixels, decode });
        return { pixels: rgb, width, height };
      } catch (error) {
        if (error instanceof ImageError) return { code: error.code, message: error.message };
        // Not the image's: the pool is closed (the process is stopping) or has no thread left.
        throw error;
      }
    }
    const key = `${maxPixels} ${describeDecodeMode(decode)}`;
    let preprocessor = this.preprocessors.get(key);
    if (!preprocessor) {
      preprocessor = new ImagePreprocessor(this.model.info.preprocess, { maxPixels, decode });
      this.preprocessors.set(key, preprocessor);
    }
    try {
      const { rgb, width, height } = await preprocessor.preprocessResized(bytes);
      return { pixels: rgb, width, height };
    } catch (error) {
      if (error instanceof ImageError) return { code: error.code, message: error.message };
      throw error;
    }
  }

  async encodeLabels(labels: LabelSpec[], templates: string[]): Promise<EncodedLabels> {
    const set = buildLabelSet(
      labels.map((label) => ({
        label: label.label,
        threshold: label.threshold,
        ...(label.prompts.length > 0 ? { prompts: label.prompts } : {}),
      })),
      { templates },
    );
    const scorer = await this.model.labelScorer(set);
    const adapted: ShardScorer = {
      labels: [...set.labels],
      score: (embeddings) => scorer.score(embeddings),
      tags: (scores, row) => scorer.row(scores, row).tags,
    };
    return { scorer: adapted, prompts: set.prompts.map((p) => [...p]), embeddings: scorer.embeddings };
  }

  async close(): Promise<void> {
    await Promise.all([this.model.close(), this.pool?.close()]);
  }
}
