import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DeviceUnavailableError } from './device-unavailable-error';
import { allocatePixelBatch } from './image-preprocessor';
import { InferenceOutOfMemoryError } from './inference-out-of-memory-error';
import { buildLabelSet } from './label-scorer';
import { inferenceThreadPending, prestartInferenceThread, takePrestartedInferenceThread } from './inference-prestart';
import { ModelLoadError } from './model-load-error';
import { availableExecutionProviders, SiglipModel, toInferenceError } from './siglip-session';
import { IMAGES_DIR, TINY_MODEL_DIR } from './testing/model-fixtures';

let model: SiglipModel;
beforeAll(async () => {
  // One intra-op thread: the inference thread then keeps one core busy and leaves the other
  // to the event loop, as a worker with a GPU would.
  model = await SiglipModel.load(TINY_MODEL_DIR, { intraOpThreads: 1 });
});
afterAll(async () => {
  await model?.close();
});

function norm(row: Float32Array): number {
  return Math.sqrt(row.reduce((s, v) => s + v * v, 0));
}

describe('SiglipModel', () => {
  it('embeds images and texts as L2-normalised rows of the model width', async () => {
    const batch = allocatePixelBatch(model.preprocessor, 2);
    await model.preprocessor.preprocessInto(readFileSync(join(IMAGES_DIR, 'chelsea.webp')), batch, 0);
    await model.preprocessor.preprocessInto(readFileSync(join(IMAGES_DIR, 'rocket.tif')), batch, 1);
    const images = await model.embedImages(batch, 2);
    expect(images).toHaveLength(2 * 32);
    expect(norm(images.subarray(0, 32))).toBeCloseTo(1, 5);
    expect(batch.byteLength).toBe(0); // transferred to the inference thread
    const texts = await model.embedTexts(['a cat', 'a rocket', 'a cat']);
    expect(texts).toHaveLength(3 * 32);
    expect(Array.from(texts.subarray(64))).toEqual(Array.from(texts.subarray(0, 32)));
  });

  it('copies a view into a larger buffer instead of detaching it', async () => {
    const big = new Float32Array(3 * model.preprocessor.valuesPerImage);
    const view = big.subarray(model.preprocessor.valuesPerImage);
    await model.embedImages(view, 1);
    expect(big.length).toBe(3 * model.preprocessor.valuesPerImage);
  });

  it('embeds resized images (normalised on the inference thread) exactly as their normalised pixels', async () => {
    const files = ['chelsea.webp', 'rocket.tif', 'motorcycle_exif6.jpg'];
    const bytes = files.map((file) => readFileSync(join(IMAGES_DIR, file)));
    const batch = allocatePixelBatch(model.preprocessor, files.length);
    for (const [i, b] of bytes.entries()) await model.preprocessor.preprocessInto(b, batch, i);
    const resized = Buffer.concat(await Promise.all(bytes.map(async (b) => (await model.preprocessor.preprocessResized(b)).rgb)));
    const rgb = new Uint8Array(resized.buffer.slice(resized.byteOffset, resized.byteOffset + resized.length));
    const [fromPixels, fromResized] = [await model.embedImages(batch, files.length), await model.embedResizedImages(rgb, files.length)];
    expect(Array.from(fromResized)).toEqual(Array.from(fromPixels));
    expect(rgb.byteLength).toBe(0); // transferred to the inference thread
    // Twice more, one image then all three: the thread's kept input buffer holds no stale values.
    // (A batch of one against a batch of one: ONNX Runtime's sums may differ in the last bit by batch size.)
    const first = await model.preprocessor.preprocessResized(bytes[0]!);
    const { pixels } = await model.preprocessor.preprocess(bytes[0]!);
    expect(Array.from(await model.embedResizedImages(first.rgb, 1))).toEqual(Array.from(await model.embedImages(pixels, 1)));
    const again = Buffer.concat(await Promise.all(bytes.map(async (b) => (await model.preprocessor.preprocessResized(b)).rgb)));
    expect(Array.from(await model.embedResizedImages(again, files.length))).toEqual(Array.from(fromPixels));
    await expect(model.embedResizedImages(new Uint8Array(224 * 224 * 3 - 1), 1)).rejects.toThrow(RangeError);
  });

  it('runs concurrent requests and keeps them apart', async () => {
    const [a, b] = await Promise.all([model.embedTexts(['a cat']), model.embedTexts(['a dog'])]);
    expect(Array.from(a)).toEqual(Array.from(await model.embedTexts(['a cat'])));
    expect(Array.from(b)).not.toEqual(Array.from(a));
  });

  it('turns an inference failure into a rejected promise and stays usable', async () => {
    const ids = new BigInt64Array(16).fill(999_999n); // out of the vocabulary
    await expect(model.embedTokenIds(ids, 1)).rejects.toThrow(/Gather|indices|out of bounds|invalid/i);
    await expect(model.embedTexts(['still works'])).resolves.toHaveLength(32);
  });

  it('checks batch sizes before sending anything', async () => {
    await expect(model.embedImages(new Float32Array(10), 1)).rejects.toThrow(RangeError);
    await expect(model.embedTokenIds(new BigInt64Array(15), 1)).rejects.toThrow(RangeError);
  });

  it('scores label sets with averaged templates', async () => {
    const scorer = await model.labelScorer(buildLabelSet(['cat', 'rocket'], { templates: ['a photo of {}', 'a picture of a {}'] }));
    expect(scorer.embeddings).toHaveLength(2 * 32);
    const scores = scorer.score(await model.embedTexts(['a photo of cat']));
    expect(scores).toHaveLength(2);
    for (const s of scores) expect(s >= 0 && s <= 1).toBe(true);
  });
});

