import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import sharp from 'sharp';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeMode, describeDecodeMode, scaledDecodeFactor, scratchImagePath, type DecodeMode } from './decode-mode';
import { ImagePreprocessor, type ImagePreprocessConfig } from './image-preprocessor';
import { resizeBicubic } from './pillow-resample';
import { PreprocessPool } from './preprocess-pool';
import { IMAGES_DIR } from './testing/model-fixtures';

const SIGLIP: ImagePreprocessConfig = {
  height: 224,
  width: 224,
  doRescale: true,
  rescaleFactor: 0.00392156862745098,
  doNormalize: true,
  mean: [0.5, 0.5, 0.5],
  std: [0.5, 0.5, 0.5],
};
const FAST = decodeMode('fast');
const exact = new ImagePreprocessor(SIGLIP);
const fast = new ImagePreprocessor(SIGLIP, { decode: FAST });
const REFERENCE_DIR = join(IMAGES_DIR, '..', 'reference', 'fast-decode');

/** The model-size uint8 RGB of `bytes` through `preprocessor`. */
async function resized(preprocessor: ImagePreprocessor, bytes: Uint8Array): Promise<Uint8Array> {
  return preprocessor.resize(await preprocessor.decode(bytes));
}

/** Mean |Δ| and share of values within two levels between fast and exact, over every value. */
function delta(a: Uint8Array, b: Uint8Array): { mean: number; withinTwo: number } {
  let sum = 0;
  let within = 0;
  for (let i = 0; i < a.length; i++) {
    const d = Math.abs(a[i]! - b[i]!);
    sum += d;
    if (d <= 2) within++;
  }
  return { mean: sum / a.length, withinTwo: within / a.length };
}

const photo = (name: string) => new Uint8Array(readFileSync(join(IMAGES_DIR, name)));

/** A JPEG of about `megapixels` MP made from a fixture photo (aspect kept), at quality 90. */
async function upscaledJpeg(name: string, megapixels: number): Promise<Uint8Array> {
  const { data, info } = await sharp(photo(name)).rotate().removeAlpha().toBuffer({ resolveWithObject: true });
  const scale = Math.sqrt((megapixels * 1e6) / (info.width * info.height));
  return new Uint8Array(await sharp(data).resize(Math.round(info.width * scale), Math.round(info.height * scale), { fit: 'fill' }).jpeg({ quality: 90 }).toBuffer());
}

/** Offset of the EXIF orientation value (tag 0x0112, SHORT) in a JPEG that has one. */
function exifOrientationOffset(jpeg: Buffer): number {
  for (const [pattern, valueAt] of [
    [Buffer.from([0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01, 0x00]), 9], // big-endian TIFF
    [Buffer.from([0x12, 0x01, 0x03, 0x00, 0x01, 0x00, 0x00, 0x00]), 8], // little-endian TIFF
  ] as const) {
    const at = jpeg.indexOf(pattern);
    if (at >= 0) return at + valueAt;
  }
  throw new Error('no EXIF orientation in the JPEG');
}

describe('decode mode', () => {
  it('picks the largest factor of 1, 2, 4, 8 that keeps the gap on both sides (Pillow draft’s rule)', () => {
    // 224 px model, gap 2: both sides must stay ≥ 448.
    expect(scaledDecodeFactor(4000, 3000, 224, 224, 2)).toBe(4); // 3000 // 448 = 6
    expect(scaledDecodeFactor(4899, 4899, 224, 224, 2)).toBe(8);
    expect(scaledDecodeFactor(896, 4000, 224, 224, 2)).toBe(2);
    expect(scaledDecodeFactor(895, 4000, 224, 224, 2)).toBe(1);
    expect(scaledDecodeFactor(512, 512, 224, 224, 2)).toBe(1);
    expect(scaledDecodeFactor(4000, 3000, 224, 224, 1)).toBe(8); // 3000 // 224 = 13
    expect(scaledDecodeFactor(4000, 3000, 224, 224, 3.5)).toBe(2); // 3000 // 784 = 3
    // A non-square model: its longer side is required of both stored sides, whatever the EXIF rotation.
    expect(scaledDecodeFactor(4000, 1800, 384, 224, 2)).toBe(2);
  });

  it('refuses a gap below 1 and names the modes', () => {
    expect(() => decodeMode('fast', 0.5)).toThrow(/reducing gap must be a number ≥ 1/);
    expect(() => decodeMode('fast', Number.NaN)).toThrow(/reducing gap/);
    expect(describeDecodeMode(decodeMode('exact', 7))).toBe('exact');
    expect(describeDecodeMode(decodeMode('fast', 3))).toBe('fast(gap=3)');
  });
});

