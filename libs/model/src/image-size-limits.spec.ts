import { describe, expect, it } from 'vitest';
import { ImageError } from './image-error';
import { DEFAULT_MAX_PIXELS, DEFAULT_MAX_SIDE, MAX_PIXELS_CEILING, assertPixelLimit, checkImageSize } from './image-size-limits';
import { MAX_RESAMPLE_TAPS, precomputeCoefficients } from './pillow-resample';

const DEFAULTS = { maxPixels: DEFAULT_MAX_PIXELS, maxSide: DEFAULT_MAX_SIDE };

function refusal(width: number, height: number, limits = DEFAULTS): ImageError | undefined {
  try {
    checkImageSize(width, height, limits);
    return undefined;
  } catch (error) {
    expect(error).toBeInstanceOf(ImageError);
    return error as ImageError;
  }
}

describe('checkImageSize', () => {
  it('refuses a side over the limit although the pixel count is within it (100,000,000 × 1 and 1 × 100,000,000)', () => {
    for (const [w, h] of [[100_000_000, 1], [1, 100_000_000], [65_536, 1], [1, 65_536]] as const) {
      const error = refusal(w, h);
      expect(error?.code, `${w}×${h}`).toBe('too_large_pixels');
      expect(error?.message).toBe(`${w}×${h}: a side of ${Math.max(w, h)} pixels exceeds the limit of 65535 per side`);
    }
  });

  it('accepts what real photos are, up to both limits exactly', () => {
    for (const [w, h] of [[1, 1], [4000, 3000], [10_000, 10_000], [65_535, 1525], [1525, 65_535], [65_535, 1], [16_383, 6103]] as const) {
      expect(refusal(w, h), `${w}×${h}`).toBeUndefined();
    }
  });

  it('refuses more pixels than the limit, naming both numbers', () => {
    const error = refusal(10_001, 10_000);
    expect(error?.code).toBe('too_large_pixels');
    expect(error?.message).toBe('10001×10000 = 100010000 pixels exceeds the limit of 100000000');
    expect(refusal(30, 30, { maxPixels: 899, maxSide: 100 })?.message).toContain('= 900 pixels');
    expect(refusal(101, 1, { maxPixels: 899, maxSide: 100 })?.message).toContain('a side of 101');
  });

  it('keeps the resampler tables of any accepted side far under the resampler\'s own bound', () => {
    // The largest table an accepted image can need: the longest side shrunk to a small output.
    for (const out of [224, 384, 512]) {
      const { kernelSize } = precomputeCoefficients(DEFAULT_MAX_SIDE, out);
      expect(out * kernelSize).toBeLessThan(MAX_RESAMPLE_TAPS / 7);
    }
  });
});

describe('assertPixelLimit', () => {
  it('takes 1 … one gigapixel and names the setting otherwise', () => {
    expect(() => assertPixelLimit('--max-pixels', 1)).not.toThrow();
    expect(() => assertPixelLimit('--max-pixels', MAX_PIXELS_CEILING)).not.toThrow();
    expect(() => assertPixelLimit('--max-pixels', 999_999_999_999)).toThrow('--max-pixels must be an integer from 1 to 1000000000, got 999999999999');
    expect(() => assertPixelLimit('--max-pixels', 0)).toThrow(RangeError);
    expect(() => assertPixelLimit('--max-pixels', 1.5)).toThrow(RangeError);
  });
});
