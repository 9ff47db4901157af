/**
 * Zero-shot labels with SigLIP's sigmoid scores (architecture §2): each label is an independent
 * yes/no, `probability = sigmoid(exp(logit_scale) · cos(image, label) + logit_bias)`, so the
 * scores of an image need not sum to 1. Pure functions over float arrays.
 */

/** The transformers zero-shot pipeline's template. */
export const DEFAULT_TEMPLATE = 'This is a photo of {}.';
/** A label's tag threshold unless given (architecture §3). */
export const DEFAULT_THRESHOLD = 0.1;

/** A label as given by a user: a name, or a name with its own prompts or threshold. */
export type LabelInput =
  | string
  | {
      readonly label: string;
      /** Prompts for this label; when absent, the templates applied to the label. */
      readonly prompts?: readonly string[];
      /**
       * Score at or above which the label is a tag.
       * @defaultValue the set's threshold (0.1)
       */
      readonly threshold?: number;
    };

export interface LabelSetOptions {
  /**
   * Prompt templates; `{}` is replaced by the label. Several are averaged per label.
   * @defaultValue [DEFAULT_TEMPLATE]
   */
  readonly templates?: readonly string[];
  /**
   * Threshold of labels that do not set their own.
   * @defaultValue 0.1
   */
  readonly threshold?: number;
}

/** Labels with their prompts and thresholds, in order. */
export interface LabelSet {
  readonly labels: readonly string[];
  readonly prompts: ReadonlyArray<readonly string[]>;
  readonly thresholds: readonly number[];
  readonly templates: readonly string[];
}

/** Builds a label set, refusing an empty list, duplicate or blank labels and templates without `{}`. */
export function buildLabelSet(inputs: readonly LabelInput[], options: LabelSetOptions = {}): LabelSet {
  const templates = options.templates ?? [DEFAULT_TEMPLATE];
  const threshold = options.threshold ?? DEFAULT_THRESHOLD;
  const problems: string[] = [];
  if (inputs.length === 0) problems.push('the label list is empty');
  if (templates.length === 0) problems.push('no prompt templates');
  for (const t of templates) if (!t.includes('{}')) problems.push(`template "${t}" has no {} for the label`);
  if (!(threshold >= 0 && threshold <= 1)) problems.push(`threshold ${threshold} is not within [0, 1]`);
  const labels: string[] = [];
  const prompts: string[][] = [];
  const thresholds: number[] = [];
  const seen = new Set<string>();
  for (const input of inputs) {
    const spec = typeof input === 'string' ? { label: input } : input;
    const label = spec.label.trim();
    if (!label) {
      problems.push('a label is blank');
      continue;
    }
    if (seen.has(label)) problems.push(`label "${label}" is given twice`);
    seen.add(label);
    const own = spec.prompts;
    if (own && own.length === 0) problems.push(`label "${label}" has an empty prompt list`);
    const labelThreshold = spec.threshold ?? threshold;
    if (!(labelThreshold >= 0 && labelThreshold <= 1)) problems.push(`label "${label}": threshold ${labelThreshold} is not within [0, 1]`);
    labels.push(label);
    prompts.push(own ? [...own] : templates.map((t) => applyTemplate(t, label)));
    thresholds.push(labelThreshold);
  }
  if (problems.length > 0) throw new Error(`bad labels: ${problems.join('; ')}`);
  return { labels, prompts, thresholds, templates: [...templates] };
}

/** `template.format(label)` for the `{}` placeholder, as the transformers pipeline does. */
export function applyTemplate(template: string, label: string): string {
  return template.split('{}').join(label);
}

/** All prompts of a set, flattened in label order (what the text tower embeds). */
export function flattenPrompts(set: LabelSet): string[] {
  return set.prompts.flat();
}

/** Normalises each `dim`-wide row of `data` to unit L2 length, in place; returns `data`. */
export function l2NormalizeRows(data: Float32Array, dim: number): Float32Array {
  for (let offset = 0; offset < data.length; offset += dim) {
    let sum = 0;
    for (let i = 0; i < dim; i++) sum += data[offset + i]! * data[offset + i]!;
    // torch.nn.functional.normalize divides by max(norm, 1e-12)
    const scale = 1 / Math.max(Math.sqrt(sum), 1e-12);
    for (let i = 0; i < dim; i++) data[offset + i]! *= scale;
  }
  return data;
}

