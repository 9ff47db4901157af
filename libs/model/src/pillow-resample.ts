/**
 * Pillow's separable resampler (`ImagingResample` in `src/libImaging/Resample.c`) with its
 * BICUBIC filter, for 8-bit interleaved RGB. It reproduces Pillow bit for bit: the Keys
 * cubic with a = −0.5, the support widened by the downscale factor (antialiasing), the
 * per-pixel coefficient normalisation, the 22-bit fixed-point coefficients with their
 * round-half-away-from-zero, the 8-bit clipped intermediate image between the horizontal
 * and the vertical pass, the skipped pass when a dimension does not change, and Python
 * `Image.resize`'s vertical-first order for images over 100 times taller than wide.
 *
 * libvips' kernels differ from Pillow's when enlarging (measured: up to 118 levels apart),
 * which is why SigLIP preprocessing does not resize with sharp.
 */
import { runRgbPasses, runRgbPassesNormalized, wasmResamplerAvailable, type ResamplePass } from './pillow-resample-wasm';

/** Fixed-point precision of Pillow's 8-bit coefficients: 32 − 8 − 2 bits. */
const PRECISION_BITS = 22;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);
/** Pillow's BICUBIC support radius, in source pixels before widening. */
const BICUBIC_SUPPORT = 2;
/**
 * Most taps one axis' coefficient table may hold: 2 Mi (8 MiB of int32 weights, 32 MiB once
 * packed for the WebAssembly horizontal pass). A table has about 4 taps per source pixel of
 * the axis when shrinking and 5 per output pixel when enlarging, so this admits sides up to
 * about 500,000 pixels (far above the preprocessor's side limit) and refuses an absurd side
 * before it allocates gigabytes (a 100,000,000-pixel side into 224 would need 400 M taps).
 */
export const MAX_RESAMPLE_TAPS = 1 << 21;

/** Keys' cubic convolution kernel with a = −0.5, written as Pillow evaluates it. */
export function bicubicKernel(x: number): number {
  const a = -0.5;
  if (x < 0) x = -x;
  if (x < 1) return ((a + 2) * x - (a + 3)) * x * x + 1;
  if (x < 2) return (((x - 5) * x + 8) * x - 4) * a;
  return 0;
}

/** The taps of one axis: for each output index, the first source index, the tap count and its fixed-point weights. */
export interface ResampleCoefficients {
  /** Taps per output sample (the stride of `weights`). */
  readonly kernelSize: number;
  /** First source index used by each output sample. */
  readonly start: Int32Array;
  /** Number of source samples used by each output sample. */
  readonly count: Int32Array;
  /** `outSize × kernelSize` weights in Pillow's 22-bit fixed point. */
  readonly weights: Int32Array;
}

/**
 * Pillow's `precompute_coeffs` followed by `normalize_coeffs_8bpc`, for the box
 * `[start, start + extent)` of an `inSize`-pixel line (default: the whole line). A box reaching
 * past the line, as after a scaled decode that dropped a partial pixel at one end, has its taps
 * outside the line left out.
 */
