import { basename, join, resolve } from 'node:path';
import { z } from 'zod';
import { computeContentHash } from './content-hash';
import type { ImagePreprocessConfig } from './image-preprocessor';
import { describeFamily, type ModelFamily, type TokenizerDescription } from './model-family';
import { builtOnce, exists, parseWith, readJson, readText } from './model-dir-files';
import { findLogit, type LogitSource } from './model-dir-logit';
import { checkTowers, towerFile } from './model-dir-towers';
import type { ModelVariant } from './model-options';
import { ModelLoadError } from './model-load-error';

export { towerFile };

/** The sidecar our export tool writes beside the model files (tools/export/README.md). */
export const SIDECAR_FILE = 'siglip-batch.json';

/** A model directory, read and validated. */
export interface SiglipModelInfo {
  /** Absolute path of the directory. */
  readonly dir: string;
  /** `siglip-batch` (our export, with its sidecar) or `hub` (Xenova / onnx-community layout, no sidecar). */
  readonly layout: 'siglip-batch' | 'hub';
  /** The checkpoint it was exported from (sidecar), else config's `_name_or_path`, else the folder name. */
  readonly checkpoint: string;
  /** sha256 content hash of the config, tokenizer and ONNX files. */
  readonly contentHash: string;
  /** Width of both towers' pooled, normalised embeddings. */
  readonly embedDim: number;
  /** Input image size of the vision tower (`preprocessor_config.json` `size`). */
  readonly imageSize: { readonly height: number; readonly width: number };
  /** Token positions of the text tower (`text_config.max_position_embeddings`). */
  readonly textLength: number;
  readonly vocabSize: number;
  /** The learned logit scale, raw (before `exp`), and bias. */
  readonly logitScale: number;
  readonly logitBias: number;
  /** Where scale and bias were read from. */
  readonly logitSource: LogitSource;
  /** Variants whose two tower files are both present. */
  readonly variants: readonly ModelVariant[];
  /** The variant validated by `loadModelDir` (its files are `visionFile`, `textFile`). */
  readonly variant: ModelVariant;
  readonly visionFile: string;
  readonly textFile: string;
  /** Element type of the vision input and both outputs for the chosen variant (`float32`, `float16`). */
  readonly visionInputType: string;
  /** What the image processor does, from `preprocessor_config.json`. */
  readonly preprocess: ImagePreprocessConfig;
  /** `tokenizer_config.json`, when present. */
  readonly tokenizerConfig?: Record<string, unknown>;
  /** SigLIP, SigLIP 2 (fixed resolution) or NaFlex, recognised from the files. */
  readonly family: ModelFamily;
  /** The tokenizer the family uses and its defaults (lower-casing, pad side). */
  readonly tokenizer: TokenizerDescription;
}

export interface LoadModelDirOptions {
  /**
   * The variant whose files are checked (and used).
   * @defaultValue 'fp32'
   */
  readonly variant?: ModelVariant;
  /**
   * Recompute the content hash and compare it with the sidecar's.
   * @defaultValue true
   */
  readonly verifyContentHash?: boolean;
}

// transformers' SiglipTextConfig / SiglipVisionConfig defaults: config.json files written by
// `to_diff_dict` leave out values equal to them (google/siglip-base-patch16-224 does).
const configSchema = builtOnce(() => {
  const textConfigSchema = z
    .object({
      hidden_size: z.number().int().positive().default(768),
      max_position_embeddings: z.number().int().positive().default(64),
      vocab_size: z.number().int().positive().default(32000),
      projection_size: z.number().int().positive().nullish(),
    })
    .passthrough();
  const visionConfigSchema = z
    .object({
      hidden_size: z.number().int().positive().default(768),
      image_size: z.number().int().positive().default(224),
      patch_size: z.number().int().positive().default(16),
      num_channels: z.number().int().positive().default(3),
    })
    .passthrough();
  return z
    .object({
      model_type: z.string().optional(),
      _name_or_path: z.string().optional(),
      text_config: textConfigSchema.default(textConfigSchema.parse({})),
      vision_config: visionConfigSchema.default(visionConfigSchema.parse({})),
    })
    .passthrough();
});

const preprocessorSchema = builtOnce(() => {
  const rgb = z.union([z.number(), z.array(z.number()).length(3)]);
  return z
    .object({
      size: z.object({ height: z.number().int().positive(), width: z.number().int().positive() }).optional(),
      do_resize: z.boolean().default(true),
      resample: z.number().int().default(3),
      do_rescale: z.boolean().default(true),
      rescale_factor: z.number().positive().default(1 / 255),
      do_normalize: z.boolean().default(true),
      image_mean: rgb.default([0.5, 0.5, 0.5]),
      image_std: rgb.default([0.5, 0.5, 0.5]),
    })
    .passthrough();
});

