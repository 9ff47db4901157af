import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { bicubicKernel, precomputeCoefficients, resizeBicubic } from './pillow-resample';

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
  it.each(fixture.cases.map((c) => [`${c.in.join('×')} → ${c.out.join('×')}`, c] as const))(
    'equals Pillow bit for bit: %s',
    (_name, c) => {
      const src = new Uint8Array(Buffer.from(c.src, 'base64'));
      const expected = new Uint8Array(Buffer.from(c.expected, 'base64'));
      const actual = resizeBicubic(src, c.in[0], c.in[1], 3, c.out[0], c.out[1]);
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

  it('refuses a buffer smaller than its dimensions', () => {
    expect(() => resizeBicubic(new Uint8Array(5), 2, 1, 3, 4, 4)).toThrow(RangeError);
  });
});
