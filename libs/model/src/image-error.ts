/**
 * Why an image could not be turned into pixels. The codes are the `error_code` values of
 * SPEC §3, so a worker writes them to the errors file as they are.
 */
export type ImageErrorCode = 'empty_object' | 'too_large_pixels' | 'unsupported_format' | 'decode_failed';

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
