import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { ImageError } from './image-error';
import { sniffImageFormat } from './image-format';
import { allocatePixelBatch, ImagePreprocessor, type ImagePreprocessConfig } from './image-preprocessor';
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
const preprocessor = new ImagePreprocessor(SIGLIP);

async function failure(bytes: Uint8Array, p = preprocessor): Promise<ImageError> {
  const error = await p.decode(bytes).then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ImageError);
  return error as ImageError;
}

describe('ImagePreprocessor: bad input is a typed error with a architecture §3 code', () => {
  const expected: Record<string, string> = {
    'empty.jpg': 'empty_object',
    'truncated.jpg': 'decode_failed',
    'truncated.png': 'decode_failed',
    'corrupt.jpg': 'decode_failed',
    'html.jpg': 'unsupported_format',
    'notes.txt': 'unsupported_format',
    'document.pdf': 'unsupported_format',
    'drawing.svg': 'unsupported_format',
    'bomb_30000x30000.png': 'too_large_pixels',
    'bomb_header_only.png': 'too_large_pixels',
  };

  it('covers every broken fixture', () => {
    expect(readdirSync(BROKEN_IMAGES_DIR).filter((f) => !f.endsWith('.json')).sort()).toEqual(Object.keys(expected).sort());
  });

  it.each(Object.entries(expected))('%s → %s', async (file, code) => {
    const error = await failure(readFileSync(join(BROKEN_IMAGES_DIR, file)));
    expect(error.code).toBe(code);
  });

  it('refuses a decompression bomb from its header, before decoding', async () => {
    // Decoding 900 M pixels would take seconds and gigabytes; the worker's RSS under this input
    // is checked by the fault suite (test/fault-bad-data.test.ts).
    const error = await failure(readFileSync(join(BROKEN_IMAGES_DIR, 'bomb_30000x30000.png')));
    expect(error.code).toBe('too_large_pixels');
    expect(error.message).toContain('30000×30000');
  });

  it('never hands SVG to a decoder: it is refused by its bytes', () => {
    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg"><image href="http://example.invalid/x.png"/></svg>');
    expect(sniffImageFormat(svg)).toBeUndefined();
    expect(sniffImageFormat(Buffer.concat([Buffer.from('<?xml version="1.0"?>\n'), svg]))).toBeUndefined();
  });

  it('applies its pixel limit option', async () => {
    const small = new ImagePreprocessor(SIGLIP, { maxPixels: 1000 });
    const error = await failure(readFileSync(join(IMAGES_DIR, 'chelsea_crop_64x64.png')), small);
    expect(error.code).toBe('too_large_pixels');
    await expect(small.decode(readFileSync(join(IMAGES_DIR, 'pixel_1x1.png')))).resolves.toMatchObject({ width: 1, height: 1 });
  });
});

describe('ImagePreprocessor: decoding', () => {
  it('reports the size after EXIF orientation', async () => {
    for (const [file, w, h] of [
      ['motorcycle_exif6.jpg', 370, 250],
      ['coffee_exif8.jpg', 360, 240],
      ['chelsea_exif5.jpg', 300, 200],
      ['rocket_exif3.jpg', 240, 360],
    ] as const) {
      await expect(preprocessor.decode(readFileSync(join(IMAGES_DIR, file)))).resolves.toMatchObject({ width: w, height: h });
    }
  });

  it('drops alpha without compositing: transparent pixels keep their stored colour', async () => {
    const rgba = Buffer.from([200, 100, 50, 0, 10, 20, 30, 255]);
    const png = await sharp(rgba, { raw: { width: 2, height: 1, channels: 4 } }).png().toBuffer();
    const decoded = await preprocessor.decode(png);
    expect(Array.from(decoded.rgb)).toEqual([200, 100, 50, 10, 20, 30]);
  });

  it('expands grey and grey + alpha to RGB', async () => {
    const la = await sharp(Buffer.from([7, 0, 250, 128]), { raw: { width: 2, height: 1, channels: 2 } }).png().toBuffer();
    expect(Array.from((await preprocessor.decode(la)).rgb)).toEqual([7, 7, 7, 250, 250, 250]);
  });

  it('scales 16-bit samples to 8 bits (the high byte) instead of clipping them as Pillow does', async () => {
    const samples = new Uint16Array([0, 255, 256, 32768, 65280, 65535]);
    const png = await sharp(samples, { raw: { width: 6, height: 1, channels: 1 } }).toColourspace('grey16').png().toBuffer();
    const decoded = await preprocessor.decode(png);
    expect(Array.from(decoded.rgb.filter((_, i) => i % 3 === 0))).toEqual([0, 0, 1, 128, 255, 255]);
  });

  it('takes the first frame of an animation', async () => {
    const decoded = await preprocessor.decode(readFileSync(join(IMAGES_DIR, 'animated.gif')));
    expect([decoded.width, decoded.height]).toEqual([160, 120]);
  });
});