export function precomputeCoefficients(inSize: number, outSize: number, extent: number = inSize, start = 0): ResampleCoefficients {
  const scale = extent / outSize;
  const filterScale = scale < 1 ? 1 : scale;
  const support = BICUBIC_SUPPORT * filterScale;
  const kernelSize = Math.ceil(support) * 2 + 1;
  if (outSize * kernelSize > MAX_RESAMPLE_TAPS) {
    throw new RangeError(`resampling ${inSize} pixels to ${outSize} needs ${outSize * kernelSize} coefficients, over the limit of ${MAX_RESAMPLE_TAPS}`);
  }
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * kernelSize);
  const taps = new Float64Array(kernelSize);
  const inverseScale = 1 / filterScale;
  for (let xx = 0; xx < outSize; xx++) {
    const center = start + (xx + 0.5) * scale;
    // C's (int) cast truncates toward zero; a negative start is clamped to 0 either way.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    let sum = 0;
    for (let x = 0; x < xmax; x++) {
      const w = bicubicKernel((x + xmin - center + 0.5) * inverseScale);
      taps[x] = w;
      sum += w;
    }
    const base = xx * kernelSize;
    for (let x = 0; x < xmax; x++) {
      const w = sum !== 0 ? taps[x]! / sum : taps[x]!;
      weights[base + x] = w < 0 ? Math.trunc(-0.5 + w * ONE) : Math.trunc(0.5 + w * ONE);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { kernelSize, start: first, count, weights };
}

/** Pillow's `clip8`: the fixed-point sum shifted back to 8 bits and clamped to [0, 255]. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Which implementation of the passes runs: `auto` = WebAssembly SIMD for RGB when the runtime has it. */
export type ResampleEngine = 'auto' | 'wasm' | 'js';

/**
 * Resize interleaved 8-bit pixels (`channels` per pixel, row-major) to `outWidth × outHeight`
 * exactly as Pillow's `Image.resize(size, Image.BICUBIC)` does (no `reducing_gap`, full box).
 * Returns a new interleaved buffer of the same channel count.
 *
 * RGB runs through the WebAssembly SIMD build of the same passes (`pillow-resample-wasm.ts`)
 * unless `engine` is `js`; both give the same bytes (checked by the unit tests on every pass
 * shape, and both against Pillow's own output).
 */
export function resizeBicubic(
  src: Uint8Array,
  width: number,
  height: number,
  channels: number,
  outWidth: number,
  outHeight: number,
  engine: ResampleEngine = 'auto',
  extent?: SourceExtent,
): Uint8Array {
  if (src.length < width * height * channels) {
    throw new RangeError(`pixel buffer of ${src.length} bytes is too small for ${width}×${height}×${channels}`);
  }
  if (width < 1 || height < 1 || outWidth < 1 || outHeight < 1) {
    throw new RangeError(`cannot resize ${width}×${height} to ${outWidth}×${outHeight}`);
  }
  const passes = planPasses(width, height, outWidth, outHeight, extent);
  if (passes.length === 0) return src.slice(0, width * height * channels);
  const useWasm = engine === 'wasm' || (engine === 'auto' && channels === 3 && wasmResamplerAvailable());
  if (useWasm) {
    if (channels !== 3) throw new RangeError(`the WebAssembly resampler takes RGB, not ${channels} channels`);
    return runRgbPasses(src, width, height, passes);
  }
  let image = src;
  let imageWidth = width;
  for (const pass of passes) {
    if (pass.axis === 'horizontal') {
      image = resampleHorizontal(image, imageWidth, channels, pass.firstRow, pass.firstRow + pass.rows, pass.coefficients, pass.outWidth);
      imageWidth = pass.outWidth;
    } else {
      image = resampleVertical(image, imageWidth, channels, pass.rowOffset, pass.coefficients, pass.outHeight);
    }
  }
  return image;
}

/**
 * `resizeBicubic` of RGB followed by a per-channel lookup (`tables`: 3 × 256 float32, R G B)
 * into channels-first float32 at `out[offset …]`, both in the WebAssembly module. Returns false,
 * doing nothing, when the runtime has no WebAssembly SIMD (the caller then runs the JS steps).
 */
export function resizeBicubicNormalizedInto(
  src: Uint8Array,
  width: number,
  height: number,
  outWidth: number,
  outHeight: number,
  tables: Float32Array,
  out: Float32Array,
  offset: number,
  extent?: SourceExtent,
): boolean {
  if (!wasmResamplerAvailable()) return false;
  if (src.length < width * height * 3) {
    throw new RangeError(`pixel buffer of ${src.length} bytes is too small for ${width}×${height}×3`);
  }
  if (width < 1 || height < 1 || outWidth < 1 || outHeight < 1) {
    throw new RangeError(`cannot resize ${width}×${height} to ${outWidth}×${outHeight}`);
  }
  runRgbPassesNormalized(src, width, height, planPasses(width, height, outWidth, outHeight, extent), tables, out, offset);
  return true;
}

/**
 * The part of the source the resize maps onto the output, in source pixels: Pillow's
 * `resize(…, box=(left, top, left + width, top + height))`. Absent: the whole image.
 */
export interface SourceExtent {
  readonly left: number;
  readonly top: number;
  readonly width: number;
  readonly height: number;
}

/** The passes Pillow runs for a resize, in its order, with their coefficients and row ranges. */
export function planPasses(width: number, height: number, outWidth: number, outHeight: number, extent?: SourceExtent): ResamplePass[] {
  const extentWidth = extent?.width ?? width;
  const extentHeight = extent?.height ?? height;
  const left = extent?.left ?? 0;
  const top = extent?.top ?? 0;
  // Pillow's Image.resize (12.x, the reference's version) resizes an image more than 100
  // times taller than wide that it also shrinks vertically in two separate calls, vertical
  // first, to avoid a huge intermediate; the order changes the 8-bit intermediate, so we follow.
  if (height > width * 100 && outHeight < height) {
    const passes: ResamplePass[] = [{ axis: 'vertical', coefficients: precomputeCoefficients(height, outHeight, extentHeight, top), outHeight, rowOffset: 0 }];
    if (outWidth !== width || extentWidth !== width) {
      passes.push({ axis: 'horizontal', coefficients: precomputeCoefficients(width, outWidth, extentWidth, left), outWidth, firstRow: 0, rows: outHeight });
    }
    return passes;
  }
  const passes: ResamplePass[] = [];
  const vertical = precomputeCoefficients(height, outHeight, extentHeight, top);
  // Rows of the source the vertical pass reads; the horizontal pass only produces those.
  const firstRow = vertical.start[0]!;
  const lastRow = vertical.start[outHeight - 1]! + vertical.count[outHeight - 1]!;
  let rowOffset = 0;
  if (outWidth !== width || extentWidth !== width) {
    passes.push({ axis: 'horizontal', coefficients: precomputeCoefficients(width, outWidth, extentWidth, left), outWidth, firstRow, rows: lastRow - firstRow });
    rowOffset = firstRow;
  }
  if (outHeight !== height || extentHeight !== height) passes.push({ axis: 'vertical', coefficients: vertical, outHeight, rowOffset });
  return passes;
}

function resampleHorizontal(
  src: Uint8Array,
  width: number,
  channels: number,
  firstRow: number,
  lastRow: number,
  coefficients: ResampleCoefficients,
  outWidth: number,
): Uint8Array {
  const { kernelSize, start, count, weights } = coefficients;
  const rows = lastRow - firstRow;
  const out = new Uint8Array(outWidth * rows * channels);
  const srcStride = width * channels;
  let o = 0;
  if (channels === 3) {
    for (let y = 0; y < rows; y++) {
      const rowBase = (y + firstRow) * srcStride;
      for (let xx = 0; xx < outWidth; xx++) {
        const n = count[xx]!;
        const kBase = xx * kernelSize;
        let p = rowBase + start[xx]! * 3;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0; x < n; x++, p += 3) {
          const k = weights[kBase + x]!;
          s0 += src[p]! * k;
          s1 += src[p + 1]! * k;
          s2 += src[p + 2]! * k;
        }
        out[o++] = clip8(s0);
        out[o++] = clip8(s1);
        out[o++] = clip8(s2);
      }
    }
    return out;
  }
  for (let y = 0; y < rows; y++) {
    const rowBase = (y + firstRow) * srcStride;
    for (let xx = 0; xx < outWidth; xx++) {
      const n = count[xx]!;
      const kBase = xx * kernelSize;
      const pBase = rowBase + start[xx]! * channels;
      for (let c = 0; c < channels; c++) {
        let s = HALF;
        for (let x = 0; x < n; x++) s += src[pBase + x * channels + c]! * weights[kBase + x]!;
        out[o++] = clip8(s);
      }
    }
  }
  return out;
}

function resampleVertical(
  src: Uint8Array,
  width: number,
  channels: number,
  rowOffset: number,
  coefficients: ResampleCoefficients,
  outHeight: number,
): Uint8Array {
  const { kernelSize, start, count, weights } = coefficients;
  const stride = width * channels;
  const out = new Uint8Array(stride * outHeight);
  const acc = new Float64Array(stride);
  for (let yy = 0; yy < outHeight; yy++) {
    const n = count[yy]!;
    const kBase = yy * kernelSize;
    const first = start[yy]! - rowOffset;
    acc.fill(HALF);
    // Row-at-a-time accumulation walks memory in order; the integer sums are exact in doubles.
    for (let y = 0; y < n; y++) {
      const k = weights[kBase + y]!;
      if (k === 0) continue;
      const rowBase = (first + y) * stride;
      for (let i = 0; i < stride; i++) acc[i]! += src[rowBase + i]! * k;
    }
    const outBase = yy * stride;
    for (let i = 0; i < stride; i++) out[outBase + i] = clip8(acc[i]!);
  }
  return out;
}