describe('SiglipModel.load', () => {
  it('fails loudly for CUDA without its provider libraries, never falling back to the CPU', async () => {
    const error = await SiglipModel.load(TINY_MODEL_DIR, { device: 'cuda' }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(DeviceUnavailableError);
    expect((error as Error).message).toMatch(/device cuda:0 cannot be used: ONNX Runtime's CUDA execution provider is not installed/);
    expect(await availableExecutionProviders()).not.toContain('cuda');
  });

  it('refuses bad options with the model problems\' error type', async () => {
    await expect(SiglipModel.load(TINY_MODEL_DIR, { device: 'gpu' })).rejects.toBeInstanceOf(ModelLoadError);
  });

  it('loads only the towers asked for; the other one refuses clearly, and the loaded one gives the same embeddings', async () => {
    const textOnly = await SiglipModel.load(TINY_MODEL_DIR, { towers: ['text'], intraOpThreads: 1, verifyContentHash: false });
    const visionOnly = await SiglipModel.load(TINY_MODEL_DIR, { towers: ['vision'], intraOpThreads: 1, verifyContentHash: false });
    try {
      expect(Object.keys(textOnly.sessions)).toEqual(['text']);
      expect(Object.keys(visionOnly.sessions)).toEqual(['vision']);
      expect(Array.from(await textOnly.embedTexts(['a cat']))).toEqual(Array.from(await model.embedTexts(['a cat'])));
      await expect(textOnly.embedImages(allocatePixelBatch(textOnly.preprocessor, 1), 1)).rejects.toThrow(/without its vision tower/);
      await expect(visionOnly.embedTexts(['a cat'])).rejects.toThrow(/without its text tower/);
      const pixels = allocatePixelBatch(model.preprocessor, 1);
      await model.preprocessor.preprocessInto(readFileSync(join(IMAGES_DIR, 'chelsea.webp')), pixels, 0);
      const expected = await model.embedImages(pixels.slice(), 1);
      expect(Array.from(await visionOnly.embedImages(pixels, 1))).toEqual(Array.from(expected));
    } finally {
      await textOnly.close();
      await visionOnly.close();
    }
  });

  it('runs whileSessionsLoad once, during the load; a hook that throws fails the load', async () => {
    let ran = 0;
    const loading = SiglipModel.load(TINY_MODEL_DIR, { towers: ['text'] }, () => ran++);
    const loaded = await loading;
    try {
      expect(ran).toBe(1);
    } finally {
      await loaded.close();
    }
    await expect(
      SiglipModel.load(TINY_MODEL_DIR, { towers: ['text'] }, () => {
        throw new Error('hook failed');
      }),
    ).rejects.toThrow('hook failed');
  });

  it('adopts a thread started ahead (prestartInferenceThread) and embeds as a thread started by the load does', async () => {
    expect(inferenceThreadPending()).toBe(false);
    prestartInferenceThread();
    // Started and not adopted yet: the CLI must not process.exit() under it.
    expect(inferenceThreadPending()).toBe(true);
    const ahead = await SiglipModel.load(TINY_MODEL_DIR, { intraOpThreads: 1 });
    try {
      // Taken by the load: nothing is left to adopt.
      expect(inferenceThreadPending()).toBe(false);
      expect(takePrestartedInferenceThread()).toBeUndefined();
      const pixels = allocatePixelBatch(model.preprocessor, 1);
      await model.preprocessor.preprocessInto(readFileSync(join(IMAGES_DIR, 'chelsea.webp')), pixels, 0);
      const expected = await model.embedImages(pixels.slice(), 1);
      expect(Array.from(await ahead.embedImages(pixels, 1))).toEqual(Array.from(expected));
      expect(Array.from(await ahead.embedTexts(['a photo of a cat']))).toEqual(Array.from(await model.embedTexts(['a photo of a cat'])));
    } finally {
      await ahead.close();
    }
  });

  it('fails the load when a thread started ahead ended before it, and starts one of its own the next time', async () => {
    const ahead = prestartInferenceThread();
    expect(prestartInferenceThread()).toBe(ahead); // one at a time
    const exited = once(ahead, 'exit');
    await ahead.terminate();
    await exited;
    await expect(SiglipModel.load(TINY_MODEL_DIR, { towers: ['text'] })).rejects.toThrow(/inference thread exited during start/);
    const next = await SiglipModel.load(TINY_MODEL_DIR, { towers: ['text'] });
    await next.close();
  });

  it('refuses an empty or repeated tower list', async () => {
    await expect(SiglipModel.load(TINY_MODEL_DIR, { towers: [] })).rejects.toThrow(/at least one tower/);
    await expect(SiglipModel.load(TINY_MODEL_DIR, { towers: ['text', 'text'] })).rejects.toThrow(/named twice/);
  });

  it('runs the fp16 variant (float32 inputs, fp16 weights)', async () => {
    const fp16 = await SiglipModel.load(TINY_MODEL_DIR, { variant: 'fp16', intraOpThreads: 1, verifyContentHash: false });
    try {
      const [a, b] = [await fp16.embedTexts(['a cat']), await model.embedTexts(['a cat'])];
      const cos = a.reduce((s, v, i) => s + v * b[i]!, 0);
      expect(cos).toBeGreaterThan(0.99);
    } finally {
      await fp16.close();
    }
  });
});

describe('toInferenceError', () => {
  it('maps ORT allocation failures to InferenceOutOfMemoryError with the batch size', () => {
    const error = toInferenceError(
      { name: 'Error', message: 'Failed to allocate memory for requested buffer of size 123456', outOfMemory: true },
      64,
    );
    expect(error).toBeInstanceOf(InferenceOutOfMemoryError);
    expect((error as InferenceOutOfMemoryError).batchSize).toBe(64);
    expect(toInferenceError({ name: 'Error', message: 'shape mismatch', outOfMemory: false }, 1)).not.toBeInstanceOf(InferenceOutOfMemoryError);
  });
});
