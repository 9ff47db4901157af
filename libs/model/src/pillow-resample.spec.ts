import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MAX_RESAMPLE_TAPS, bicubicKernel, planPasses, precomputeCoefficients, resizeBicubic, resizeBicubicNormalizedInto } from './pillow-resample';
import { wasmResamplerAvailable } from './pillow-resample-wasm';

interface ResampleCase {
  in: [number, number];
  out: [number, number];
  src: string;
  expected: string;
}

// Written by test-fixtures/make-pillow-resample-cases.py with Pillow's own Image.resize.
const fixture = JSON.parse(
  readFileSync(new URL('../test-fixtures/pillow-resample-cases.json', import.meta.url), 'utf8'),
) as { pillow: string; cases: ResampleCase[] };

describe('bicubicKernel', () => {
  it('is Keys cubic with a = −0.5', () => {
    expect(bicubicKernel(0)).toBe(1);
    expect(bicubicKernel(1)).toBeCloseTo(0, 15);
    expect(bicubicKernel(2)).toBeCloseTo(0, 15);
    expect(bicubicKernel(0.5)).toBeCloseTo(0.5625, 12);
    expect(bicubicKernel(-0.5)).toBeCloseTo(0.5625, 12);
    expect(bicubicKernel(1.5)).toBeCloseTo(-0.0625, 12);
    expect(bicubicKernel(2.5)).toBe(0);
  });
});

describe('precomputeCoefficients', () => {
  it('refuses a table over its bound before allocating it (a 100,000,000-pixel side into 224)', () => {
    expect(() => precomputeCoefficients(100_000_000, 224)).toThrow(
      new RangeError('resampling 100000000 pixels to 224 needs 400000608 coefficients, over the limit of 2097152'),
    );
    expect(() => planPasses(1, 100_000_000, 224, 224)).toThrow(RangeError);
    expect(() => planPasses(100_000_000, 1, 224, 224)).toThrow(RangeError);
    expect(precomputeCoefficients(65_535, 224).weights.length).toBeLessThan(MAX_RESAMPLE_TAPS);
  });

  it('widens the support by the downscale factor and keeps it at 2 when enlarging', () => {
    expect(precomputeCoefficients(100, 10).kernelSize).toBe(41); // ceil(2·10)·2+1
    expect(precomputeCoefficients(10, 100).kernelSize).toBe(5);
  });

  it('gives weights that sum to one in 22-bit fixed point (±rounding)', () => {
    const { kernelSize, count, weights } = precomputeCoefficients(37, 11);
    for (let i = 0; i < 11; i++) {
      let sum = 0;
      for (let k = 0; k < count[i]!; k++) sum += weights[i * kernelSize + k]!;
      expect(Math.abs(sum - (1 << 22))).toBeLessThanOrEqual(count[i]!);
    }
  });

  it('is the identity when the size does not change', () => {
    const { kernelSize, start, count, weights } = precomputeCoefficients(5, 5);
    for (let i = 0; i < 5; i++) {
      const taps = Array.from(weights.subarray(i * kernelSize, i * kernelSize + count[i]!));
      expect(taps[i - start[i]!]).toBe(1 << 22);
      expect(taps.filter((w) => w !== 0)).toHaveLength(1);
    }
  });
});

