/**
 * Our pipeline against the committed transformers reference (fixtures/reference/tiny-siglip):
 * the figures the parity tests bound and the README reports.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { allocatePixelBatch } from '../image-preprocessor';
import { buildLabelSet } from '../label-scorer';
import type { ModelVariant } from '../model-options';
import { SiglipModel } from '../siglip-session';
import { IMAGES_DIR, TINY_REFERENCE_DIR, TINY_SIGLIP, type FamilyFixture } from './model-fixtures';

export interface ReferenceImage {
  file: string;
  width: number;
  height: number;
  pixels: string;
  embedding: number[];
  probs: number[];
  pillow_quirk?: string;
  alt?: { pixels: string; embedding: number[]; probs: number[] };
}

export interface Reference {
  template: string;
  labels: string[];
  label_input_ids: number[][];
  label_prompts: string[];
  label_embeddings: number[][];
  logit_scale: number;
  logit_bias: number;
  text_length: number;
  rescale_factor: number;
  image_mean: number[];
  image_std: number[];
  images: ReferenceImage[];
  texts: Array<{ text: string; input_ids: number[]; embedding: number[] }>;
  versions: Record<string, string>;
}

export async function readReference(referenceDir = TINY_REFERENCE_DIR): Promise<Reference> {
  return JSON.parse(await readFile(join(referenceDir, 'reference.json'), 'utf8')) as Reference;
}

/** The resized uint8 RGB image the PIL processor produced (reference PNG), interleaved. */
export async function referencePixels(relativePath: string, referenceDir = TINY_REFERENCE_DIR): Promise<Uint8Array> {
  const { data, info } = await sharp(join(referenceDir, relativePath), { ignoreIcc: true }).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  if (info.channels !== 3) throw new Error(`${relativePath}: expected RGB`);
  return new Uint8Array(data.buffer, data.byteOffset, data.length);
}

export interface ImageParity {
  file: string;
  /** Which reference the figures are against: Pillow's output, or the `alt` (correct picture) block. */
  against: 'pillow' | 'alt';
  quirk?: string;
  sizeMatches: boolean;
  /** Mean |Δ| of the normalised pixel values. */
  pixelMeanAbs: number;
  /** Largest |Δ| in uint8 levels. */
  pixelMaxLevels: number;
  /** Share of values within two uint8 levels (2/127.5 normalised). */
  within2: number;
  /** Share of bit-identical uint8 values. */
  identical: number;
  embeddingCosine: number;
  probMaxAbs: number;
}

export interface TextParity {
  text: string;
  idsMatch: boolean;
  ours: number[];
  expected: number[];
  embeddingCosine: number;
}

export interface ParityReport {
  variant: ModelVariant;
  images: ImageParity[];
  texts: TextParity[];
  labels: TextParity[];
  preprocessMs: number;
}

function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i]! * b[i]!;
    na += a[i]! * a[i]!;
    nb += b[i]! * b[i]!;
  }
  return dot / Math.sqrt(na * nb);
}

