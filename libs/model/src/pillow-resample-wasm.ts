import { PILLOW_RESAMPLE_WASM_BASE64 } from './pillow-resample-wasm.generated';
import type { ResampleCoefficients } from './pillow-resample';

/**
 * The WebAssembly SIMD build of Pillow's resampler passes for interleaved RGB
 * (`libs/model/assembly/pillow-resample.ts`): the same coefficients and the same integer
 * arithmetic as `pillow-resample.ts`'s JavaScript passes, four or sixteen lanes at a time.
 * `pillow-resample.ts` decides the passes; this file runs them in one module instance per
 * thread (the preprocessing pool's threads each get their own).
 */

/** One pass over the image in the module's memory. */
export type ResamplePass =
  | { readonly axis: 'horizontal'; readonly coefficients: ResampleCoefficients; readonly outWidth: number; readonly firstRow: number; readonly rows: number }
  | { readonly axis: 'vertical'; readonly coefficients: ResampleCoefficients; readonly outHeight: number; readonly rowOffset: number };

// The few WebAssembly JS-API types used here (this project's `lib` settings do not declare them).
interface WasmMemory {
  readonly buffer: ArrayBuffer;
  grow(pages: number): number;
}
type WasmModule = object;
declare const WebAssembly: {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { readonly exports: unknown };
};

interface ResamplerExports {
  readonly memory: WasmMemory;
  heapBase(): number;
  horizontalRgb(
    src: number,
    srcStride: number,
    firstRow: number,
    rows: number,
    outWidth: number,
    starts: number,
    counts: number,
    packed: number,
    groups: number,
    out: number,
  ): void;
  normalizeRgb(src: number, pixels: number, tables: number, out: number): void;
  vertical(src: number, stride: number, rowOffset: number, outHeight: number, starts: number, counts: number, weights: number, kernelSize: number, out: number): void;
}

const PAGE = 65_536;
/** Every buffer is padded: the SIMD loops read and write up to 15 bytes past one. */
const PAD = 16;
/**
 * Memory an instance keeps between calls. An image needing more gets a one-off instance that is
 * dropped afterwards, so a thread that once resized a 100-megapixel image does not keep 300 MB.
 */
const KEPT_BYTES = 64 * 1024 * 1024;

let compiled: WasmModule | null | undefined;
let kept: ResamplerExports | undefined;

function wasmModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      compiled = new WebAssembly.Module(Buffer.from(PILLOW_RESAMPLE_WASM_BASE64, 'base64'));
    } catch {
      // A runtime without WebAssembly SIMD: the JavaScript passes give the same pixels.
      compiled = null;
    }
  }
  return compiled;
}

/** Whether this runtime can run the WebAssembly passes (Node ≥ 16.4 has SIMD). */
export function wasmResamplerAvailable(): boolean {
  return wasmModule() !== null;
}

function instantiate(): ResamplerExports {
  const module = wasmModule();
  if (!module) throw new Error('WebAssembly SIMD is not available in this runtime');
  return new WebAssembly.Instance(module, {}).exports as unknown as ResamplerExports;
}

const align = (n: number) => (n + 15) & ~15;

/** Groups of four taps the horizontal kernel walks per output column. */
const groupsOf = (coefficients: ResampleCoefficients) => Math.ceil(coefficients.kernelSize / 4);

/**
 * The horizontal pass's coefficient vectors (see `horizontalRgb` in the AssemblyScript source):
 * per column and group of four taps, `[hi0, hi1] ×3, 0, 0`, `[lo0, lo1] ×3, 0, 0`, then the same
 * for taps 2–3, with `hi = k >> 11` and `lo = k & 2047`. `dest` must be zeroed or fully written:
 * every value is written here.
 */
function packHorizontal(coefficients: ResampleCoefficients, groups: number, dest: Int16Array): void {
  const { kernelSize, count, weights } = coefficients;
  dest.fill(0);
  for (let xx = 0; xx < count.length; xx++) {
    const n = count[xx]!;
    const column = xx * groups * 32;
    for (let x = 0; x < n; x++) {
      const k = weights[xx * kernelSize + x]!;
      const hi = k >> 11;
      const lo = k & 2047;
      // Tap x: group x >> 2, pair (x >> 1) & 1, lane x & 1.
      const at = column + (x >> 2) * 32 + ((x >> 1) & 1) * 16 + (x & 1);
      dest[at] = hi;
      dest[at + 2] = hi;
      dest[at + 4] = hi;
      dest[at + 8] = lo;
      dest[at + 10] = lo;
      dest[at + 12] = lo;
    }
  }
}

/**
 * Run `passes` over interleaved RGB `src` (`width × height × 3` bytes) and return the result,
 * `resultWidth × resultHeight × 3` bytes.
 */
