/**
 * Half-precision storage of embeddings (`--embedding-dtype float16`): IEEE 754 binary16 bits in
 * a Uint16Array, which Arrow's `Float16` type holds and Parquet stores as its FLOAT16 logical type
 * (FIXED_LEN_BYTE_ARRAY(2)). Readers in this repository cast back to float32 on read
 * ({@link vectorFloats}); the conversions are written out here rather than taken from
 * `Float16Array`, which not every supported Node version has.
 */
import type * as arrow from 'apache-arrow';
import { Arrow } from '../lazy-arrow';

/** Storage types of the `embedding` column. */
export const EMBEDDING_DTYPES = ['float32', 'float16'] as const;
export type EmbeddingDtype = (typeof EMBEDDING_DTYPES)[number];

const scratch = new Float32Array(1);
const scratchBits = new Uint32Array(scratch.buffer);

/** float32 → binary16 bits, rounding to nearest even; overflow gives ±Infinity, NaN stays NaN. */
export function float32ToFloat16Bits(values: ArrayLike<number>): Uint16Array {
  const out = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) {
    scratch[0] = values[i]!;
    const x = scratchBits[0]!;
    const sign = (x >>> 16) & 0x8000;
    const exponent = (x >>> 23) & 0xff;
    let mantissa = x & 0x7fffff;
    if (exponent === 0xff) {
      out[i] = sign | 0x7c00 | (mantissa ? 0x200 : 0);
      continue;
    }
    const e = exponent - 127 + 15;
    if (e >= 0x1f) {
      out[i] = sign | 0x7c00;
      continue;
    }
    if (e <= 0) {
      // Subnormal half (or zero): shift the mantissa, with its implicit bit, into place.
      if (e < -10) {
        out[i] = sign;
        continue;
      }
      mantissa |= 0x800000;
      const shift = 14 - e;
      const half = mantissa >>> shift;
      const rest = mantissa & ((1 << shift) - 1);
      const midpoint = 1 << (shift - 1);
      out[i] = sign | (half + (rest > midpoint || (rest === midpoint && (half & 1)) ? 1 : 0));
      continue;
    }
    let half = (e << 10) | (mantissa >>> 13);
    const rest = mantissa & 0x1fff;
    if (rest > 0x1000 || (rest === 0x1000 && (half & 1))) half++; // may carry into the exponent: correct
    out[i] = sign | half;
  }
  return out;
}

let table: Float32Array | undefined;

/** The float32 value of every binary16 bit pattern (256 KiB, built once). */
function halfTable(): Float32Array {
  if (table) return table;
  table = new Float32Array(65536);
  for (let bits = 0; bits < 65536; bits++) {
    const sign = bits & 0x8000 ? -1 : 1;
    const exponent = (bits >>> 10) & 0x1f;
    const mantissa = bits & 0x3ff;
    if (exponent === 0) table[bits] = sign * mantissa * 2 ** -24;
    else if (exponent === 0x1f) table[bits] = mantissa ? NaN : sign * Infinity;
    else table[bits] = sign * (1 + mantissa / 1024) * 2 ** (exponent - 15);
  }
  return table;
}

/** binary16 bits → float32 values (into `out` when given). */
export function float16BitsToFloat32(bits: ArrayLike<number>, out = new Float32Array(bits.length)): Float32Array {
  const values = halfTable();
  for (let i = 0; i < bits.length; i++) out[i] = values[bits[i]!]!;
  return out;
}

/**
 * The row-major float32 values of one chunk of a FixedSizeList<float32 | float16>[dim] column:
 * a view of the chunk for float32, a converted copy for float16 (the cast on read).
 */
export function vectorFloats(data: arrow.Data, dim: number): Float32Array {
  const child = data.children[0]!;
  const start = child.offset + data.offset * dim;
  const end = start + data.length * dim;
  if (Arrow.DataType.isFloat(child.type) && child.type.precision === Arrow.Precision.HALF) {
    return float16BitsToFloat32((child.values as Uint16Array).subarray(start, end));
  }
  if (Arrow.DataType.isFloat(child.type) && child.type.precision === Arrow.Precision.SINGLE) {
    return (child.values as Float32Array).subarray(start, end);
  }
  throw new TypeError(`vectors of ${String(child.type)} are not float32 or float16`);
}

/** The storage type of a FixedSizeList vector field, or undefined when it is not one of ours. */
export function vectorDtypeOf(field: arrow.Field): EmbeddingDtype | undefined {
  if (!Arrow.DataType.isFixedSizeList(field.type)) return undefined;
  const item = field.type.children[0]!.type;
  if (!Arrow.DataType.isFloat(item)) return undefined;
  if (item.precision === Arrow.Precision.HALF) return 'float16';
  if (item.precision === Arrow.Precision.SINGLE) return 'float32';
  return undefined;
}
