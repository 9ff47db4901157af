/**
 * A WebAssembly SIMD kernel for the int8 scan of the vector cache: `out[r] = Σ_i a[r, i] · b[i]`
 * for `count` int8 rows of `stride` values (a multiple of 16, zero-padded) against one int16
 * query, accumulated exactly in int32.
 *
 * Why WASM: JavaScript's scalar loops do ~0.5 G multiply-adds per second here; onnxruntime's
 * MatMulInteger (int8) measured 2.1 s per million 1,152-d rows and its float32 MatMul needs the
 * 4.6 GB float32 copy read per query. SIMD128 `i32x4.dot_i16x8_s` (x86 `pmaddwd`) does 8
 * multiply-adds per instruction over a quarter of the bytes.
 *
 * The module is ~150 bytes, so it is written here as bytes rather than compiled by a
 * toolchain: one exported function and one exported memory.
 *
 *   (func $dots (param $a i32) (param $count i32) (param $stride i32) (param $b i32) (param $out i32)
 *     (local $i i32) (local $acc v128) (local $v v128)
 *     block loop                               ;; for each row
 *       count == 0 → exit; acc = 0; i = 0
 *       loop                                   ;; for each 16 values
 *         v = load(a + i)
 *         acc += dot(extend_low(v), load(b + 2i)) + dot(extend_high(v), load(b + 2i + 16))
 *         i += 16; continue while i < stride
 *       end
 *       *out = acc[0] + acc[1] + acc[2] + acc[3]; out += 4; a += stride; count -= 1
 *     end end)
 */

/** Largest |int16| the query may be scaled to so that no int32 sum can overflow over `stride` values. */
export function queryScaleLimit(stride: number): number {
  return Math.min(32767, Math.floor(0x7fffffff / (127 * stride)));
}

/** Values per row in the int8 file: the embedding width rounded up to a multiple of 16. */
export function int8Stride(dim: number): number {
  return Math.ceil(dim / 16) * 16;
}

const I32 = 0x7f;
const V128 = 0x7b;

function uleb(value: number): number[] {
  const out: number[] = [];
  let v = value >>> 0;
  do {
    let byte = v & 0x7f;
    v >>>= 7;
    if (v !== 0) byte |= 0x80;
    out.push(byte);
  } while (v !== 0);
  return out;
}

function section(id: number, body: number[]): number[] {
  return [id, ...uleb(body.length), ...body];
}

function name(text: string): number[] {
  const bytes = [...Buffer.from(text, 'utf8')];
  return [...uleb(bytes.length), ...bytes];
}

// Instructions used (core opcodes, then SIMD ones behind the 0xfd prefix with a LEB128 index).
const op = {
  block: [0x02, 0x40],
  loop: [0x03, 0x40],
  end: [0x0b],
  brIf: (depth: number) => [0x0d, depth],
  get: (local: number) => [0x20, local],
  set: (local: number) => [0x21, local],
  tee: (local: number) => [0x22, local],
  i32Const: (value: number) => [0x41, value], // only small non-negative values (< 64) below
  i32Eqz: [0x45],
  i32LtU: [0x49],
  i32Add: [0x6a],
  i32Sub: [0x6b],
  i32Shl: [0x74],
  i32Store: [0x36, 2, 0],
  v128Load: (offset: number) => [0xfd, 0x00, 0, ...uleb(offset)],
  v128Zero: [0xfd, 0x0c, ...new Array<number>(16).fill(0)],
  extractLane: (lane: number) => [0xfd, 0x1b, lane],
  extendLowS: [0xfd, ...uleb(0x87)],
  extendHighS: [0xfd, ...uleb(0x88)],
  i32x4Add: [0xfd, ...uleb(0xae)],
  dotS: [0xfd, ...uleb(0xba)],
};

/** The module's bytes (exports `dots` and `memory`, one page to start with). */
export function int8DotModuleBytes(): Uint8Array {
  const [A, COUNT, STRIDE, B, OUT, I, ACC, V] = [0, 1, 2, 3, 4, 5, 6, 7];
  const queryAt = [...op.get(B), ...op.get(I), ...op.i32Const(1), ...op.i32Shl, ...op.i32Add];
  const body = [
    // locals: one i32 ($i), two v128 ($acc, $v)
    2, 1, I32, 2, V128,
    ...op.block,
    ...op.loop,
    ...op.get(COUNT), ...op.i32Eqz, ...op.brIf(1),
    ...op.v128Zero, ...op.set(ACC),
    ...op.i32Const(0), ...op.set(I),
    ...op.loop,
    ...op.get(ACC),
    ...op.get(A), ...op.get(I), ...op.i32Add, ...op.v128Load(0), ...op.tee(V),
    ...op.extendLowS, ...queryAt, ...op.v128Load(0), ...op.dotS, ...op.i32x4Add,
    ...op.get(V),
    ...op.extendHighS, ...queryAt, ...op.v128Load(16), ...op.dotS, ...op.i32x4Add,
    ...op.set(ACC),
    ...op.get(I), ...op.i32Const(16), ...op.i32Add, ...op.tee(I), ...op.get(STRIDE), ...op.i32LtU, ...op.brIf(0),
    ...op.end,
    ...op.get(OUT),
    ...op.get(ACC), ...op.extractLane(0),
    ...op.get(ACC), ...op.extractLane(1), ...op.i32Add,
    ...op.get(ACC), ...op.extractLane(2), ...op.i32Add,
    ...op.get(ACC), ...op.extractLane(3), ...op.i32Add,
    ...op.i32Store,
    ...op.get(OUT), ...op.i32Const(4), ...op.i32Add, ...op.set(OUT),
    ...op.get(A), ...op.get(STRIDE), ...op.i32Add, ...op.set(A),
    ...op.get(COUNT), ...op.i32Const(1), ...op.i32Sub, ...op.tee(COUNT), ...op.brIf(0),
    ...op.end,
    ...op.end,
    ...op.end,
  ];
  const bytes = [
    0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00,
    ...section(1, [1, 0x60, 5, I32, I32, I32, I32, I32, 0]),
    ...section(3, [1, 0]),
    ...section(5, [1, 0x00, 1]),
    ...section(7, [2, ...name('dots'), 0x00, 0, ...name('memory'), 0x02, 0]),
    ...section(10, [1, ...uleb(body.length), ...body]),
  ];
  return Uint8Array.from(bytes);
}

export interface Int8DotKernel {
  memory: { readonly buffer: ArrayBuffer; grow(pages: number): number };
  /** Pointers are byte offsets into `memory`. */
  dots(a: number, count: number, stride: number, b: number, out: number): void;
}

// The project compiles without the DOM library, which is where TypeScript declares WebAssembly.
interface WebAssemblyApi {
  Module: new (bytes: Uint8Array) => object;
  Instance: new (module: object) => { exports: unknown };
}

/** Instantiates the kernel in this thread (synchronously: the module is tiny). */
export function instantiateInt8Dot(): Int8DotKernel {
  const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;
  return new wasm.Instance(new wasm.Module(int8DotModuleBytes())).exports as Int8DotKernel;
}
