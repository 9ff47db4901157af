/**
 * A minimal ONNX protobuf writer for tests: enough of ModelProto to build small graphs
 * (runnable by onnxruntime or just scannable) without Python.
 */

class ProtoWriter {
  private readonly parts: Buffer[] = [];

  varint(field: number, value: number | bigint): this {
    this.parts.push(encodeVarint((field << 3) | 0), encodeVarint(value));
    return this;
  }

  bytes(field: number, value: Uint8Array | string): this {
    const data = typeof value === 'string' ? Buffer.from(value, 'utf8') : Buffer.from(value);
    this.parts.push(encodeVarint((field << 3) | 2), encodeVarint(data.length), data);
    return this;
  }

  message(field: number, build: (w: ProtoWriter) => void): this {
    const inner = new ProtoWriter();
    build(inner);
    return this.bytes(field, inner.finish());
  }

  fixed32Float(field: number, value: number): this {
    const data = Buffer.alloc(4);
    data.writeFloatLE(value, 0);
    this.parts.push(encodeVarint((field << 3) | 5), data);
    return this;
  }

  finish(): Buffer {
    return Buffer.concat(this.parts);
  }
}

function encodeVarint(value: number | bigint): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

export const FLOAT = 1;
export const INT64 = 7;
export const FLOAT16 = 10;

export interface TensorSpec {
  name: string;
  dims: number[];
  dataType?: number;
  /** float32 values (stored as raw_data) */
  floats?: number[];
  /** Store in an external file instead: location relative to the model, offset, length. */
  external?: { location: string; offset: number; length: number };
}

export interface NodeSpec {
  op: string;
  inputs: string[];
  outputs: string[];
  name?: string;
  /** Integer-list attributes, e.g. `{ axes: [1] }`. */
  ints?: Record<string, number[]>;
  /** Integer attributes, e.g. `{ keepdims: 0 }`. */
  int?: Record<string, number>;
  /** A tensor attribute (Constant's `value`). */
  tensor?: { name: string; tensor: TensorSpec };
}

export interface ValueSpec {
  name: string;
  elemType: number;
  dims: Array<number | string>;
}

export interface GraphSpec {
  nodes: NodeSpec[];
  initializers?: TensorSpec[];
  inputs: ValueSpec[];
  outputs: ValueSpec[];
  opset?: number;
}

function writeTensor(w: ProtoWriter, t: TensorSpec): void {
  for (const d of t.dims) w.varint(1, d);
  w.varint(2, t.dataType ?? FLOAT);
  w.bytes(8, t.name);
  if (t.external) {
    for (const [key, value] of [
      ['location', t.external.location],
      ['offset', String(t.external.offset)],
      ['length', String(t.external.length)],
    ] as const) {
      w.message(13, (e) => e.bytes(1, key).bytes(2, value));
    }
    w.varint(14, 1);
  } else if (t.floats) {
    const raw = Buffer.alloc(t.floats.length * 4);
    t.floats.forEach((v, i) => raw.writeFloatLE(v, i * 4));
    w.bytes(9, raw);
  }
}

function writeValue(w: ProtoWriter, v: ValueSpec): void {
  w.bytes(1, v.name);
  w.message(2, (type) =>
    type.message(1, (tensor) => {
      tensor.varint(1, v.elemType);
      tensor.message(2, (shape) => {
        for (const d of v.dims) shape.message(1, (dim) => (typeof d === 'number' ? dim.varint(1, d) : dim.bytes(2, d)));
      });
    }),
  );
}

/** Serialises a ModelProto (IR 8, default-domain opset 17 unless given). */
export function buildOnnxModel(graph: GraphSpec): Buffer {
  return new ProtoWriter()
    .varint(1, 8)
    .bytes(2, 'siglip-batch-tests')
    .message(7, (g) => {
      graph.nodes.forEach((n, i) =>
        g.message(1, (node) => {
          for (const input of n.inputs) node.bytes(1, input);
          for (const output of n.outputs) node.bytes(2, output);
          node.bytes(3, n.name ?? `${n.op}_${i}`);
          node.bytes(4, n.op);
          for (const [name, values] of Object.entries(n.ints ?? {})) {
            node.message(5, (a) => {
              a.bytes(1, name);
              for (const v of values) a.varint(8, v);
              a.varint(20, 7); // INTS
            });
          }
          for (const [name, value] of Object.entries(n.int ?? {})) {
            node.message(5, (a) => a.bytes(1, name).varint(3, value).varint(20, 2)); // INT
          }
          if (n.tensor) {
            const { name, tensor } = n.tensor;
            node.message(5, (a) => a.bytes(1, name).message(5, (t) => writeTensor(t, tensor)).varint(20, 4)); // TENSOR
          }
        }),
      );
      g.bytes(2, 'graph');
      for (const t of graph.initializers ?? []) g.message(5, (w) => writeTensor(w, t));
      for (const v of graph.inputs) g.message(11, (w) => writeValue(w, v));
      for (const v of graph.outputs) g.message(12, (w) => writeValue(w, v));
    })
    .message(8, (o) => o.bytes(1, '').varint(2, graph.opset ?? 17))
    .finish();
}