const sidecarSchema = builtOnce(() =>
  z
    .object({
      format: z.number().int(),
      checkpoint: z.string().optional(),
      logit_scale: z.number().optional(),
      logit_bias: z.number().optional(),
      embed_dim: z.number().int().optional(),
      image_size: z.number().int().optional(),
      text_length: z.number().int().optional(),
      content_hash: z.string().optional(),
      variants: z.array(z.string()).optional(),
    })
    .passthrough(),
);

/** Why NaFlex checkpoints are refused (libs/model/README.md, "Families", has the details). */
const NAFLEX_UNSUPPORTED =
  'its vision tower takes patches, a patch mask and per-image patch grids, and resizes its position embeddings per image; ' +
  'no ONNX export of it works batched (tools/export refuses it). Use a fixed-resolution SigLIP 2 checkpoint (siglip2-*-patch16-224, …)';

/** PIL's resampling filter numbers, for messages. */
const PIL_FILTERS: Record<number, string> = { 0: 'NEAREST', 1: 'LANCZOS', 2: 'BILINEAR', 3: 'BICUBIC', 4: 'BOX', 5: 'HAMMING' };

/**
 * Reads and validates a model directory: ours (with the `siglip-batch.json` sidecar) or the
 * Xenova / onnx-community layout (`onnx/vision_model.onnx`, `onnx/text_model.onnx`,
 * optionally `onnx/model.onnx`, `tokenizer.json`, `config.json`, `preprocessor_config.json`).
 *
 * Sizes come from `config.json` / `preprocessor_config.json`, never from constants. The ONNX
 * files are read as streams for their input/output names, types and dims, which must agree
 * with the config. logit_scale / logit_bias come from the sidecar, else `model.safetensors`,
 * else the combined `onnx/model.onnx` (found by role); a model without them is refused.
 *
 * Every problem is collected and thrown once as a `ModelLoadError`.
 */
