import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImageError } from './image-error';
import { ImagePreprocessor, type ImagePreprocessConfig } from './image-preprocessor';
import { PreprocessPool, defaultPreprocessThreads } from './preprocess-pool';
import { BROKEN_IMAGES_DIR, IMAGES_DIR } from './testing/model-fixtures';

const SIGLIP: ImagePreprocessConfig = {
  height: 224,
  width: 224,
  doRescale: true,
  rescaleFactor: 0.00392156862745098,
  doNormalize: true,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
};

/** The pool's threads (private), to end one for real as a crash would. */
const threadsOf = (pool: PreprocessPool) => (pool as unknown as { threads: Array<{ worker: Worker }> }).threads;

describe('defaultPreprocessThreads', () => {
  it('is one thread per core but one, and at least one', () => {
    expect([1, 2, 3, 8, 64].map((cores) => defaultPreprocessThreads(cores))).toEqual([1, 1, 2, 7, 63]);
  });

  it('is what a pool starts without a thread count', async () => {
    const pool = await PreprocessPool.start(SIGLIP);
    try {
      expect(pool.size).toBe(defaultPreprocessThreads());
    } finally {
      await pool.close();
    }
  });
});

describe('PreprocessPool', () => {
  let pool: PreprocessPool;
  beforeAll(async () => {
    pool = await PreprocessPool.start(SIGLIP, { threads: 2 });
  });
  afterAll(() => pool.close());

  it('gives exactly the pixels of ImagePreprocessor, for every fixture image at once', async () => {
    const local = new ImagePreprocessor(SIGLIP);
    const files = readdirSync(IMAGES_DIR).sort();
    const bytes = files.map((file) => readFileSync(join(IMAGES_DIR, file)));
    const pooled = await Promise.all(bytes.map((b) => pool.preprocess(b)));
    for (const [i, b] of bytes.entries()) {
      const expected = await local.preprocess(b);
      expect(pooled[i]!.width, files[i]).toBe(expected.width);
      expect(pooled[i]!.height, files[i]).toBe(expected.height);
      expect(Buffer.from(pooled[i]!.pixels.buffer).equals(Buffer.from(expected.pixels.buffer)), files[i]).toBe(true);
    }
    // The caller's bytes are copied, not transferred: they stay usable (e.g. for hashing).
    expect(bytes[0]!.length).toBeGreaterThan(0);
  }, 60_000);

  it('gives exactly the resized bytes of ImagePreprocessor.preprocessResized, and its errors', async () => {
    const local = new ImagePreprocessor(SIGLIP);
    const files = ['astronaut_large_4000x3000.jpg', 'chelsea.webp', 'coffee_palette.png', 'motorcycle_exif6.jpg', 'chelsea_crop_64x64.png'];
    const bytes = files.map((file) => readFileSync(join(IMAGES_DIR, file)));
    const pooled = await Promise.all(bytes.map((b) => pool.preprocessResized(b)));
    for (const [i, b] of bytes.entries()) {
      const expected = await local.preprocessResized(b);
      expect(pooled[i]!.rgb, files[i]).toBeInstanceOf(Uint8Array);
      expect(pooled[i]!.rgb.length, files[i]).toBe(224 * 224 * 3);
      expect([pooled[i]!.width, pooled[i]!.height], files[i]).toEqual([expected.width, expected.height]);
      expect(Buffer.from(pooled[i]!.rgb).equals(Buffer.from(expected.rgb)), files[i]).toBe(true);
    }
    const empty = await pool.preprocessResized(new Uint8Array(0)).catch((e: unknown) => e);
    expect((empty as ImageError).code).toBe('empty_object');
  }, 60_000);

  it('rejects bad images with ImageError and its code, and honours a per-call pixel limit', async () => {
    const broken = readdirSync(BROKEN_IMAGES_DIR).sort()[0]!;
    const error = await pool.preprocess(readFileSync(join(BROKEN_IMAGES_DIR, broken))).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    const empty = await pool.preprocess(new Uint8Array(0)).catch((e: unknown) => e);
    expect((empty as ImageError).code).toBe('empty_object');
    const big = readFileSync(join(IMAGES_DIR, 'astronaut_large_4000x3000.jpg'));
    const tooLarge = await pool.preprocess(big, { maxPixels: 1_000_000 }).catch((e: unknown) => e);
    expect((tooLarge as ImageError).code).toBe('too_large_pixels');
  });

  it('survives a thread that dies: its images run again alone and all succeed, and the pool keeps working', async () => {
    const one = await PreprocessPool.start(SIGLIP, { threads: 1 });
    try {
      const local = new ImagePreprocessor(SIGLIP);
      const files = ['astronaut_large_4000x3000.jpg', 'chelsea.webp', 'coffee_palette.png'];
      const bytes = files.map((file) => readFileSync(join(IMAGES_DIR, file)));
      const pending = bytes.map((b) => one.preprocess(b));
      // The thread ends with three images in flight (a real thread death; which image caused
      // such a death cannot be told, so none of them is blamed).
      await threadsOf(one)[0]!.worker.terminate();
      const results = await Promise.all(pending);
      for (const [i, b] of bytes.entries()) {
        expect(Buffer.from(results[i]!.pixels.buffer).equals(Buffer.from((await local.preprocess(b)).pixels.buffer)), files[i]).toBe(true);
      }
      await expect(one.preprocess(bytes[1]!)).resolves.toMatchObject({ width: results[1]!.width });
    } finally {
      await one.close();
    }
  }, 60_000);

  it('blames a thread\'s death on the image it was preprocessing alone: preprocess_failed, then carries on', async () => {
    const one = await PreprocessPool.start(SIGLIP, { threads: 1 });
    try {
      const big = readFileSync(join(IMAGES_DIR, 'astronaut_large_4000x3000.jpg'));
      const pending = one.preprocess(big).catch((e: unknown) => e);
      await threadsOf(one)[0]!.worker.terminate();
      const error = await pending;
      expect(error).toBeInstanceOf(ImageError);
      expect((error as ImageError).code).toBe('preprocess_failed');
      expect((error as ImageError).message).toMatch(/^the preprocessing thread died while preprocessing this image \(a preprocessing thread exited \(code 1\)\)$/);
      await expect(one.preprocess(readFileSync(join(IMAGES_DIR, 'pixel_1x1.png')))).resolves.toMatchObject({ width: 1, height: 1 });
    } finally {
      await one.close();
    }
  }, 60_000);

  it('refuses work once closed', async () => {
    const other = await PreprocessPool.start(SIGLIP, { threads: 1 });
    await other.close();
    await expect(other.preprocess(new Uint8Array(10))).rejects.toThrow(/closed/);
  });
});