/** Runs our preprocessing, tokenizer and model over the reference's images, texts and labels. */
export async function measureParity(variant: ModelVariant = 'fp32', fixture: FamilyFixture = TINY_SIGLIP): Promise<ParityReport> {
  const reference = await readReference(fixture.referenceDir);
  const model = await SiglipModel.load(fixture.modelDir, { variant, intraOpThreads: 1, verifyContentHash: false });
  try {
    const dim = model.embedDim;
    const per = model.preprocessor.valuesPerImage;
    const plane = per / 3;
    const count = reference.images.length;

    // Our pixels: decode + Pillow-exact resize (uint8) + normalisation, one batch.
    const batch = allocatePixelBatch(model.preprocessor, count);
    const resized: Uint8Array[] = [];
    const sizes: Array<{ width: number; height: number }> = [];
    const bytes = await Promise.all(reference.images.map((image) => readFile(join(IMAGES_DIR, image.file))));
    const started = performance.now();
    for (let i = 0; i < count; i++) {
      const decoded = await model.preprocessor.decode(bytes[i]!);
      const rgb = model.preprocessor.resize(decoded);
      model.preprocessor.normalizeInto(rgb, batch, i * per);
      resized.push(rgb);
      sizes.push({ width: decoded.width, height: decoded.height });
    }
    const preprocessMs = performance.now() - started;
    const ourPixels = batch.slice();
    const embeddings = await model.embedImages(batch, count);

    const set = buildLabelSet(reference.labels, { templates: [reference.template] });
    const scorer = await model.labelScorer(set);
    const scores = scorer.score(embeddings);
    const labelCount = reference.labels.length;

    const mean = reference.image_mean;
    const std = reference.image_std;
    const images: ImageParity[] = [];
    for (let i = 0; i < count; i++) {
      const image = reference.images[i]!;
      const target = image.alt ?? image;
      const expected = await referencePixels(target.pixels, fixture.referenceDir);
      const ours = resized[i]!;
      let sumAbs = 0;
      let within2 = 0;
      let identical = 0;
      let maxLevels = 0;
      for (let p = 0; p < plane; p++) {
        for (let c = 0; c < 3; c++) {
          const level = expected[p * 3 + c]!;
          const refValue = Math.fround((Math.fround(level * reference.rescale_factor) - mean[c]!) / std[c]!);
          const ourValue = ourPixels[i * per + c * plane + p]!;
          const delta = Math.abs(refValue - ourValue);
          sumAbs += delta;
          const levels = Math.abs(level - ours[p * 3 + c]!);
          maxLevels = Math.max(maxLevels, levels);
          if (levels <= 2) within2++;
          if (levels === 0) identical++;
        }
      }
      const row = embeddings.subarray(i * dim, (i + 1) * dim);
      let probMaxAbs = 0;
      for (let l = 0; l < labelCount; l++) probMaxAbs = Math.max(probMaxAbs, Math.abs(scores[i * labelCount + l]! - target.probs[l]!));
      images.push({
        file: image.file,
        against: image.alt ? 'alt' : 'pillow',
        ...(image.pillow_quirk ? { quirk: image.pillow_quirk } : {}),
        sizeMatches: sizes[i]!.width === image.width && sizes[i]!.height === image.height,
        pixelMeanAbs: sumAbs / per,
        pixelMaxLevels: maxLevels,
        within2: within2 / per,
        identical: identical / per,
        embeddingCosine: cosine(row, target.embedding),
        probMaxAbs,
      });
    }

    const textEmbeddings = await model.embedTexts(reference.texts.map((t) => t.text));
    const texts = reference.texts.map((t, i) => {
      const ours = model.tokenizer.encode(t.text);
      return {
        text: t.text,
        ours,
        expected: t.input_ids,
        idsMatch: JSON.stringify(ours) === JSON.stringify(t.input_ids),
        embeddingCosine: cosine(textEmbeddings.subarray(i * dim, (i + 1) * dim), t.embedding),
      };
    });
    const labels = reference.label_prompts.map((prompt, i) => {
      const ours = model.tokenizer.encode(prompt);
      return {
        text: prompt,
        ours,
        expected: reference.label_input_ids[i]!,
        idsMatch: JSON.stringify(ours) === JSON.stringify(reference.label_input_ids[i]),
        embeddingCosine: cosine(scorer.embeddings.subarray(i * dim, (i + 1) * dim), reference.label_embeddings[i]!),
      };
    });
    return { variant, images, texts, labels, preprocessMs };
  } finally {
    await model.close();
  }
}

/** The report as a Markdown table (pasted into libs/model/README.md). */
export function formatParity(report: ParityReport): string {
  const lines = [
    `| image | against | mean abs Δ (normalised) | max Δ (levels) | within 2 levels | identical | embedding cos | max prob Δ |`,
    `|---|---|---|---|---|---|---|---|`,
  ];
  for (const r of report.images) {
    lines.push(
      `| ${r.file} | ${r.against} | ${r.pixelMeanAbs.toFixed(5)} | ${r.pixelMaxLevels} | ${(100 * r.within2).toFixed(2)} % | ${(100 * r.identical).toFixed(2)} % | ${r.embeddingCosine.toFixed(6)} | ${r.probMaxAbs.toExponential(2)} |`,
    );
  }
  const idsOk = report.texts.filter((t) => t.idsMatch).length;
  const labelIdsOk = report.labels.filter((t) => t.idsMatch).length;
  const minText = Math.min(...report.texts.map((t) => t.embeddingCosine), ...report.labels.map((t) => t.embeddingCosine));
  lines.push(
    '',
    `texts: input ids identical on ${idsOk}/${report.texts.length} reference texts and ${labelIdsOk}/${report.labels.length} label prompts; ` +
      `min text-embedding cosine ${minText.toFixed(7)}`,
    `preprocessing (decode + resize + normalise, one thread): ${report.images.length} images in ${report.preprocessMs.toFixed(0)} ms`,
  );
  return lines.join('\n');
}