/**
 * A runnable stand-in text tower: `input_ids [batch, length]` → embedding lookup of width
 * `width` → `last_hidden_state [batch, length, width]` and its mean over positions as
 * `pooler_output [batch, width]`.
 */
export function buildTextTower(options: { vocab: number; length: number; width: number; seed?: number }): Buffer {
  const { vocab, length, width } = options;
  let state = options.seed ?? 1;
  const random = () => ((state = (state * 1103515245 + 12345) % 2 ** 31) / 2 ** 31) * 2 - 1;
  return buildOnnxModel({
    nodes: [
      { op: 'Gather', inputs: ['embedding', 'input_ids'], outputs: ['last_hidden_state'] },
      { op: 'ReduceMean', inputs: ['last_hidden_state'], outputs: ['pooler_output'], ints: { axes: [1] }, int: { keepdims: 0 } },
    ],
    initializers: [{ name: 'embedding', dims: [vocab, width], floats: Array.from({ length: vocab * width }, random) }],
    inputs: [{ name: 'input_ids', elemType: INT64, dims: ['batch', length] }],
    outputs: [
      { name: 'last_hidden_state', elemType: FLOAT, dims: ['batch', length, width] },
      { name: 'pooler_output', elemType: FLOAT, dims: ['batch', width] },
    ],
  });
}

/**
 * The logits part of a combined SigLIP graph, as exporters write it:
 * `logits_per_text = MatMul(text, imageᵀ) · Exp(scale) + bias`. With `folded`, the exporter
 * has folded `Exp(scale)` into one constant multiplier.
 */
export function buildCombinedLogits(options: {
  logitScale: number;
  logitBias: number;
  folded?: boolean;
  scaleName?: string;
  biasName?: string;
  /** Put the scale in an external data file instead (`model.onnx_data`, offset 0). */
  externalScale?: boolean;
  /** Give the bias as a Constant node rather than an initializer. */
  biasAsConstant?: boolean;
}): Buffer {
  const scaleName = options.scaleName ?? 'onnx::Exp_1234';
  const biasName = options.biasName ?? 'onnx::Add_1235';
  const nodes: NodeSpec[] = [
    { op: 'Transpose', inputs: ['image_embeds'], outputs: ['image_t'], ints: { perm: [1, 0] } },
    { op: 'MatMul', inputs: ['text_embeds', 'image_t'], outputs: ['similarity'] },
  ];
  const initializers: TensorSpec[] = [];
  if (options.folded) {
    initializers.push({ name: 'onnx::Mul_99', dims: [], floats: [Math.exp(options.logitScale)] });
    nodes.push({ op: 'Mul', inputs: ['similarity', 'onnx::Mul_99'], outputs: ['scaled'] });
  } else {
    initializers.push(
      options.externalScale
        ? { name: scaleName, dims: [1], external: { location: 'model.onnx_data', offset: 0, length: 4 } }
        : { name: scaleName, dims: [1], floats: [options.logitScale] },
    );
    nodes.push(
      { op: 'Exp', inputs: [scaleName], outputs: ['scale_exp'] },
      { op: 'Mul', inputs: ['similarity', 'scale_exp'], outputs: ['scaled'] },
    );
  }
  if (options.biasAsConstant) {
    nodes.push({ op: 'Constant', inputs: [], outputs: [biasName], tensor: { name: 'value', tensor: { name: '', dims: [1], floats: [options.logitBias] } } });
  } else {
    initializers.push({ name: biasName, dims: [1], floats: [options.logitBias] });
  }
  nodes.push(
    { op: 'Add', inputs: ['scaled', biasName], outputs: ['logits_per_text'] },
    { op: 'Transpose', inputs: ['logits_per_text'], outputs: ['logits_per_image'], ints: { perm: [1, 0] } },
  );
  return buildOnnxModel({
    nodes,
    initializers,
    inputs: [
      { name: 'text_embeds', elemType: FLOAT, dims: ['texts', 4] },
      { name: 'image_embeds', elemType: FLOAT, dims: ['images', 4] },
    ],
    outputs: [
      { name: 'logits_per_image', elemType: FLOAT, dims: ['images', 'texts'] },
      { name: 'logits_per_text', elemType: FLOAT, dims: ['texts', 'images'] },
    ],
  });
}
