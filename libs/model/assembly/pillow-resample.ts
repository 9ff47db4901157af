// AssemblyScript source of the WebAssembly (SIMD) build of Pillow's bicubic resampler.
// Built by `node tools/wasm/build-resampler.mjs` into
// libs/model/src/pillow-resample-wasm.generated.ts; a unit test rebuilds it and fails when
// the committed module differs from this source.
//
// The arithmetic is Pillow's (src/libImaging/Resample.c, 8 bits per channel): int32 sums of
// uint8 × 22-bit fixed-point coefficients, started at 1 << 21, shifted right by 22 and clipped
// to [0, 255]. The sums never overflow int32 (they are bounded by 255 × the sum of the positive
// coefficients, < 2^31), so lanes of i32x4 give Pillow's results bit for bit. The coefficients
// come from the JavaScript side (`precomputeCoefficients`), the same ones the JS path uses.
//
// Memory is laid out by the caller; the functions only read and write the addresses they are
// given. Reads may run up to 15 bytes past a source and writes up to 15 bytes past an output:
// the caller pads every buffer by 16 bytes.

const HALF: i32 = 1 << 21;

/** First address the caller may use for its buffers. */
export function heapBase(): usize {
  return __heap_base;
}

/** Sixteen uint8 lanes clipped from four i32x4 fixed-point sums (Pillow's clip8 on each). */
// @ts-ignore: decorator
@inline
function clip8x16(a0: v128, a1: v128, a2: v128, a3: v128): v128 {
  const lo = i16x8.narrow_i32x4_s(i32x4.shr_s(a0, 22), i32x4.shr_s(a1, 22));
  const hi = i16x8.narrow_i32x4_s(i32x4.shr_s(a2, 22), i32x4.shr_s(a3, 22));
  return i8x16.narrow_i16x8_u(lo, hi);
}

/**
 * Horizontal pass over interleaved RGB rows `firstRow … firstRow + rows − 1` of `src`
 * (`srcStride` bytes per row) into `rows × outWidth` RGB pixels at `out`.
 * `starts`, `counts`: i32 per output column. `packed`: per output column, `groups` groups of
 * four taps, each four i16x8 vectors (64 bytes): the high and the low part of the coefficients
 * of taps 0–1, then of taps 2–3, each laid out `[k0, k1, k0, k1, k0, k1, 0, 0]`, taps past the
 * column's count zero. A coefficient k is split as `k = (k >> 11) · 2048 + (k & 2047)` so both
 * parts fit i16 and `i32x4.dot_i16x8_s` sums two taps per channel exactly; the two sums are
 * recombined as `(high << 11) + low`, the same int32 Pillow accumulates.
 */
export function horizontalRgb(
  src: usize,
  srcStride: i32,
  firstRow: i32,
  rows: i32,
  outWidth: i32,
  starts: usize,
  counts: usize,
  packed: usize,
  groups: i32,
  out: usize,
): void {
  const half = i32x4.splat(HALF);
  const zero = i32x4.splat(0);
  const columnBytes = <usize>groups << 6;
  const stride = <usize>srcStride;
  const outStride = <usize>outWidth * 3;
  // Two rows at a time: both use the same taps, so each coefficient vector is loaded once.
  let y = 0;
  for (; y + 1 < rows; y += 2) {
    const rowBase = src + <usize>(y + firstRow) * stride;
    let o = out + <usize>y * outStride;
    let kp = packed;
    for (let xx = 0; xx < outWidth; xx++) {
      const n = load<i32>(counts + (<usize>xx << 2));
      let p = rowBase + <usize>load<i32>(starts + (<usize>xx << 2)) * 3;
      let high0 = zero;
      let low0 = zero;
      let high1 = zero;
      let low1 = zero;
      let k = kp;
      for (let x = 0; x < n; x += 4) {
        const k0 = v128.load(k);
        const k1 = v128.load(k, 16);
        const k2 = v128.load(k, 32);
        const k3 = v128.load(k, 48);
        const a = v128.load(p);
        const b = v128.load(p + stride);
        const a01 = i8x16.shuffle(a, zero, 0, 16, 3, 16, 1, 16, 4, 16, 2, 16, 5, 16, 16, 16, 16, 16);
        const a23 = i8x16.shuffle(a, zero, 6, 16, 9, 16, 7, 16, 10, 16, 8, 16, 11, 16, 16, 16, 16, 16);
        const b01 = i8x16.shuffle(b, zero, 0, 16, 3, 16, 1, 16, 4, 16, 2, 16, 5, 16, 16, 16, 16, 16);
        const b23 = i8x16.shuffle(b, zero, 6, 16, 9, 16, 7, 16, 10, 16, 8, 16, 11, 16, 16, 16, 16, 16);
        high0 = i32x4.add(high0, i32x4.add(i32x4.dot_i16x8_s(a01, k0), i32x4.dot_i16x8_s(a23, k2)));
        low0 = i32x4.add(low0, i32x4.add(i32x4.dot_i16x8_s(a01, k1), i32x4.dot_i16x8_s(a23, k3)));
        high1 = i32x4.add(high1, i32x4.add(i32x4.dot_i16x8_s(b01, k0), i32x4.dot_i16x8_s(b23, k2)));
        low1 = i32x4.add(low1, i32x4.add(i32x4.dot_i16x8_s(b01, k1), i32x4.dot_i16x8_s(b23, k3)));
        p += 12;
        k += 64;
      }
      // Row y's pixel in exactly three bytes: a fourth would land on row y + 1's first pixel,
      // already written. Row y + 1's spill lands on a pixel written later (or the padding).
      const first = clipPixel(high0, low0, half, zero);
      v128.store16_lane(o, first, 0);
      v128.store8_lane(o, first, 2, 2);
      v128.store32_lane(o + outStride, clipPixel(high1, low1, half, zero), 0);
      o += 3;
      kp += columnBytes;
    }
  }
  if (y < rows) {
    const rowBase = src + <usize>(y + firstRow) * stride;
    let o = out + <usize>y * outStride;
    let kp = packed;
    for (let xx = 0; xx < outWidth; xx++) {
      const n = load<i32>(counts + (<usize>xx << 2));
      let p = rowBase + <usize>load<i32>(starts + (<usize>xx << 2)) * 3;
      let high = zero;
      let low = zero;
      let k = kp;
      for (let x = 0; x < n; x += 4) {
        // Pixels x … x + 3 are bytes 0–11: [r0 r1 g0 g1 b0 b1 0 0] and [r2 r3 g2 g3 b2 b3 0 0] as i16.
        const bytes = v128.load(p);
        const taps01 = i8x16.shuffle(bytes, zero, 0, 16, 3, 16, 1, 16, 4, 16, 2, 16, 5, 16, 16, 16, 16, 16);
        const taps23 = i8x16.shuffle(bytes, zero, 6, 16, 9, 16, 7, 16, 10, 16, 8, 16, 11, 16, 16, 16, 16, 16);
        high = i32x4.add(high, i32x4.add(i32x4.dot_i16x8_s(taps01, v128.load(k)), i32x4.dot_i16x8_s(taps23, v128.load(k, 32))));
        low = i32x4.add(low, i32x4.add(i32x4.dot_i16x8_s(taps01, v128.load(k, 16)), i32x4.dot_i16x8_s(taps23, v128.load(k, 48))));
        p += 12;
        k += 64;
      }
      v128.store32_lane(o, clipPixel(high, low, half, zero), 0);
      o += 3;
      kp += columnBytes;
    }
  }
}

