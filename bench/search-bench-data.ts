/**
 * The search bench's default data (`search-bench.ts --data mixture`): synthetic 1,152-d embeddings
 * with the geometry of image embeddings instead of uniform random directions, for measuring an ANN
 * index where it will be used.
 *
 * Uniform random unit vectors in 1,152-d are the worst case of any index: a query's ten nearest
 * rows sit at cosine ~0.12 among a million at 0 ± 0.03, so every row is about as far as every
 * other and quantisation error reorders them. Image embeddings of the SigLIP/CLIP family are not
 * like that; what is known of them, and what this generator copies:
 *
 * - a cone: every embedding shares a large component along the modality's mean direction (the
 *   "cone effect" / modality gap, Liang et al. 2022; "double ellipsoid" shells off the origin,
 *   Levi & Gilboa 2024), so two unrelated images are at a clearly positive cosine;
 * - low effective dimensionality: the variance is concentrated in a few hundred directions
 *   (an anisotropic spectrum, here coordinate variances ∝ rank^−0.75, coordinates shuffled so
 *   that no block of them — a PQ sub-vector — holds all of it; participation ratio ≈ 155 of 1,152);
 * - hierarchy: topics (1,000), concepts within them (20,000, of very unequal popularity: a
 *   concept's share of rows ∝ 1/√rank), then the image's own variation;
 * - text queries are in another cone: a new image of a concept plus the modality-gap vector
 *   (one fixed direction for every text query), so they are nearer their concept than anything
 *   else but far from every row.
 *
 * The variance split (mean 0.43, topic 0.3, concept 0.4, image 0.3 of the rest) puts a random pair
 * at cosine ~0.3, two images of a topic at ~0.5 and of a concept at ~0.8. These figures are our
 * choice, not measured on SigLIP so400m (no weights can be downloaded here): `describeMixture`
 * prints what the generated data has, and the bench's uniform-random rows (`--data uniform`) stay as
 * the worst case.
 */

const TOPICS = 1000;
const CONCEPTS = 20_000;
const MEAN2 = 0.43;
const TOPIC = 0.3;
const CONCEPT = 0.4;
const IMAGE = 0.3;
const ALPHA = 0.75;

