import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { toFloat16Bits } from './float16';
import { ImagePreprocessor, normalizationTables, type ImagePreprocessConfig } from './image-preprocessor';
import { ResizedBatchInput } from './resized-batch';
import { IMAGES_DIR } from './testing/model-fixtures';

// Per-channel means and deviations that differ (CLIP's), at a size that is not square, so that a
// channel or an axis swapped anywhere shows.
const CONFIG: ImagePreprocessConfig = {
  height: 48,
  width: 64,
  doRescale: true,
  rescaleFactor: 1 / 255,
  doNormalize: true,
  mean: [0.48145466, 0.4578275, 0.40821073],
  std: [0.26862954, 0.26130258, 0.27577711],
};
const FILES = ['chelsea.webp', 'motorcycle_exif6.jpg', 'coffee_palette.png'];

async function resizedBatch(preprocessor: ImagePreprocessor): Promise<Uint8Array> {
  const images = await Promise.all(FILES.map((file) => preprocessor.preprocessResized(readFileSync(join(IMAGES_DIR, file)))));
  return Buffer.concat(images.map((image) => image.rgb));
}

describe('ResizedBatchInput', () => {
  it('normalises a resized batch to exactly the floats ImagePreprocessor.preprocess gives, image by image', async () => {
    const preprocessor = new ImagePreprocessor(CONFIG);
    const rgb = await resizedBatch(preprocessor);
    expect(rgb.length).toBe(FILES.length * 48 * 64 * 3);
    const out = new ResizedBatchInput(normalizationTables(CONFIG)).normalize(rgb, [FILES.length, 3, 48, 64], false);
    expect(out).toBeInstanceOf(Float32Array);
    for (const [i, file] of FILES.entries()) {
      const { pixels } = await preprocessor.preprocess(readFileSync(join(IMAGES_DIR, file)));
      const slot = out.subarray(i * pixels.length, (i + 1) * pixels.length);
      expect(Buffer.from(slot.buffer, slot.byteOffset, slot.byteLength).equals(Buffer.from(pixels.buffer)), file).toBe(true);
    }
  });

  it('gives float16 bits equal to the float32 values converted, for a model whose input is float16', async () => {
    const rgb = await resizedBatch(new ImagePreprocessor(CONFIG));
    const input = new ResizedBatchInput(normalizationTables(CONFIG));
    const floats = input.normalize(rgb, [FILES.length, 3, 48, 64], false).slice() as Float32Array;
    const half = input.normalize(rgb, [FILES.length, 3, 48, 64], true);
    expect(half).toBeInstanceOf(Uint16Array);
    expect(Array.from(half)).toEqual(Array.from(toFloat16Bits(floats)));
  });

  it('writes every batch into the one buffer it keeps, growing it for a larger batch only', () => {
    const input = new ResizedBatchInput(normalizationTables(CONFIG));
    const plane = 48 * 64;
    const one = input.normalize(new Uint8Array(plane * 3).fill(7), [1, 3, 48, 64], false);
    const first = one.buffer;
    const two = input.normalize(new Uint8Array(2 * plane * 3).fill(9), [2, 3, 48, 64], false);
    expect(two.buffer).not.toBe(first);
    expect(two.length).toBe(2 * 3 * plane);
    const again = input.normalize(new Uint8Array(plane * 3).fill(200), [1, 3, 48, 64], false);
    expect(again.buffer).toBe(two.buffer);
    expect(again.length).toBe(3 * plane);
    const tables = normalizationTables(CONFIG);
    expect([again[0], again[plane], again[2 * plane]]).toEqual([tables[200], tables[256 + 200], tables[512 + 200]]);
  });

  it('refuses bytes that are not the dims as RGB, and lookups that are not 3 × 256', () => {
    const input = new ResizedBatchInput(normalizationTables(CONFIG));
    expect(() => input.normalize(new Uint8Array(10), [1, 3, 48, 64], false)).toThrow(RangeError);
    expect(() => input.normalize(new Uint8Array(48 * 64 * 3), [1, 1, 48, 64 * 3], false)).toThrow(/not \[1, 1, 48, 192\] as RGB/);
    expect(() => input.normalize(new Uint8Array(0), [0, 3, 48, 64], false)).toThrow(RangeError);
    expect(() => new ResizedBatchInput(new Float32Array(256))).toThrow(/3 × 256/);
  });
});
