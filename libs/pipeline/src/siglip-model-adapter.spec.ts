/**
 * The loaded model as the shard processor sees it: every failure of an image is a value (a
 * row), and the process's pixel ceiling holds whatever limit a run's spec asks for.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isImageFailure } from './embedder';
import type { LoadedModel } from './loaded-model';
import { loadSiglipModel } from './siglip-model-adapter';

const fixture = (path: string) => fileURLToPath(new URL(`../../../fixtures/${path}`, import.meta.url));
const TINY_MODEL = fixture('models/tiny-siglip');
const CROP_64 = readFileSync(fixture('images/chelsea_crop_64x64.png'));
const PIXEL = readFileSync(fixture('images/pixel_1x1.png'));

describe.each([
  ['on a preprocessing thread', 1],
  ['on the calling thread', 0],
])('loadSiglipModel: pixel ceiling and failures as values (%s)', (_, preprocessThreads) => {
  let model: LoadedModel;
  beforeAll(async () => {
    // A ceiling of 1000 pixels: a 64×64 image (4096) is over it, a 1×1 is not.
    model = await loadSiglipModel(TINY_MODEL, { device: 'cpu', variant: 'fp32', intraOpThreads: 1, preprocessThreads, maxPixels: 1000 });
  }, 60_000);
  afterAll(() => model?.close());

  it('keeps its ceiling when a run asks for more (a spec cannot raise it)', async () => {
    const result = await model.embedder.preprocess(CROP_64, { maxPixels: 999_999_999_999 });
    expect(isImageFailure(result) && result).toEqual({ code: 'too_large_pixels', message: '64×64 = 4096 pixels exceeds the limit of 1000' });
    expect(isImageFailure(await model.embedder.preprocess(PIXEL, { maxPixels: 999_999_999_999 }))).toBe(false);
  });

  it("applies a run's lower limit below the ceiling", async () => {
    const result = await model.embedder.preprocess(PIXEL, { maxPixels: 1000 });
    expect(isImageFailure(result)).toBe(false);
    const lower = await model.embedder.preprocess(CROP_64.subarray(0), { maxPixels: 100 });
    expect(isImageFailure(lower) && lower.message).toBe('64×64 = 4096 pixels exceeds the limit of 100');
  });

  it('resolves a bad image to a failure value, never a throw', async () => {
    const result = await model.embedder.preprocess(Buffer.from('not an image'), { maxPixels: 1000 });
    expect(isImageFailure(result) && result.code).toBe('unsupported_format');
  });
});

describe('loadSiglipModel: the ceiling itself', () => {
  it('refuses a ceiling above one gigapixel before loading anything', async () => {
    await expect(loadSiglipModel(TINY_MODEL, { device: 'cpu', variant: 'fp32', maxPixels: 999_999_999_999 })).rejects.toThrow(
      'the pixel ceiling (--max-pixels) must be an integer from 1 to 1000000000, got 999999999999',
    );
  });
});
