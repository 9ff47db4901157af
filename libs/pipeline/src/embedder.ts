import type { DecodeSpec } from '@siglip-batch/jobs';

/**
 * What the shard processor needs from a model, as an interface: the worker and one-process
 * mode adapt libs/model's SigLIP to it (see `siglip-model-adapter.ts`), tests can wrap it.
 */

/** One image of a shard between the decode and the infer step (libs/model's `PreprocessedImage`, as the shard path holds it). */
export interface ShardImage {
  /**
   * One image's pixels in its embedder's {@link ImageEmbedder.pixelFormat}: normalised CHW float32
   * (3·H·W values), or resized HWC uint8 RGB (H·W·3 bytes) that the embedder normalises itself. A
   * buffer of its own, which the shard processor frees (detaches) once the image is embedded.
   */
  pixels: Float32Array | Uint8Array;
  /** Size after EXIF orientation, before resizing. */
  width: number;
  height: number;
}

/** A per-object failure of decoding or preprocessing; `code` is an errors-file code. */
export interface ImageFailure {
  code: string;
  message: string;
}

export interface ImageEmbedder {
  /** Embedding width D. */
  readonly embedDim: number;
  /** Values per preprocessed image (3·H·W), whichever the format. */
  readonly pixelsPerImage: number;
  /**
   * What `preprocess` gives and `embedImages` takes: `normalized` (the default), float32 model
   * input; `resized`, uint8 RGB normalised by `embedImages` (a quarter of the bytes to move).
   */
  readonly pixelFormat?: 'normalized' | 'resized';
  /**
   * Decode + preprocess. Any failure of this image (bad bytes, over a limit, or anything
   * unexpected while preprocessing it) resolves to an {@link ImageFailure}; it throws only when
   * preprocessing cannot run at all (e.g. its thread pool is closed), which is not the image's fault.
   * `maxPixels` is the run's limit; an implementation may apply a lower ceiling of its own.
   * `decode` is the run's decode mode (absent: exact).
   */
  preprocess(bytes: Buffer, options: { maxPixels: number; decode?: DecodeSpec }): Promise<ShardImage | ImageFailure>;
  /**
   * L2-normalised embeddings of `count` images packed in `pixels` (count·pixelsPerImage),
   * count·D values. The buffer may be transferred to another thread: callers must not reuse it.
   */
  embedImages(pixels: Float32Array | Uint8Array, count: number): Promise<Float32Array>;
  /** True when an error of `embedImages` means "not enough memory for this batch". */
  isOutOfMemory(error: unknown): boolean;
}

/**
 * Scores a shard's embeddings against the run's labels, for the part file's `scores` and `tags`
 * columns (sigmoid probabilities and tags): libs/model's `LabelScorer`, adapted.
 */
export interface ShardScorer {
  readonly labels: string[];
  /** Probabilities, count·L values, label order as in `labels`. */
  score(embeddings: Float32Array, count: number): Float32Array;
  /** Labels whose score reaches their threshold, best first. */
  tags(scores: Float32Array, row: number): string[];
}

export function isImageFailure(value: ShardImage | ImageFailure): value is ImageFailure {
  return (value as ImageFailure).code !== undefined;
}
