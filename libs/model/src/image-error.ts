/**
 * Why an image could not be turned into pixels. The codes are `error_code` values of the
 * errors file, so a worker writes them as they are. `preprocess_failed` is any failure that
 * is none of the others (an allocation, the resampler, a preprocessing thread that died on
 * the image): still that one image's row, never a failed shard.
 */
export type ImageErrorCode = 'empty_object' | 'too_large_pixels' | 'unsupported_format' | 'decode_failed' | 'preprocess_failed';

/**
 * A bad input image: a data fault of that one image (a row with `status = error`), never a
 * fault of the model or of the run.
 */
export class ImageError extends Error {
  constructor(
    readonly code: ImageErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = this.constructor.name;
    Object.setPrototypeOf(this, new.target.prototype);
  }
}