/** xorshift32, uniform in [−0.5, 0.5): × √12 has variance 1. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296 - 0.5;
  };
}
const UNIT = Math.sqrt(12);

/** An integer hash (for picking a row's concept from its index, whatever the file). */
function mix(value: number): number {
  let h = Math.imul(value ^ 0x9e3779b9, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Scales `values[offset, offset + dim)` to unit length. */
export function normalise(values: Float32Array, offset: number, dim: number): void {
  let sum = 0;
  for (let i = 0; i < dim; i++) sum += values[offset + i]! ** 2;
  const scale = 1 / Math.sqrt(sum);
  for (let i = 0; i < dim; i++) values[offset + i]! *= scale;
}

interface Mixture {
  /** √(coordinate variance), summing (squared) to 1. */
  sd: Float32Array;
  mean: Float32Array;
  gap: Float32Array;
  /** Concept centres (topic part included), CONCEPTS × dim. */
  concepts: Float32Array;
}

const mixtures = new Map<number, Mixture>();
function mixtureOf(dim: number): Mixture {
  let m = mixtures.get(dim);
  if (m) return m;
  const next = rng(77_001);
  // Spectrum ∝ rank^−α, then shuffled over the coordinates.
  const sd = new Float32Array(dim).map((_, i) => (i + 1) ** (-ALPHA / 2));
  for (let i = dim - 1; i > 0; i--) {
    const j = Math.floor((next() + 0.5) * (i + 1));
    [sd[i], sd[j]] = [sd[j]!, sd[i]!];
  }
  const total = Math.sqrt(sd.reduce((a, b) => a + b * b, 0));
  for (let i = 0; i < dim; i++) sd[i]! /= total;
  const direction = (scale: number) => {
    const v = new Float32Array(dim).map(() => next());
    normalise(v, 0, dim);
    return v.map((x) => x * scale);
  };
  const mean = direction(Math.sqrt(MEAN2));
  const gap = direction(1);
  const topics = new Float32Array(TOPICS * dim).map((_, i) => next() * UNIT * sd[i % dim]! * Math.sqrt(TOPIC));
  const concepts = new Float32Array(CONCEPTS * dim);
  for (let c = 0; c < CONCEPTS; c++) {
    const t = mix(c + 1) % TOPICS;
    for (let i = 0; i < dim; i++) concepts[c * dim + i] = mean[i]! + topics[t * dim + i]! + next() * UNIT * sd[i]! * Math.sqrt(CONCEPT);
  }
  m = { sd, mean, gap, concepts };
  mixtures.set(dim, m);
  return m;
}

/** Concept of row `index`: rank ∝ u², so a concept's share falls as 1/√rank. */
const conceptOf = (index: number) => Math.floor(((mix(index) / 4294967296) ** 2) * CONCEPTS);

function imageOf(m: Mixture, concept: number, next: () => number, out: Float32Array, offset: number, dim: number): void {
  const noise = UNIT * Math.sqrt(IMAGE);
  for (let i = 0; i < dim; i++) out[offset + i] = m.concepts[concept * dim + i]! + next() * noise * m.sd[i]!;
}

/** Rows `first …` of the data, the noise drawn from `seed` (one seed per part file). */
export function mixtureVectors(rows: number, seed: number, first: number, dim: number): Float32Array {
  const m = mixtureOf(dim);
  const next = rng(seed);
  const values = new Float32Array(rows * dim);
  for (let r = 0; r < rows; r++) {
    imageOf(m, conceptOf(first + r), next, values, r * dim, dim);
    normalise(values, r * dim, dim);
  }
  return values;
}

/** A text query: a new image of a concept plus the modality-gap vector. */
export function mixtureTextQuery(seed: number, dim: number): Float32Array {
  const m = mixtureOf(dim);
  const next = rng(900_000 + seed);
  const values = new Float32Array(dim);
  imageOf(m, conceptOf(4_000_000_000 - seed), next, values, 0, dim);
  normalise(values, 0, dim);
  for (let i = 0; i < dim; i++) values[i]! += m.gap[i]!;
  normalise(values, 0, dim);
  return values;
}

/** What the generated data is like: cosine of random pairs, of a concept's images, participation ratio. */
export function describeMixture(dim: number): string {
  const m = mixtureOf(dim);
  const sample = mixtureVectors(4000, 5, 123_456_789, dim);
  const dot = (a: Float32Array, ai: number, b: Float32Array, bi: number) => {
    let s = 0;
    for (let i = 0; i < dim; i++) s += a[ai * dim + i]! * b[bi * dim + i]!;
    return s;
  };
  let pairs = 0;
  for (let i = 0; i < 2000; i++) pairs += dot(sample, i, sample, 2000 + i);
  const next = rng(31);
  const same = new Float32Array(2 * dim);
  let concept = 0;
  for (let i = 0; i < 500; i++) {
    const c = conceptOf(i * 7 + 11);
    imageOf(m, c, next, same, 0, dim);
    imageOf(m, c, next, same, dim, dim);
    normalise(same, 0, dim);
    normalise(same, dim, dim);
    concept += dot(same, 0, same, 1);
  }
  const w = [...m.sd].map((s) => s * s);
  const pr = w.reduce((a, b) => a + b, 0) ** 2 / w.reduce((a, b) => a + b * b, 0);
  const text = mixtureTextQuery(1, dim);
  let textBest = -1;
  for (let i = 0; i < 4000; i++) textBest = Math.max(textBest, dot(text, 0, sample, i));
  return (
    `mixture data: random pair cosine ${(pairs / 2000).toFixed(3)}, two images of a concept ${(concept / 500).toFixed(3)}, ` +
    `participation ratio ${pr.toFixed(0)} of ${dim} dimensions, ${TOPICS} topics, ${CONCEPTS} concepts (share ∝ 1/√rank), ` +
    `a text query's best cosine among 4,000 rows ${textBest.toFixed(3)}`
  );
}
