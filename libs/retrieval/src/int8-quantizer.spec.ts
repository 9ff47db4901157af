import { describe, expect, it } from 'vitest';
import { instantiateInt8Dot, int8Stride, queryScaleLimit } from './int8-dot-kernel';
import { errorBoundTerms, quantizeQuery, quantizeRows } from './int8-quantizer';

/** xorshift32 in [-0.5, 0.5). */
function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296 - 0.5;
  };
}

function unitRows(rows: number, dim: number, seed: number, spike = false): Float32Array {
  const next = rng(seed);
  const out = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    let sum = 0;
    for (let i = 0; i < dim; i++) {
      // Some rows with one large component: their int8 scale is coarse, their bound wide.
      const v = spike && i === r % dim ? 20 * next() : next();
      out[r * dim + i] = v;
      sum += v * v;
    }
    for (let i = 0; i < dim; i++) out[r * dim + i]! /= Math.sqrt(sum);
  }
  return out;
}

describe('int8 dot kernel (WASM SIMD)', () => {
  it('computes exact int32 dot products of int8 rows with an int16 query, padded rows included', () => {
    const dim = 200;
    const stride = int8Stride(dim);
    expect(stride).toBe(208);
    const rows = 37;
    const kernel = instantiateInt8Dot();
    const limit = queryScaleLimit(stride);
    const outAt = stride * 2 + rows * stride;
    kernel.memory.grow(Math.ceil((outAt + rows * 4) / 65536));
    const query = new Int16Array(kernel.memory.buffer, 0, stride);
    const codes = new Int8Array(kernel.memory.buffer, stride * 2, rows * stride);
    const next = rng(7);
    // Extremes on purpose: the largest magnitudes must not overflow.
    for (let i = 0; i < dim; i++) query[i] = i % 3 === 0 ? limit : Math.round(next() * 2 * limit);
    for (let r = 0; r < rows; r++) for (let i = 0; i < dim; i++) codes[r * stride + i] = r === 0 ? 127 : Math.round(next() * 254);
    kernel.dots(stride * 2, rows, stride, 0, outAt);
    const out = new Int32Array(kernel.memory.buffer, outAt, rows);
    for (let r = 0; r < rows; r++) {
      let expected = 0;
      for (let i = 0; i < dim; i++) expected += codes[r * stride + i]! * query[i]!;
      expect(out[r], `row ${r}`).toBe(expected);
    }
  });
});

describe('int8 quantisation bound', () => {
  it.each([
    ['random unit rows', false],
    ['rows with a dominant component', true],
  ])('bounds |x·y − â| for every row and query (%s)', (_name, spike) => {
    const dim = 1152;
    const rows = 300;
    const stride = int8Stride(dim);
    const values = unitRows(rows, dim, 11, spike);
    const { codes, scales, maxNorm } = quantizeRows(values, rows, dim, stride);
    expect(maxNorm).toBeCloseTo(1, 6);
    let tightest = Number.POSITIVE_INFINITY;
    for (let q = 0; q < 5; q++) {
      // Queries include stored rows themselves (the near-duplicate case).
      const query = q < 2 ? values.slice(q * dim, (q + 1) * dim) : unitRows(1, dim, 100 + q);
      const qq = quantizeQuery(query, stride, queryScaleLimit(stride));
      const { fixed, perRowError } = errorBoundTerms(qq, maxNorm);
      for (let r = 0; r < rows; r++) {
        let exact = 0;
        let integer = 0;
        for (let i = 0; i < dim; i++) {
          exact += values[r * dim + i]! * query[i]!;
          integer += codes[r * stride + i]! * qq.codes[i]!;
        }
        const approx = scales[r * 2]! * qq.scale * integer;
        const bound = fixed + perRowError * scales[r * 2 + 1]!;
        expect(Math.abs(exact - approx)).toBeLessThanOrEqual(bound);
        tightest = Math.min(tightest, bound - Math.abs(exact - approx));
      }
    }
    // The bound is a real one, not a huge constant: a few thousandths at 1,152 dimensions.
    expect(tightest).toBeLessThan(0.02);
  });

  it('keeps zero rows exact and refuses non-finite values', () => {
    const { codes, scales } = quantizeRows(new Float32Array(32), 2, 16, 16);
    expect([...codes].every((c) => c === 0)).toBe(true);
    expect([...scales]).toEqual([0, 0, 0, 0]);
    expect(() => quantizeRows(Float32Array.of(1, Number.NaN), 1, 2, 16)).toThrow(RangeError);
    expect(() => quantizeQuery(Float32Array.of(Number.POSITIVE_INFINITY), 16, 100)).toThrow(RangeError);
  });
});