describe('ImagePreprocessor with decode: fast', () => {
  it("is Pillow's draft('RGB', (448, 448)) + resize(BICUBIC) exactly on the 4000×3000 JPEG", async () => {
    // fixtures/reference/fast-decode, written by tools/fixtures/fast_decode_reference.py.
    const name = 'astronaut_large_4000x3000.jpg';
    const decoded = await fast.decode(photo(name));
    expect([decoded.width, decoded.height]).toEqual([1000, 750]); // 1/4 scale
    const { data } = await sharp(readFileSync(join(REFERENCE_DIR, `${name}.png`))).raw().toBuffer({ resolveWithObject: true });
    expect(Buffer.from(fast.resize(decoded)).equals(data)).toBe(true);
  });

  it('stays within a level on average of exact, on the fixture photos and on 12 MP JPEGs made from them', async () => {
    const photos = readdirSync(IMAGES_DIR).filter((f) => /\.(jpg|webp)$/.test(f) && !/cmyk/.test(f));
    const images: Array<[string, Uint8Array]> = photos.map((name) => [name, photo(name)]);
    for (const name of ['astronaut_baseline.jpg', 'chelsea_progressive.jpg', 'hubble_444.jpg']) {
      images.push([`${name} at 12 MP`, await upscaledJpeg(name, 12)]);
    }
    const webp = await sharp(await upscaledJpeg('coffee_exif8.jpg', 2)).webp({ quality: 90 }).toBuffer();
    images.push(['coffee at 2 MP, WebP', new Uint8Array(webp)]);
    let reduced = 0;
    for (const [name, bytes] of images) {
      const [a, b, decoded] = [await resized(exact, bytes), await resized(fast, bytes), await fast.decode(bytes)];
      const full = await exact.decode(bytes);
      if (decoded.width < full.width) reduced++;
      const { mean, withinTwo } = delta(a, b);
      // Measured: JPEG ≤ 0.18 mean and ≥ 99.99 % within two levels; the WebP 0.33 and 99.70 %.
      expect(mean, name).toBeLessThanOrEqual(0.5);
      expect(withinTwo, name).toBeGreaterThanOrEqual(0.99);
    }
    // The 4000×3000 fixture, the three 12 MP JPEGs and the WebP were decoded at a reduced scale.
    expect(reduced).toBe(5);
  });

  it('keeps every EXIF orientation, on a JPEG whose sides are no multiple of the factor', async () => {
    // A 64 px model (gap 2: 128 px) and a 1027×771 JPEG → 1/4 scale, 256.75 × 192.75 pixels:
    // libvips drops the partial pixel at the stored right and bottom edges, which the
    // orientations move to other sides; the resize box follows them.
    const small = { ...SIGLIP, width: 64, height: 64 };
    const [exact64, fast64] = [new ImagePreprocessor(small), new ImagePreprocessor(small, { decode: FAST })];
    const stored = await sharp(photo('hubble_444.jpg')).resize(1027, 771, { fit: 'fill' }).withMetadata({ orientation: 1 }).jpeg({ quality: 90 }).toBuffer();
    const orientationAt = exifOrientationOffset(stored);
    for (const orientation of [1, 2, 3, 4, 5, 6, 7, 8]) {
      const bytes = new Uint8Array(stored);
      bytes[orientationAt] = orientation;
      const [full, decoded] = [await exact64.decode(bytes), await fast64.decode(bytes)];
      expect([full.width, full.height], `orientation ${orientation}`).toEqual(orientation >= 5 ? [771, 1027] : [1027, 771]);
      expect([decoded.width, decoded.height]).toEqual(orientation >= 5 ? [192, 256] : [256, 192]);
      const exactPixels = exact64.resize(full);
      const { mean } = delta(exactPixels, fast64.resize(decoded));
      // Measured: 0.27–0.28 with the box, 1.70 when the dropped pixel is ignored (whole image resized).
      expect(mean, `orientation ${orientation}`).toBeLessThanOrEqual(0.6);
      expect(delta(exactPixels, resizeBicubic(decoded.rgb, decoded.width, decoded.height, 3, 64, 64)).mean).toBeGreaterThan(1);
    }
  });

  it('leaves PNG (and every format without scaled decoding) byte for byte as exact', async () => {
    const large = await sharp(await upscaledJpeg('chelsea_progressive.jpg', 2)).png({ compressionLevel: 1 }).toBuffer();
    const others = readdirSync(IMAGES_DIR).filter((f) => /\.(png|gif|tif)$/.test(f));
    expect(others.length).toBeGreaterThan(10);
    for (const [name, bytes] of [['chelsea at 2 MP, PNG', new Uint8Array(large)], ...others.map((f) => [f, photo(f)] as const)] as const) {
      const [a, b] = [await exact.preprocess(bytes), await fast.preprocess(bytes)];
      expect(Buffer.from(b.pixels.buffer).equals(Buffer.from(a.pixels.buffer)), name).toBe(true);
    }
  });

  it('leaves no scratch file behind, also when the image is corrupt', async () => {
    const scratch = dirname(scratchImagePath('jpg'));
    const ours = () => readdirSync(scratch).filter((f) => f.startsWith(`siglip-batch-${process.pid}-`));
    const bytes = await upscaledJpeg('astronaut_baseline.jpg', 2);
    await fast.decode(bytes);
    const broken = bytes.slice(0, bytes.length >> 1);
    await expect(fast.decode(broken)).rejects.toMatchObject({ code: 'decode_failed' });
    expect(ours()).toEqual([]);
    const error = (await fast.decode(broken).then(() => undefined, (e: unknown) => e)) as Error;
    expect(error.message).toMatch(/^cannot decode the jpeg image: /);
    expect(error.message).not.toContain('siglip-batch-');
  });
});

describe('PreprocessPool with a decode mode per image', () => {
  const pool = PreprocessPool.start(SIGLIP, { threads: 1 });
  afterAll(async () => (await pool).close());

  it('gives what ImagePreprocessor gives in each mode, on one thread', async () => {
    const bytes = photo('astronaut_large_4000x3000.jpg');
    const modes: DecodeMode[] = [{ mode: 'exact' }, FAST, { mode: 'fast', reducingGap: 1 }];
    for (const decode of modes) {
      const direct = await new ImagePreprocessor(SIGLIP, { decode }).preprocess(bytes);
      const pooled = await (await pool).preprocess(bytes, { decode });
      expect(Buffer.from(pooled.pixels.buffer).equals(Buffer.from(direct.pixels.buffer)), describeDecodeMode(decode)).toBe(true);
    }
    const [a, b] = [await (await pool).preprocess(bytes), await (await pool).preprocess(bytes, { decode: FAST })];
    expect(Buffer.from(a.pixels.buffer).equals(Buffer.from(b.pixels.buffer))).toBe(false);
  });
});