export async function loadModelDir(dirArg: string, options: LoadModelDirOptions = {}): Promise<SiglipModelInfo> {
  const dir = resolve(dirArg);
  const variant = options.variant ?? 'fp32';
  const problems: string[] = [];
  const fail = (): never => {
    throw new ModelLoadError(dir, problems);
  };

  if (!(await exists(dir))) {
    problems.push('the directory does not exist');
    fail();
  }

  const configJson = await readJson(dir, 'config.json', problems);
  const preprocessorJson = await readJson(dir, 'preprocessor_config.json', problems);
  const tokenizerJsonText = await readText(dir, 'tokenizer.json', problems);
  const sidecarJson = (await exists(join(dir, SIDECAR_FILE))) ? await readJson(dir, SIDECAR_FILE, problems) : undefined;
  const tokenizerConfig = (await exists(join(dir, 'tokenizer_config.json')))
    ? ((await readJson(dir, 'tokenizer_config.json', problems)) as Record<string, unknown> | undefined)
    : undefined;

  const config = configJson === undefined ? undefined : parseWith(configSchema(), configJson, 'config.json', problems);
  const preprocessor =
    preprocessorJson === undefined ? undefined : parseWith(preprocessorSchema(), preprocessorJson, 'preprocessor_config.json', problems);
  const sidecar = sidecarJson === undefined ? undefined : parseWith(sidecarSchema(), sidecarJson, SIDECAR_FILE, problems);
  if (config?.model_type === 'siglip2') {
    problems.push(`config.json: model_type "siglip2" is SigLIP 2 NaFlex (Siglip2Model), which is not supported: ${NAFLEX_UNSUPPORTED}`);
  } else if (config?.model_type !== undefined && config.model_type !== 'siglip') {
    problems.push(`config.json: model_type is "${config.model_type}", not "siglip"`);
  }
  const tokenizerJson = tokenizerJsonText === undefined ? undefined : parseTokenizerJson(tokenizerJsonText, problems);
  const { family, tokenizer } = describeFamily(config?.model_type, tokenizerJson, tokenizerConfig, problems);

  const visionHidden = config?.vision_config.hidden_size;
  const textWidth = config ? (config.text_config.projection_size ?? config.text_config.hidden_size) : undefined;
  const textLength = config?.text_config.max_position_embeddings;
  if (visionHidden !== undefined && textWidth !== undefined && visionHidden !== textWidth) {
    problems.push(`config.json: vision width ${visionHidden} and text width ${textWidth} differ (SigLIP embeds both in one space)`);
  }
  const embedDim = visionHidden;

  let imageSize: { height: number; width: number } | undefined;
  if (preprocessor) {
    if (!preprocessor.size) problems.push('preprocessor_config.json: no size {height, width}');
    else imageSize = preprocessor.size;
    if (!preprocessor.do_resize) problems.push('preprocessor_config.json: do_resize is false (SigLIP resizes every image)');
    if (preprocessor.resample !== 3) {
      problems.push(`preprocessor_config.json: resample is ${PIL_FILTERS[preprocessor.resample] ?? preprocessor.resample}; only BICUBIC (3) is implemented`);
    }
    if (imageSize && config && (imageSize.height !== config.vision_config.image_size || imageSize.width !== config.vision_config.image_size)) {
      problems.push(
        `preprocessor_config.json size ${imageSize.width}×${imageSize.height} differs from config.json vision_config.image_size ${config.vision_config.image_size}`,
      );
    }
  }

  if (sidecar) {
    if (sidecar.embed_dim !== undefined && embedDim !== undefined && sidecar.embed_dim !== embedDim) {
      problems.push(`${SIDECAR_FILE}: embed_dim ${sidecar.embed_dim} differs from config.json's ${embedDim}`);
    }
    if (sidecar.image_size !== undefined && imageSize && sidecar.image_size !== imageSize.height) {
      problems.push(`${SIDECAR_FILE}: image_size ${sidecar.image_size} differs from preprocessor_config.json's ${imageSize.height}`);
    }
    if (sidecar.text_length !== undefined && textLength !== undefined && sidecar.text_length !== textLength) {
      problems.push(`${SIDECAR_FILE}: text_length ${sidecar.text_length} differs from config.json's ${textLength}`);
    }
  }

  const { variants, visionFile, textFile, visionInputType } = await checkTowers(
    dir,
    variant,
    { numChannels: config?.vision_config.num_channels ?? 3, imageSize, embedDim, textLength },
    problems,
  );
  const { logit, logitSource } = await findLogit(dir, sidecar, SIDECAR_FILE, problems);

  if (problems.length > 0) fail();

  // Only a sound directory is hashed: reading every weight of a broken one helps nobody.
  let contentHash = sidecar?.content_hash;
  if (options.verifyContentHash !== false || !contentHash) {
    const computed = await computeContentHash(dir);
    if (contentHash && contentHash !== computed) {
      problems.push(
        `content hash mismatch: ${SIDECAR_FILE} says ${contentHash} but the files hash to ${computed} (changed since export?)`,
      );
      fail();
    }
    contentHash = computed;
  }

  const mean = preprocessor!.image_mean;
  const std = preprocessor!.image_std;
  return {
    dir,
    layout: sidecar ? 'siglip-batch' : 'hub',
    checkpoint: sidecar?.checkpoint ?? config!._name_or_path ?? basename(dir),
    contentHash: contentHash!,
    embedDim: embedDim!,
    imageSize: imageSize!,
    textLength: textLength!,
    vocabSize: config!.text_config.vocab_size,
    logitScale: logit!.logitScale,
    logitBias: logit!.logitBias,
    logitSource,
    variants,
    variant,
    visionFile,
    textFile,
    visionInputType,
    preprocess: {
      height: imageSize!.height,
      width: imageSize!.width,
      doRescale: preprocessor!.do_rescale,
      rescaleFactor: preprocessor!.rescale_factor,
      doNormalize: preprocessor!.do_normalize,
      mean: typeof mean === 'number' ? [mean, mean, mean] : [mean[0]!, mean[1]!, mean[2]!],
      std: typeof std === 'number' ? [std, std, std] : [std[0]!, std[1]!, std[2]!],
    },
    ...(tokenizerConfig ? { tokenizerConfig } : {}),
    family,
    tokenizer,
  };
}

function parseTokenizerJson(text: string, problems: string[]): { model?: { type?: string } } | undefined {
  try {
    const json = JSON.parse(text) as { model?: { type?: string } };
    if (json.model?.type === undefined) problems.push('tokenizer.json: model type missing, expected SentencePiece Unigram or BPE');
    return json;
  } catch (error) {
    problems.push(`tokenizer.json: not valid JSON (${(error as Error).message})`);
    return undefined;
  }
}

