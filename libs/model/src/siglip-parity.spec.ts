/**
 * Parity with Python transformers (architecture §2, issue 3): our preprocessing, tokenizer and ONNX
 * inference against the committed reference computed by `tools/export/siglip_export.py
 * --reference` (load_image + the PIL image processor, SiglipTokenizer, SiglipModel).
 * Bounds fail, never warn. `PARITY_REPORT=1` prints the measured figures.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formatParity, measureParity, type ImageParity, type ParityReport } from './testing/parity';

/** Normalised units of two uint8 levels with mean = std = 0.5: 2 / 127.5. */
const TWO_LEVELS = 2 / 127.5;

/**
 * Where Pillow's picture is not the correct one (architecture §2) the bounds are looser and stated:
 * - CMYK JPEG without ICC: Pillow inverts CMYK naively; we convert through a CMYK profile
 *   (libvips' built-in), the colour-managed picture. Measured: mean |Δ| 0.062 (8 levels), max
 *   25 levels, embedding cosine 0.9957, probabilities within 0.042.
 * - 16-bit grey: Pillow clips every value above 255 to white; we scale to 8 bits (high byte).
 *   The reference's `alt` block holds transformers' outputs for that correct picture, and the
 *   standard bounds apply against it.
 */
const CMYK = { pixelMeanAbs: 0.1, embeddingCosine: 0.99, probMaxAbs: 0.1 };

let fp32: ParityReport;
let fp16: ParityReport;
beforeAll(async () => {
  fp32 = await measureParity('fp32');
  fp16 = await measureParity('fp16');
  if (process.env['PARITY_REPORT']) {
    console.log(`fp32\n${formatParity(fp32)}\n\nfp16\n${formatParity(fp16)}`);
  }
}, 120_000);

const isCmyk = (r: ImageParity) => r.file === 'retina_cmyk.jpg';

describe('image parity (fp32)', () => {
  it('covers every fixture image, upscaled ones included', () => {
    expect(fp32.images.length).toBeGreaterThanOrEqual(29);
    const files = fp32.images.map((r) => r.file);
    for (const f of ['astronaut_crop_100x300.jpg', 'coffee_crop_300x120.png', 'chelsea_crop_64x64.png', 'pixel_1x1.png', 'thin_3x900.png']) {
      expect(files).toContain(f);
    }
    expect(fp32.images.find((r) => r.file === 'camera_grey16.png')?.against).toBe('alt');
  });

  it('reports the size after EXIF orientation', () => {
    expect(fp32.images.filter((r) => !r.sizeMatches).map((r) => r.file)).toEqual([]);
  });

  it('pixels: mean |Δ| ≤ 0.01 and ≥ 99 % of values within two uint8 levels', () => {
    const bad = fp32.images
      .filter((r) => !isCmyk(r))
      .filter((r) => !(r.pixelMeanAbs <= 0.01 && r.within2 >= 0.99))
      .map((r) => `${r.file}: mean ${r.pixelMeanAbs}, within 2 levels ${r.within2}`);
    expect(bad).toEqual([]);
  });

  it('image embeddings: cosine ≥ 0.999', () => {
    const bad = fp32.images.filter((r) => !isCmyk(r) && !(r.embeddingCosine >= 0.999)).map((r) => `${r.file}: ${r.embeddingCosine}`);
    expect(bad).toEqual([]);
  });

  it('probabilities: |Δ| ≤ 1e-3', () => {
    const bad = fp32.images.filter((r) => !isCmyk(r) && !(r.probMaxAbs <= 1e-3)).map((r) => `${r.file}: ${r.probMaxAbs}`);
    expect(bad).toEqual([]);
  });

  it(`CMYK without ICC: the colour-managed picture, within its stated bounds (${JSON.stringify(CMYK)})`, () => {
    const cmyk = fp32.images.find(isCmyk)!;
    expect(cmyk.pixelMeanAbs).toBeLessThanOrEqual(CMYK.pixelMeanAbs);
    expect(cmyk.embeddingCosine).toBeGreaterThanOrEqual(CMYK.embeddingCosine);
    expect(cmyk.probMaxAbs).toBeLessThanOrEqual(CMYK.probMaxAbs);
    // and it is a deliberate difference, not an accident that happens to pass
    expect(cmyk.pixelMeanAbs).toBeGreaterThan(TWO_LEVELS);
  });
});

describe('text parity (fp32)', () => {
  it('token ids identical to SiglipTokenizer on every reference text (≥ 50) and label prompt', () => {
    expect(fp32.texts.length).toBeGreaterThanOrEqual(50);
    const bad = [...fp32.texts, ...fp32.labels].filter((t) => !t.idsMatch).map((t) => `${JSON.stringify(t.text)}: ${t.ours} ≠ ${t.expected}`);
    expect(bad).toEqual([]);
  });

  it('text embeddings: cosine ≥ 0.9999', () => {
    const bad = [...fp32.texts, ...fp32.labels].filter((t) => !(t.embeddingCosine >= 0.9999)).map((t) => `${JSON.stringify(t.text)}: ${t.embeddingCosine}`);
    expect(bad).toEqual([]);
  });
});

describe('fp16 variant', () => {
  // fp16 weights cannot meet the fp32 probability bound: the export tool's own ONNX check
  // measures 0.0136 for the same model in Python. Stated bounds: embeddings cosine ≥ 0.9999,
  // probabilities within 0.02, pixels as fp32 (the same preprocessing).
  it('stays within its stated bounds', () => {
    const images = fp16.images.filter((r) => !isCmyk(r));
    expect(images.filter((r) => !(r.embeddingCosine >= 0.9999)).map((r) => r.file)).toEqual([]);
    expect(images.filter((r) => !(r.probMaxAbs <= 0.02)).map((r) => r.file)).toEqual([]);
    expect([...fp16.texts, ...fp16.labels].filter((t) => !(t.embeddingCosine >= 0.9999)).map((t) => t.text)).toEqual([]);
  });
});