/** One pixel's channels from the high and low coefficient sums: `(high << 11) + low`, Pillow's clip8. */
// @ts-ignore: decorator
@inline
function clipPixel(high: v128, low: v128, half: v128, zero: v128): v128 {
  const acc = i32x4.add(i32x4.add(i32x4.shl(high, 11), low), half);
  return i8x16.narrow_i16x8_u(i16x8.narrow_i32x4_s(i32x4.shr_s(acc, 22), zero), zero);
}

/**
 * Vertical pass: `outHeight` rows of `stride` bytes at `out`, output row `yy` summing rows
 * `starts[yy] − rowOffset …` of `src` (also `stride` bytes per row). Channels do not matter:
 * every byte of a row is one lane, sixteen at a time.
 */
export function vertical(
  src: usize,
  stride: i32,
  rowOffset: i32,
  outHeight: i32,
  starts: usize,
  counts: usize,
  weights: usize,
  kernelSize: i32,
  out: usize,
): void {
  const half = i32x4.splat(HALF);
  const rowBytes = <usize>stride;
  for (let yy = 0; yy < outHeight; yy++) {
    const n = load<i32>(counts + (<usize>yy << 2));
    const first = src + <usize>(load<i32>(starts + (<usize>yy << 2)) - rowOffset) * rowBytes;
    const k0 = weights + ((<usize>yy * <usize>kernelSize) << 2);
    const outRow = out + <usize>yy * rowBytes;
    for (let i: usize = 0; i < rowBytes; i += 16) {
      let a0 = half;
      let a1 = half;
      let a2 = half;
      let a3 = half;
      let p = first + i;
      for (let y = 0; y < n; y++) {
        const k = i32x4.splat(load<i32>(k0 + (<usize>y << 2)));
        const bytes = v128.load(p);
        const lo = i16x8.extend_low_i8x16_u(bytes);
        const hi = i16x8.extend_high_i8x16_u(bytes);
        a0 = i32x4.add(a0, i32x4.mul(i32x4.extend_low_i16x8_u(lo), k));
        a1 = i32x4.add(a1, i32x4.mul(i32x4.extend_high_i16x8_u(lo), k));
        a2 = i32x4.add(a2, i32x4.mul(i32x4.extend_low_i16x8_u(hi), k));
        a3 = i32x4.add(a3, i32x4.mul(i32x4.extend_high_i16x8_u(hi), k));
        p += rowBytes;
      }
      v128.store(outRow + i, clip8x16(a0, a1, a2, a3));
    }
  }
}

/**
 * Interleaved RGB bytes (`pixels` of them at `src`) → three float32 planes at `out` (R, then G,
 * then B, `pixels` values each), each byte replaced by its channel's value in `tables`
 * (3 × 256 float32: the processor's rescale and normalisation per level, computed by the caller
 * with numpy's rounding steps).
 */
export function normalizeRgb(src: usize, pixels: i32, tables: usize, out: usize): void {
  const plane = <usize>pixels << 2;
  const g = tables + 1024;
  const b = tables + 2048;
  let p = src;
  let o = out;
  const end = out + plane;
  while (o < end) {
    store<f32>(o, load<f32>(tables + (<usize>load<u8>(p) << 2)));
    store<f32>(o + plane, load<f32>(g + (<usize>load<u8>(p, 1) << 2)));
    store<f32>(o + plane + plane, load<f32>(b + (<usize>load<u8>(p, 2) << 2)));
    p += 3;
    o += 4;
  }
}