/**
 * One embedding per label from the normalised embeddings of all its prompts (rows of
 * `promptEmbeddings` in `flattenPrompts` order): their mean, renormalised.
 */
export function labelEmbeddings(set: LabelSet, promptEmbeddings: Float32Array, dim: number): Float32Array {
  const total = set.prompts.reduce((n, p) => n + p.length, 0);
  if (promptEmbeddings.length !== total * dim) {
    throw new RangeError(`expected ${total} prompt embeddings of width ${dim}, got ${promptEmbeddings.length / dim}`);
  }
  const out = new Float32Array(set.labels.length * dim);
  let row = 0;
  set.prompts.forEach((prompts, label) => {
    const acc = new Float64Array(dim);
    for (let p = 0; p < prompts.length; p++, row++) {
      for (let i = 0; i < dim; i++) acc[i]! += promptEmbeddings[row * dim + i]!;
    }
    for (let i = 0; i < dim; i++) out[label * dim + i] = acc[i]! / prompts.length;
  });
  return l2NormalizeRows(out, dim);
}

/** The numerically stable logistic function. */
export function sigmoid(x: number): number {
  if (x >= 0) return 1 / (1 + Math.exp(-x));
  const e = Math.exp(x);
  return e / (1 + e);
}

/**
 * Sigmoid probabilities `[images × labels]` for normalised image embeddings against
 * normalised label embeddings.
 */
export function scoreEmbeddings(
  imageEmbeddings: Float32Array,
  labelEmbeddingRows: Float32Array,
  dim: number,
  logitScale: number,
  logitBias: number,
): Float32Array {
  const images = imageEmbeddings.length / dim;
  const labels = labelEmbeddingRows.length / dim;
  if (!Number.isInteger(images) || !Number.isInteger(labels)) throw new RangeError(`embeddings are not rows of width ${dim}`);
  const scale = Math.exp(logitScale);
  const out = new Float32Array(images * labels);
  for (let m = 0; m < images; m++) {
    for (let l = 0; l < labels; l++) {
      let dot = 0;
      for (let i = 0; i < dim; i++) dot += imageEmbeddings[m * dim + i]! * labelEmbeddingRows[l * dim + i]!;
      out[m * labels + l] = sigmoid(scale * dot + logitBias);
    }
  }
  return out;
}

/** Labels whose score is at or above their threshold, best first (ties keep label order). */
export function tagsFor(scores: ArrayLike<number>, set: LabelSet): string[] {
  const hits: number[] = [];
  for (let l = 0; l < set.labels.length; l++) if (scores[l]! >= set.thresholds[l]!) hits.push(l);
  return hits.sort((a, b) => scores[b]! - scores[a]! || a - b).map((l) => set.labels[l]!);
}

/** Label embeddings and the model's logit parameters, ready to score images. */
export class LabelScorer {
  constructor(
    readonly set: LabelSet,
    /** `[labels × dim]`, normalised (from `labelEmbeddings`). */
    readonly embeddings: Float32Array,
    readonly dim: number,
    readonly logitScale: number,
    readonly logitBias: number,
  ) {
    if (embeddings.length !== set.labels.length * dim) throw new RangeError('label embeddings do not match the label set');
  }

  /** Probabilities `[images × labels]`. */
  score(imageEmbeddings: Float32Array): Float32Array {
    return scoreEmbeddings(imageEmbeddings, this.embeddings, this.dim, this.logitScale, this.logitBias);
  }

  /** Scores and tags of one image's row in a score matrix. */
  row(scores: Float32Array, image: number): { scores: Float32Array; tags: string[] } {
    const labels = this.set.labels.length;
    const own = scores.subarray(image * labels, (image + 1) * labels);
    return { scores: own, tags: tagsFor(own, this.set) };
  }
}
