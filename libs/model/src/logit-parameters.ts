import type { OnnxGraphSummary, OnnxNode } from './onnx-graph-scan';

/** SigLIP's two learned scalars: `logit = exp(logitScale) · cos + logitBias`. */
export interface LogitParameters {
  /** The raw parameter, before `exp` (the model multiplies similarities by `exp(logitScale)`). */
  readonly logitScale: number;
  /** Added to the scaled similarity before the sigmoid. */
  readonly logitBias: number;
}

/** Ops that pass a value through unchanged for our purpose (shape or dtype only). */
const TRANSPARENT = new Set(['Identity', 'Cast', 'Reshape', 'Unsqueeze', 'Squeeze', 'Flatten', 'Expand']);

/**
 * Finds logit_scale and logit_bias in a combined SigLIP graph by their role, since exporters
 * do not keep their names (they come out as `onnx::Exp_…`, `onnx::Add_…`):
 *
 *     logits = MatMul(text, imageᵀ) · Exp(logit_scale) + logit_bias
 *
 * logit_scale is the scalar constant feeding the `Exp` whose output multiplies the
 * similarities; logit_bias is the scalar constant added to that product. When an exporter has
 * folded `Exp(logit_scale)` into a constant, the multiplier's logarithm is taken instead.
 * Returns `undefined` when the graph has no such pattern.
 */
export function findLogitParameters(graph: OnnxGraphSummary): LogitParameters | undefined {
  const producers = new Map<string, OnnxNode>();
  const consumers = new Map<string, OnnxNode[]>();
  for (const node of graph.nodes) {
    for (const output of node.outputs) producers.set(output, node);
    for (const input of node.inputs) {
      const list = consumers.get(input);
      if (list) list.push(node);
      else consumers.set(input, [node]);
    }
  }

  /** The scalar constant behind `name`, looking through shape/dtype-only ops. */
  const scalarBehind = (name: string, depth = 0): number | undefined => {
    const direct = graph.scalars.get(name);
    if (direct !== undefined) return direct;
    const producer = producers.get(name);
    if (!producer || depth > 8 || !TRANSPARENT.has(producer.opType) || producer.inputs[0] === undefined) return undefined;
    return scalarBehind(producer.inputs[0], depth + 1);
  };

  /** The nodes that consume `name`, looking through shape/dtype-only ops. */
  const usersOf = (name: string, depth = 0): Array<{ node: OnnxNode; input: string }> => {
    const found: Array<{ node: OnnxNode; input: string }> = [];
    for (const node of consumers.get(name) ?? []) {
      if (TRANSPARENT.has(node.opType) && depth < 8) {
        for (const output of node.outputs) found.push(...usersOf(output, depth + 1));
      } else found.push({ node, input: name });
    }
    return found;
  };

  /** The scalar added to `product` (logit_bias), if the product feeds an Add with a scalar constant. */
  const biasAfter = (product: string): number | undefined => {
    for (const { node, input } of usersOf(product)) {
      if (node.opType !== 'Add') continue;
      const other = node.inputs.find((name) => name !== input);
      const bias = other === undefined ? undefined : scalarBehind(other);
      if (bias !== undefined) return bias;
    }
    return undefined;
  };

  // The usual form: Exp(scalar) → Mul(similarities, ·) → Add(·, scalar).
  for (const exp of graph.nodes) {
    if (exp.opType !== 'Exp' || exp.inputs[0] === undefined || exp.outputs[0] === undefined) continue;
    const logitScale = scalarBehind(exp.inputs[0]);
    if (logitScale === undefined) continue;
    for (const { node: mul, input } of usersOf(exp.outputs[0])) {
      if (mul.opType !== 'Mul' || mul.outputs[0] === undefined) continue;
      const other = mul.inputs.find((name) => name !== input);
      if (other === undefined || scalarBehind(other) !== undefined) continue; // must scale a computed tensor
      const logitBias = biasAfter(mul.outputs[0]);
      if (logitBias !== undefined) return { logitScale, logitBias };
    }
  }

  // Folded form: Mul(similarities from a MatMul, scalar c > 0) → Add(·, scalar), c = exp(logit_scale).
  for (const mul of graph.nodes) {
    if (mul.opType !== 'Mul' || mul.inputs.length !== 2 || mul.outputs[0] === undefined) continue;
    const [a, b] = mul.inputs as [string, string];
    const constantIndex = scalarBehind(a) !== undefined ? 0 : scalarBehind(b) !== undefined ? 1 : -1;
    if (constantIndex < 0) continue;
    const multiplier = scalarBehind(mul.inputs[constantIndex]!)!;
    const other = mul.inputs[1 - constantIndex]!;
    if (!(multiplier > 0) || !comesFromMatMul(other, producers)) continue;
    const logitBias = biasAfter(mul.outputs[0]);
    if (logitBias !== undefined) return { logitScale: Math.log(multiplier), logitBias };
  }
  return undefined;
}

function comesFromMatMul(name: string, producers: Map<string, OnnxNode>, depth = 0): boolean {
  const producer = producers.get(name);
  if (!producer || depth > 8) return false;
  if (producer.opType === 'MatMul' || producer.opType === 'Gemm' || producer.opType === 'Einsum') return true;
  if ((TRANSPARENT.has(producer.opType) || producer.opType === 'Transpose') && producer.inputs[0] !== undefined) {
    return comesFromMatMul(producer.inputs[0], producers, depth + 1);
  }
  return false;
}
