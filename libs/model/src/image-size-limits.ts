import { ImageError } from './image-error';

/**
 * The size checks made from an image's header, before a single pixel is decoded, so that the
 * memory one image can cost is bounded whatever its bytes say (see the README's "Memory per
 * image"):
 *
 * - the pixel count of one frame (`maxPixels`): the decoded RGB is 3 bytes a pixel, and the
 *   resampler holds a copy of it;
 * - each side (`maxSide`): the resampler's coefficient table of an axis grows with that axis'
 *   length (≈ 4 taps per source pixel when shrinking to the model's size, 16 bytes a tap
 *   packed for WebAssembly), whatever the pixel count — a 100,000,000 × 1 image has only
 *   10⁸ pixels but would need a 6.4 GB table.
 */
export interface ImageSizeLimits {
  /** Largest `width × height` of one frame. */
  readonly maxPixels: number;
  /** Largest width and largest height. */
  readonly maxSide: number;
}

/** Default pixel limit: 100 megapixels (300 MB decoded). */
export const DEFAULT_MAX_PIXELS = 100_000_000;

/**
 * The largest pixel limit any setting accepts (a run's `--max-pixels`, a worker's ceiling):
 * one gigapixel, 3 GB of decoded RGB for a single image. Larger values are a mistake or an
 * attack, never a photo.
 */
export const MAX_PIXELS_CEILING = 1_000_000_000;

/**
 * Default side limit: 65,535 pixels, the largest side a JPEG or GIF header can state (WebP's
 * is 16,383). Camera and phone panoramas stay well below it; a side beyond it at ≤ 100 Mpx
 * means an aspect ratio over 40:1, which a square model input squashes to noise anyway.
 * Its resampler tables: ≈ 0.26 M taps an axis, ≈ 4 MB packed.
 */
export const DEFAULT_MAX_SIDE = 65_535;

/** Throws `too_large_pixels` when a `width × height` frame exceeds `limits`. */
export function checkImageSize(width: number, height: number, limits: ImageSizeLimits): void {
  const side = Math.max(width, height);
  if (side > limits.maxSide) {
    throw new ImageError(
      'too_large_pixels',
      `${width}×${height}: a side of ${side} pixels exceeds the limit of ${limits.maxSide} per side`,
    );
  }
  if (width * height > limits.maxPixels) {
    throw new ImageError('too_large_pixels', `${width}×${height} = ${width * height} pixels exceeds the limit of ${limits.maxPixels}`);
  }
}

/** Validates a pixel limit given as an option (a positive integer ≤ {@link MAX_PIXELS_CEILING}). */
export function assertPixelLimit(name: string, value: number): void {
  if (!Number.isInteger(value) || value < 1 || value > MAX_PIXELS_CEILING) {
    throw new RangeError(`${name} must be an integer from 1 to ${MAX_PIXELS_CEILING}, got ${value}`);
  }
}
