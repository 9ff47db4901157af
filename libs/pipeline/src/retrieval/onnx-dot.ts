/**
 * A two-input ONNX graph computing `A · b` for a block of stored vectors A and one query b,
 * run by onnxruntime-node (MLAS: SIMD, multi-threaded). JavaScript's own loops do ~0.5 G
 * multiply-adds per second here; a million 1,152-d rows is 1.15 G of them.
 *
 * Measured here (65,536 × 1,152 blocks, per million rows): float32 MatMul 0.45 s; int8 rows
 * through MatMulInteger 2.1 s; int8 or float16 rows Cast to float32 in the graph, then MatMul,
 * 1.5–1.9 s. The search cache no longer uses this: its int8 copy is scanned by a WASM SIMD
 * kernel (int8-dot-kernel.ts, ~0.13 s per million rows on one core) and only the candidates
 * are read as float32.
 *
 * The graph is written as protobuf bytes directly (ModelProto → GraphProto → NodeProto,
 * ValueInfoProto): it has one node, so no ONNX library is needed.
 */
import * as ort from 'onnxruntime-node';

class Proto {
  private readonly parts: Buffer[] = [];
  varint(field: number, value: number): this {
    this.parts.push(varint((field << 3) | 0), varint(value));
    return this;
  }
  bytes(field: number, value: Uint8Array | string): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    this.parts.push(varint((field << 3) | 2), varint(data.length), data);
    return this;
  }
  message(field: number, build: (w: Proto) => void): this {
    const inner = new Proto();
    build(inner);
    return this.bytes(field, inner.finish());
  }
  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function varint(value: number): Buffer {
  const out: number[] = [];
  let v = value;
  do {
    let byte = v & 0x7f;
    v = Math.floor(v / 128);
    if (v > 0) byte |= 0x80;
    out.push(byte);
  } while (v > 0);
  return Buffer.from(out);
}

const ONNX = { FLOAT: 1, INT8: 3, INT32: 6 } as const;

function valueInfo(w: Proto, name: string, elemType: number, dims: Array<number | string>): void {
  w.bytes(1, name).message(2, (type) =>
    type.message(1, (tensor) =>
      tensor.varint(1, elemType).message(2, (shape) => {
        for (const dim of dims) shape.message(1, (d) => (typeof dim === 'number' ? d.varint(1, dim) : d.bytes(2, dim)));
      }),
    ),
  );
}

/** `scores[n] = Σ_i a[n, i] · b[i]` as int8 × int8 → int32 (MatMulInteger) or float32 (MatMul). */
export function dotProductModel(dim: number, kind: 'int8' | 'float32'): Buffer {
  const elem = kind === 'int8' ? ONNX.INT8 : ONNX.FLOAT;
  return new Proto()
    .varint(1, 8)
    .message(8, (opset) => opset.bytes(1, '').varint(2, 13))
    .message(7, (graph) => {
      graph.message(1, (node) => node.bytes(1, 'a').bytes(1, 'b').bytes(2, 'scores').bytes(3, 'dot').bytes(4, kind === 'int8' ? 'MatMulInteger' : 'MatMul'));
      graph.bytes(2, 'siglip-batch-dot');
      graph.message(11, (w) => valueInfo(w, 'a', elem, ['rows', dim]));
      graph.message(11, (w) => valueInfo(w, 'b', elem, [dim, 1]));
      graph.message(12, (w) => valueInfo(w, 'scores', kind === 'int8' ? ONNX.INT32 : ONNX.FLOAT, ['rows', 1]));
    })
    .finish();
}

/** A session scoring blocks of stored vectors against one query. */
export class DotProductSession {
  private constructor(
    private readonly session: ort.InferenceSession,
    readonly dim: number,
    readonly kind: 'int8' | 'float32',
  ) {}

  static async create(dim: number, kind: 'int8' | 'float32', threads?: number): Promise<DotProductSession> {
    const session = await ort.InferenceSession.create(dotProductModel(dim, kind), {
      executionProviders: ['cpu'],
      ...(threads ? { intraOpNumThreads: threads } : {}),
    });
    return new DotProductSession(session, dim, kind);
  }

  /** Scores of `rows` vectors in `block` (rows × dim) against `query` (dim). */
  async scores(block: Int8Array | Float32Array, rows: number, query: Int8Array | Float32Array): Promise<Int32Array | Float32Array> {
    const type = this.kind === 'int8' ? 'int8' : 'float32';
    const a = new ort.Tensor(type, block.subarray(0, rows * this.dim), [rows, this.dim]);
    const b = new ort.Tensor(type, query, [this.dim, 1]);
    const out = await this.session.run({ a, b });
    return out['scores']!.data as Int32Array | Float32Array;
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

