/**
 * The int8 scan copy of the vector cache and the error bound that makes its ranking exact.
 *
 * A stored row x (float32) is kept as int8 codes c with one float32 scale s per row
 * (s = max|x_i| / 127, c_i = round(x_i / s)), so x̃ = s·c. The query y is scaled to int16 codes p
 * with one scale t (ỹ = t·p). The scan computes â = s·t·(c·p), exactly (integer dot in int32).
 * The true score x·y differs from it by
 *
 *   x·y − x̃·ỹ = x·(y − ỹ) + (x − x̃)·ỹ,   so   |x·y − â| ≤ ‖x‖·‖y − ỹ‖ + ‖x − x̃‖·‖ỹ‖ =: B_x
 *
 * (Cauchy–Schwarz twice). ‖x − x̃‖ is measured per row when the copy is built and stored beside
 * the scale; max ‖x‖ is kept for the whole cache; ‖y − ỹ‖ and ‖ỹ‖ are measured per query.
 *
 * Exact top-k from the bound: let L be the k-th largest lower bound â − B over all rows. k rows
 * have a true score ≥ L, so the k-th best true score T_k ≥ L, and every row of the exact top-k
 * (ties at T_k included) has â + B ≥ T_k ≥ L. Re-ranking exactly every row with â + B ≥ L
 * therefore returns the exact top-k, whatever the data (near-ties and duplicates included).
 */

/** Relative and absolute slack added to every bound, for the float64 rounding of â and of the norms. */
const SLACK_RELATIVE = 1e-6;
const SLACK_ABSOLUTE = 1e-9;

export interface QuantizedRows {
  /** `rows × stride` int8 codes (the tail of each row beyond `dim` is zero). */
  codes: Int8Array;
  /** Per row: the scale s and the error norm ‖x − s·c‖ (rounded up), interleaved. */
  scales: Float32Array;
  /** Largest ‖x‖ of these rows. */
  maxNorm: number;
}

/** Quantises `rows` float32 rows of `dim` values (row-major) to int8 rows of `stride` values. */
export function quantizeRows(values: Float32Array, rows: number, dim: number, stride: number): QuantizedRows {
  const codes = new Int8Array(rows * stride);
  const scales = new Float32Array(rows * 2);
  let maxNorm = 0;
  for (let r = 0; r < rows; r++) {
    const base = r * dim;
    let max = 0;
    let norm = 0;
    for (let i = 0; i < dim; i++) {
      const v = values[base + i]!;
      const a = v < 0 ? -v : v;
      if (a > max) max = a;
      norm += v * v;
    }
    // A NaN or an infinity anywhere in the row makes the sum non-finite.
    if (!Number.isFinite(norm)) throw new RangeError(`row ${r} has a non-finite value`);
    maxNorm = Math.max(maxNorm, Math.sqrt(norm));
    if (max === 0) continue;
    const scale = Math.fround(max / 127);
    const inverse = 1 / scale;
    let error = 0;
    const out = r * stride;
    for (let i = 0; i < dim; i++) {
      const v = values[base + i]!;
      // Any code is sound (the error below is measured with the code kept); nearest is tightest.
      let code = Math.round(v * inverse);
      if (code > 127) code = 127;
      else if (code < -127) code = -127;
      codes[out + i] = code;
      const e = v - scale * code;
      error += e * e;
    }
    scales[r * 2] = scale;
    scales[r * 2 + 1] = roundUpToFloat32(Math.sqrt(error));
  }
  return { codes, scales, maxNorm };
}

export interface QuantizedQuery {
  /** `stride` int16 codes (zero beyond the query's width). */
  codes: Int16Array;
  /** t: ỹ = t·codes. */
  scale: number;
  /** ‖y − ỹ‖. */
  errorNorm: number;
  /** ‖ỹ‖. */
  norm: number;
}

/** Scales the query to int16 codes no larger than `limit` (see queryScaleLimit). */
export function quantizeQuery(query: Float32Array, stride: number, limit: number): QuantizedQuery {
  const codes = new Int16Array(stride);
  let max = 0;
  for (const v of query) {
    if (!Number.isFinite(v)) throw new RangeError('the query vector has a non-finite value');
    max = Math.max(max, Math.abs(v));
  }
  const scale = max === 0 ? 0 : max / limit;
  let error = 0;
  let norm = 0;
  for (let i = 0; i < query.length; i++) {
    const v = query[i]!;
    const code = scale === 0 ? 0 : Math.max(-limit, Math.min(limit, Math.round(v / scale)));
    codes[i] = code;
    const approx = scale * code;
    error += (v - approx) ** 2;
    norm += approx * approx;
  }
  return { codes, scale, errorNorm: Math.sqrt(error), norm: Math.sqrt(norm) };
}

/** The terms of B_x for one query: B_x = fixed + perRowError · (row's stored error norm). */
export function errorBoundTerms(query: QuantizedQuery, maxNorm: number): { fixed: number; perRowError: number } {
  return {
    fixed: maxNorm * query.errorNorm * (1 + SLACK_RELATIVE) + SLACK_ABSOLUTE,
    perRowError: query.norm * (1 + SLACK_RELATIVE),
  };
}

function roundUpToFloat32(value: number): number {
  const rounded = Math.fround(value);
  return rounded >= value ? rounded : Math.fround(value * (1 + 2 ** -22));
}