describe('ImagePreprocessor: normalisation and batches', () => {
  it('maps uint8 to (x/255 − 0.5)/0.5 in float32, channels first', () => {
    const out = new Float32Array(3 * 224 * 224);
    const rgb = new Uint8Array(224 * 224 * 3);
    rgb.set([0, 128, 255]);
    preprocessor.normalizeInto(rgb, out, 0);
    expect(out[0]).toBe(-1);
    expect(out[224 * 224]).toBe(Math.fround(Math.fround(Math.fround(128 * 0.00392156862745098) - 0.5) / 0.5));
    expect(out[2 * 224 * 224]).toBe(1);
  });

  it('writes straight into a slot of a preallocated batch', async () => {
    const batch = allocatePixelBatch(preprocessor, 3);
    batch.fill(42);
    const bytes = readFileSync(join(IMAGES_DIR, 'chelsea.webp'));
    const size = await preprocessor.preprocessInto(bytes, batch, 1);
    expect(size).toEqual({ width: 320, height: 213 });
    const single = await preprocessor.preprocess(bytes);
    const per = preprocessor.valuesPerImage;
    expect(batch.subarray(per, 2 * per)).toEqual(single.pixels);
    expect(batch[0]).toBe(42);
    expect(batch[2 * per]).toBe(42);
    await expect(preprocessor.preprocessInto(bytes, batch, 3)).rejects.toThrow(RangeError);
  });

  it('frees the decoded pixels when it is done, not at a later collection (external memory does not keep them)', async () => {
    // 4000 × 3000: 36 MB of decoded RGB that sharp allocates outside the JS heap.
    const bytes = readFileSync(join(IMAGES_DIR, 'astronaut_large_4000x3000.jpg'));
    const out = new Float32Array(preprocessor.valuesPerImage);
    await preprocessor.preprocessInto(bytes, out, 0);
    const before = process.memoryUsage().external;
    await preprocessor.preprocessInto(bytes, out, 0);
    expect(process.memoryUsage().external - before).toBeLessThan(18_000_000);
    // `decode` hands its pixels to the caller: those stay (and are counted) until dropped.
    const decoded = await preprocessor.decode(bytes);
    expect(decoded.rgb.length).toBe(36_000_000);
    expect(process.memoryUsage().external - before).toBeGreaterThan(30_000_000);
  });
});

/** A PNG whose pixel data is a few bytes (IHDR, a short IDAT, IEND): decoding it would fail, so a size refusal is the header's. */
function pngHeaderOnly(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const head = Buffer.alloc(4);
    head.writeUInt32BE(data.length);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(body));
    return Buffer.concat([head, body, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([8, 2, 0, 0, 0], 8);
  return Buffer.concat([Buffer.from('\x89PNG\r\n\x1a\n', 'latin1'), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(Buffer.alloc(16))), chunk('IEND', Buffer.alloc(0))]);
}

const flat = (width: number, height: number) => sharp({ create: { width, height, channels: 3, background: { r: 200, g: 10, b: 30 } } }).png().toBuffer();

describe('ImagePreprocessor: size limits from the header (poison images)', () => {
  it('refuses 100,000,000 × 1 and 1 × 100,000,000 by their side, from the header alone', async () => {
    // Within the limits, the same truncated data is a decoding failure: the refusal comes first.
    expect((await failure(pngHeaderOnly(300, 200))).code).toBe('decode_failed');
    for (const [w, h] of [[100_000_000, 1], [1, 100_000_000]] as const) {
      const error = await preprocessor.preprocess(pngHeaderOnly(w, h)).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(ImageError);
      expect((error as ImageError).code).toBe('too_large_pixels');
      expect((error as ImageError).message).toBe(`${w}×${h}: a side of 100000000 pixels exceeds the limit of 65535 per side`);
    }
  });

  it('refuses a real, decodable PNG one pixel over the side limit, and takes one at the limit', async () => {
    expect((await failure(await flat(65_536, 1))).message).toContain('a side of 65536 pixels');
    const atLimit = await preprocessor.preprocess(await flat(1, 65_535));
    expect([atLimit.width, atLimit.height]).toEqual([1, 65_535]);
    // Same colour everywhere: the resize keeps it exactly ((200/255 − 0.5) / 0.5 in float32).
    expect(atLimit.pixels[0]).toBeCloseTo(200 / 127.5 - 1, 6);
  });

  it('applies its side limit option', async () => {
    const narrow = new ImagePreprocessor(SIGLIP, { maxSide: 200 });
    expect((await failure(await flat(201, 2), narrow)).message).toBe('201×2: a side of 201 pixels exceeds the limit of 200 per side');
    await expect(narrow.decode(await flat(200, 2))).resolves.toMatchObject({ width: 200, height: 2 });
  });
});

describe('ImagePreprocessor: any unexpected failure is the image\'s own error', () => {
  it('turns a failure past the header checks into preprocess_failed with its message (here: the resampler\'s table bound)', async () => {
    // With the side limit lifted, a 3,000,000 × 1 image reaches the resampler, whose table for
    // it (224 × 53,573 taps) is over its own bound: a RangeError, not an ImageError, inside.
    const lifted = new ImagePreprocessor(SIGLIP, { maxSide: 10_000_000 });
    const error = await lifted.preprocess(await flat(3_000_000, 1)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageError);
    expect((error as ImageError).code).toBe('preprocess_failed');
    expect((error as ImageError).message).toMatch(/^preprocessing failed: resampling 3000000 pixels to 224 needs \d+ coefficients, over the limit of 2097152$/);
    expect((error as ImageError).cause).toBeInstanceOf(RangeError);
  });
});
