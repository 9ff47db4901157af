/**
 * Query vectors for `search`: a text through the text tower with the run's prompt templates
 * (averaged and renormalised, exactly as a label's embedding is), or an image through the same
 * preprocessing and vision tower as the run's images.
 */
import { buildLabelSet, type SiglipModel } from '@siglip-batch/model';
import type { RunManifest } from '@siglip-batch/jobs';

/** Refuses a model whose embedding space is not the run's. */
export function assertRunModel(model: SiglipModel, manifest: RunManifest): void {
  if (model.info.contentHash !== manifest.model.hash) {
    throw new Error(
      `run ${manifest.runId} was embedded with model ${manifest.model.checkpoint} (${manifest.model.hash.slice(0, 16)}); ` +
        `--model is ${model.info.checkpoint} (${model.info.contentHash.slice(0, 16)}): their embeddings cannot be compared`,
    );
  }
}

export async function embedTextQuery(model: SiglipModel, text: string, templates: readonly string[]): Promise<Float32Array> {
  if (text.trim() === '') throw new Error('the text query is empty');
  const scorer = await model.labelScorer(buildLabelSet([text], { templates }));
  return scorer.embeddings;
}

export async function embedImageQuery(model: SiglipModel, bytes: Buffer): Promise<Float32Array> {
  const { pixels } = await model.preprocessor.preprocess(bytes);
  return model.embedImages(pixels, 1);
}