describe('resizeBicubic', () => {
  const engines = ['wasm', 'js'] as const;
  it.each(engines.flatMap((engine) => fixture.cases.map((c) => [`${engine}: ${c.in.join('×')} → ${c.out.join('×')}`, engine, c] as const)))(
    'equals Pillow bit for bit: %s',
    (_name, engine, c) => {
      const src = new Uint8Array(Buffer.from(c.src, 'base64'));
      const expected = new Uint8Array(Buffer.from(c.expected, 'base64'));
      const actual = resizeBicubic(src, c.in[0], c.in[1], 3, c.out[0], c.out[1], engine);
      expect(actual.length).toBe(expected.length);
      let differing = 0;
      for (let i = 0; i < expected.length; i++) if (actual[i] !== expected[i]) differing++;
      expect(differing).toBe(0);
    },
  );

  it('handles any channel count the same way per channel', () => {
    const c = fixture.cases[0]!;
    const rgb = new Uint8Array(Buffer.from(c.src, 'base64'));
    const grey = rgb.filter((_, i) => i % 3 === 1);
    const expected = resizeBicubic(rgb, c.in[0], c.in[1], 3, c.out[0], c.out[1]).filter((_, i) => i % 3 === 1);
    expect(Array.from(resizeBicubic(grey, c.in[0], c.in[1], 1, c.out[0], c.out[1]))).toEqual(Array.from(expected));
  });

  it('returns a copy when nothing changes', () => {
    const src = new Uint8Array([1, 2, 3, 4, 5, 6]);
    const out = resizeBicubic(src, 2, 1, 3, 2, 1);
    expect(Array.from(out)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(out).not.toBe(src);
  });

  it('runs RGB through the WebAssembly passes by default', () => {
    expect(wasmResamplerAvailable()).toBe(true);
  });

  it('gives the same bytes from the WebAssembly and the JavaScript passes for every pass shape', () => {
    // Seeded sizes: shrink and enlarge on each axis, one axis unchanged, 1-pixel sides, odd
    // widths (the SIMD loops' 4-tap groups and 16-byte rows end mid-pixel), the >100× tall
    // vertical-first order, and pixels that saturate both ends of clip8.
    let seed = 7;
    const random = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32;
    const sizes: [number, number, number, number][] = [
      [1, 1, 224, 224], [2, 1, 224, 224], [900, 3, 224, 224], [3, 900, 224, 224], [224, 224, 224, 224],
      [224, 500, 224, 224], [500, 224, 224, 224], [17, 23, 224, 224], [800, 550, 224, 224], [5, 700, 224, 224],
      [5, 700, 5, 224], [7, 5, 3, 2], [640, 480, 1, 1], [1, 300, 1, 17],
    ];
    for (let i = 0; i < 40; i++) sizes.push([1 + Math.floor(random() * 700), 1 + Math.floor(random() * 700), 1 + Math.floor(random() * 300), 1 + Math.floor(random() * 300)]);
    const mismatches: string[] = [];
    for (const [w, h, ow, oh] of sizes) {
      const src = new Uint8Array(w * h * 3);
      for (let i = 0; i < src.length; i++) src[i] = random() < 0.2 ? (random() < 0.5 ? 0 : 255) : Math.floor(random() * 256);
      const js = resizeBicubic(src, w, h, 3, ow, oh, 'js');
      const wasm = resizeBicubic(src, w, h, 3, ow, oh, 'wasm');
      let differing = js.length === wasm.length ? 0 : Math.max(js.length, wasm.length);
      for (let i = 0; i < Math.min(js.length, wasm.length); i++) if (js[i] !== wasm[i]) differing++;
      if (differing > 0) mismatches.push(`${w}×${h} → ${ow}×${oh}: ${differing} bytes`);
    }
    expect(mismatches).toEqual([]);
  });

  it('does not let one call’s pixels leak into the next (the module’s memory is reused)', () => {
    const big = new Uint8Array(600 * 400 * 3).fill(255);
    resizeBicubic(big, 600, 400, 3, 224, 224, 'wasm');
    const small = new Uint8Array(3 * 2 * 3).fill(10);
    expect(Array.from(resizeBicubic(small, 3, 2, 3, 5, 4, 'wasm'))).toEqual(Array.from(resizeBicubic(small, 3, 2, 3, 5, 4, 'js')));
  });

  it('refuses other channel counts on the WebAssembly path', () => {
    expect(() => resizeBicubic(new Uint8Array(16), 4, 4, 1, 2, 2, 'wasm')).toThrow(RangeError);
  });

  it('refuses a buffer smaller than its dimensions', () => {
    expect(() => resizeBicubic(new Uint8Array(5), 2, 1, 3, 4, 4)).toThrow(RangeError);
  });
});

describe('resizeBicubicNormalizedInto', () => {
  it('equals the JS resize followed by the channel lookup, channels first, at the given offset', () => {
    const tables = new Float32Array(768).map((_, i) => Math.fround((i % 256) / 127.5 - 1 + Math.floor(i / 256) / 1000));
    for (const [w, h, ow, oh] of [[300, 200, 24, 16], [24, 16, 24, 16], [5, 900, 24, 16], [1, 1, 3, 2]] as const) {
      const src = new Uint8Array(w * h * 3).map((_, i) => (i * 7919) % 256);
      const rgb = resizeBicubic(src, w, h, 3, ow, oh, 'js');
      const plane = ow * oh;
      const offset = 5;
      const expected = new Float32Array(offset + 3 * plane + 2).fill(-9);
      for (let i = 0; i < plane; i++) for (let c = 0; c < 3; c++) expected[offset + c * plane + i] = tables[c * 256 + rgb[i * 3 + c]!]!;
      const actual = new Float32Array(expected.length).fill(-9);
      expect(resizeBicubicNormalizedInto(src, w, h, ow, oh, tables, actual, offset)).toBe(true);
      expect(Array.from(actual), `${w}×${h} → ${ow}×${oh}`).toEqual(Array.from(expected));
    }
  });

  it('refuses an output without room for the image', () => {
    expect(() => resizeBicubicNormalizedInto(new Uint8Array(12), 2, 2, 2, 2, new Float32Array(768), new Float32Array(11), 0)).toThrow(RangeError);
  });
});