export function runRgbPasses(src: Uint8Array, width: number, height: number, passes: readonly ResamplePass[]): Uint8Array {
  const { memory, resultAt, resultWidth, resultHeight } = execute(src, width, height, passes, 0);
  return new Uint8Array(memory.buffer.slice(resultAt, resultAt + resultWidth * resultHeight * 3));
}

/**
 * Run `passes`, then write the result as three float32 planes (channels first) into
 * `out[offset …]`, each byte mapped through its channel's table (`tables`: 3 × 256 float32, R G B):
 * the resize and the processor's rescale + normalisation without a JavaScript loop over pixels.
 */
export function runRgbPassesNormalized(
  src: Uint8Array,
  width: number,
  height: number,
  passes: readonly ResamplePass[],
  tables: Float32Array,
  out: Float32Array,
  offset: number,
): void {
  if (tables.length !== 768) throw new RangeError(`expected 3 × 256 channel tables, got ${tables.length} values`);
  const { resultWidth, resultHeight } = resultSize(width, height, passes);
  const values = resultWidth * resultHeight * 3;
  if (offset < 0 || offset + values > out.length) throw new RangeError(`no room for ${values} values at ${offset} in ${out.length}`);
  const { exports, memory, resultAt, extraAt } = execute(src, width, height, passes, 768 * 4 + values * 4);
  new Float32Array(memory.buffer, extraAt, 768).set(tables);
  const floatsAt = extraAt + 768 * 4;
  exports.normalizeRgb(resultAt, resultWidth * resultHeight, extraAt, floatsAt);
  out.set(new Float32Array(memory.buffer, floatsAt, values), offset);
}

function resultSize(width: number, height: number, passes: readonly ResamplePass[]): { resultWidth: number; resultHeight: number } {
  let w = width;
  let h = height;
  for (const pass of passes) {
    if (pass.axis === 'horizontal') {
      w = pass.outWidth;
      h = pass.rows;
    } else {
      h = pass.outHeight;
    }
  }
  return { resultWidth: w, resultHeight: h };
}

/** Copy `src` in, run the passes; `extraBytes` more are reserved (16-aligned) after the last output. */
function execute(src: Uint8Array, width: number, height: number, passes: readonly ResamplePass[], extraBytes: number) {
  // Lay out: source, then per pass its coefficients and its output, then the caller's extra.
  let cursor = 0;
  const take = (bytes: number) => {
    const at = cursor;
    cursor = align(cursor + bytes + PAD);
    return at;
  };
  const srcAt = take(width * height * 3);
  let w = width;
  let h = height;
  const layout = passes.map((pass) => {
    const { coefficients } = pass;
    const n = coefficients.start.length;
    const starts = take(n * 4);
    const counts = take(n * 4);
    const weights = take(pass.axis === 'horizontal' ? n * groupsOf(coefficients) * 64 : coefficients.weights.length * 4);
    if (pass.axis === 'horizontal') {
      w = pass.outWidth;
      h = pass.rows;
    } else {
      h = pass.outHeight;
    }
    const out = take(w * h * 3);
    return { starts, counts, weights, out, width: w, height: h };
  });
  const extra = take(extraBytes);
  const needed = cursor;

  let exports = kept;
  if (needed > KEPT_BYTES) exports = instantiate();
  else exports ??= kept = instantiate();
  const base = align(exports.heapBase());
  const memory = exports.memory;
  const missing = base + needed - memory.buffer.byteLength;
  if (missing > 0) memory.grow(Math.ceil(missing / PAGE));

  new Uint8Array(memory.buffer).set(src.subarray(0, width * height * 3), base + srcAt);
  let current = base + srcAt;
  let currentWidth = width;
  passes.forEach((pass, i) => {
    const at = layout[i]!;
    const { coefficients } = pass;
    new Int32Array(memory.buffer, base + at.starts, coefficients.start.length).set(coefficients.start);
    new Int32Array(memory.buffer, base + at.counts, coefficients.count.length).set(coefficients.count);
    if (pass.axis === 'horizontal') {
      const groups = groupsOf(coefficients);
      packHorizontal(coefficients, groups, new Int16Array(memory.buffer, base + at.weights, coefficients.start.length * groups * 32));
      exports.horizontalRgb(current, currentWidth * 3, pass.firstRow, pass.rows, pass.outWidth, base + at.starts, base + at.counts, base + at.weights, groups, base + at.out);
    } else {
      new Int32Array(memory.buffer, base + at.weights, coefficients.weights.length).set(coefficients.weights);
      exports.vertical(current, currentWidth * 3, pass.rowOffset, pass.outHeight, base + at.starts, base + at.counts, base + at.weights, coefficients.kernelSize, base + at.out);
    }
    current = base + at.out;
    currentWidth = at.width;
  });
  return { exports, memory, resultAt: current, resultWidth: w, resultHeight: h, extraAt: base + extra };
}
