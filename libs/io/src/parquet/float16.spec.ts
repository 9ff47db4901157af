/**
 * float16 storage: the binary16 conversion (libs/run-format float16-part.spec.ts checks what
 * DuckDB and our readers see of a float16 part file).
 */
import { describe, expect, test } from 'vitest';
import { float16BitsToFloat32, float32ToFloat16Bits } from './float16';

const f16round = (Math as unknown as { f16round?: (x: number) => number }).f16round;

/** Reference: Math.f16round where Node has it, else binary16 rounding done in float64. */
function referenceRound(x: number): number {
  if (f16round) return f16round(x);
  const scale = 2 ** (Math.max(-14, Math.floor(Math.log2(Math.abs(x)))) - 10);
  const q = x / scale;
  const lower = Math.floor(q);
  const pick = q - lower > 0.5 || (q - lower === 0.5 && lower % 2 !== 0) ? lower + 1 : lower;
  const rounded = pick * scale;
  return Math.abs(rounded) > 65504 ? Math.sign(rounded) * Infinity : rounded;
}

describe('binary16 conversion', () => {
  test('every finite half value converts back to itself', () => {
    const bits = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const values = float16BitsToFloat32(bits);
    const again = float32ToFloat16Bits(values);
    for (let i = 0; i < 65536; i++) {
      const exponent = (i >> 10) & 0x1f;
      if (exponent === 0x1f && (i & 0x3ff) !== 0) {
        expect(Number.isNaN(values[i])).toBe(true);
        continue;
      }
      if (again[i] !== i) expect.fail(`bits ${i.toString(16)} → ${values[i]} → ${again[i]!.toString(16)}`);
    }
  });

  test('rounds to nearest even, like Math.f16round, across normal, subnormal and overflowing values', () => {
    const samples: number[] = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, 2 ** -24, 2 ** -25, 3 * 2 ** -26, 2 ** -26, 6.1e-5, 1e-8, 0.1, 1 / 3];
    let x = 42;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2147483648;
      samples.push((x / 2147483648 - 0.5) * 2 ** ((i % 40) - 30));
    }
    const values = Float32Array.from(samples);
    const back = float16BitsToFloat32(float32ToFloat16Bits(values));
    values.forEach((value, i) => {
      const expected = referenceRound(value);
      if (!Object.is(back[i], expected) && back[i] !== expected) expect.fail(`${value} → ${back[i]}, expected ${expected}`);
    });
    expect(back[6]).toBe(Infinity); // 65520 rounds up past the largest half
    expect(back[9]).toBe(2 ** -24);
  });
});
