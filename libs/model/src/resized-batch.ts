import { toFloat16Bits } from './float16';

/**
 * The model input of a batch sent resized but not normalised (`SiglipModel.embedResizedImages`):
 * `count × H × W × 3` uint8 RGB in, `count × 3 × H × W` out, each byte through its channel's
 * lookup (`normalizationTables`: what `ImagePreprocessor.preprocess` writes for it), as float32 or
 * straight as float16 bits for a model whose input is float16 (the bits `toFloat16Bits` gives for
 * the float32 values).
 *
 * The output is written into one buffer kept from batch to batch and returned as a view of it:
 * valid until the next call. A new 19 MB array per batch of 32 at 224² was memory the kernel had
 * to hand over page by page every time. Used by the inference thread, which runs one batch at a
 * time.
 */
export class ResizedBatchInput {
  private scratch: ArrayBuffer | undefined;
  private halfTables: Uint16Array | undefined;

  constructor(private readonly tables: Float32Array) {
    if (tables.length !== 768) throw new RangeError(`expected 3 × 256 normalisation lookups, got ${tables.length} values`);
  }

  /** `dims` is the model input's, `[count, 3, H, W]`. */
  normalize(rgb: Uint8Array, dims: readonly number[], half: boolean): Float32Array | Uint16Array {
    const [count, channels, height, width] = dims as [number, number, number, number];
    const plane = height * width;
    if (dims.length !== 4 || channels !== 3 || !(count >= 1) || rgb.length !== count * 3 * plane) {
      throw new RangeError(`a resized batch of ${rgb.length} bytes is not [${dims.join(', ')}] as RGB`);
    }
    const values = count * 3 * plane;
    const bytes = values * (half ? 2 : 4);
    if (!this.scratch || this.scratch.byteLength < bytes) this.scratch = new ArrayBuffer(bytes);
    if (half) {
      const out = new Uint16Array(this.scratch, 0, values);
      normalizeRgbInto(rgb, out, (this.halfTables ??= toFloat16Bits(this.tables)), plane, count);
      return out;
    }
    const out = new Float32Array(this.scratch, 0, values);
    normalizeRgbInto(rgb, out, this.tables, plane, count);
    return out;
  }
}

/**
 * Step 5 for `count` images of `plane` pixels: interleaved uint8 RGB (`count × plane × 3`) → each
 * byte through its channel's lookup (`tables`: R, G, B, 256 each), channels first, at
 * `out[offset …]`. The one normalisation loop: `ImagePreprocessor.normalizeInto` runs it for one image.
 */
export function normalizeRgbInto(rgb: Uint8Array, out: Float32Array | Uint16Array, tables: Float32Array | Uint16Array, plane: number, count = 1, offset = 0): void {
  for (let image = 0; image < count; image++) {
    const base = offset + image * 3 * plane;
    for (let i = 0, p = image * 3 * plane; i < plane; i++, p += 3) {
      out[base + i] = tables[rgb[p]!]!;
      out[base + plane + i] = tables[256 + rgb[p + 1]!]!;
      out[base + 2 * plane + i] = tables[512 + rgb[p + 2]!]!;
    }
  }
}
