/**
 * Which files of a Hub repository a model directory needs, for one variant.
 *
 * ONNX exports on the Hub (Xenova / onnx-community, written by transformers.js' conversion
 * script) keep the configuration and tokenizer at the top and the graphs under `onnx/`:
 * `model.onnx` (the whole SiglipModel), `vision_model.onnx` + `text_model.onnx` (the towers),
 * each also as `_fp16`, `_quantized`, `_int8`, `_uint8`, `_q4`, `_q4f16`, `_bnb4`, and a large
 * graph with its weights beside it in `<file>.onnx_data` (`_data_1` … when split). Older repos
 * (Xenova/siglip-base-patch16-224) have fp32, fp16 and quantized only.
 *
 * Pulled: the towers of the chosen variant (+ their external data), `config.json`,
 * `preprocessor_config.json`, the tokenizer files, and — because these repos carry no
 * `siglip-batch.json` — a source of `logit_scale` / `logit_bias`: the smaller of
 * `model.safetensors` (only its header and two scalars are read) and the fp32 combined
 * `onnx/model.onnx` (+ data). A repo written by our export tool (it has `siglip-batch.json`) is
 * pulled whole but for README/.gitattributes: its content hash covers every graph under `onnx/`.
 */

export interface HubFileEntry {
  path: string;
  size: number;
  /** Git blob id (sha1) of the file (of the pointer file for LFS files). */
  oid?: string;
  /** LFS files: sha256 of the content. */
  lfs?: { oid: string; size: number };
}

export const HUB_VARIANTS = ['fp32', 'fp16', 'quantized', 'int8', 'uint8', 'q4', 'q4f16', 'bnb4'] as const;
export type HubVariant = (typeof HUB_VARIANTS)[number];

export function variantSuffix(variant: HubVariant): string {
  return variant === 'fp32' ? '' : `_${variant}`;
}

const REQUIRED = ['config.json', 'preprocessor_config.json', 'tokenizer.json'];
const OPTIONAL = ['tokenizer_config.json', 'special_tokens_map.json', 'spiece.model', 'tokenizer.model', 'generation_config.json'];
const SIDECAR = 'siglip-batch.json';
const NEVER = new Set(['README.md', '.gitattributes']);

export interface HubFileSelection {
  files: HubFileEntry[];
  /** `siglip-batch` (our export, whole) or `hub` (an ONNX export: one variant). */
  layout: 'siglip-batch' | 'hub';
  /** Where logit_scale / logit_bias will come from. */
  logitSource: 'sidecar' | 'model.safetensors' | 'onnx/model.onnx';
}

/** Variants whose two towers are both present. */
export function variantsPresent(paths: ReadonlySet<string>): HubVariant[] {
  return HUB_VARIANTS.filter((v) => paths.has(`onnx/vision_model${variantSuffix(v)}.onnx`) && paths.has(`onnx/text_model${variantSuffix(v)}.onnx`));
}

/** `x.onnx` and its external data files (`x.onnx_data`, `x.onnx_data_1`, …). */
function withData(entries: readonly HubFileEntry[], graph: string): HubFileEntry[] {
  const data = `${graph}_data`;
  return entries.filter((e) => e.path === graph || e.path === data || (e.path.startsWith(`${data}_`) && /^\d+$/.test(e.path.slice(data.length + 1))));
}

/** The files to pull, or an error naming every problem (what is missing and what the repo has). */
export function selectHubFiles(repo: string, entries: readonly HubFileEntry[], variant: HubVariant): HubFileSelection {
  const byPath = new Map(entries.map((e) => [e.path, e]));
  const paths = new Set(byPath.keys());
  const problems: string[] = [];
  const missing = REQUIRED.filter((p) => !paths.has(p));
  if (missing.length) problems.push(`no ${missing.join(', ')}`);

  if (paths.has(SIDECAR)) {
    if (!variantsPresent(paths).includes(variant)) problems.push(missingVariant(variant, paths));
    if (problems.length) throw new Error(`${repo}: ${problems.join('; ')}`);
    return { files: entries.filter((e) => !NEVER.has(e.path)), layout: 'siglip-batch', logitSource: 'sidecar' };
  }

  const suffix = variantSuffix(variant);
  const towers = [`onnx/vision_model${suffix}.onnx`, `onnx/text_model${suffix}.onnx`];
  if (!towers.every((t) => paths.has(t))) problems.push(missingVariant(variant, paths));

  const safetensors = byPath.get('model.safetensors');
  const combined = withData(entries, 'onnx/model.onnx');
  const combinedBytes = combined.some((e) => e.path === 'onnx/model.onnx') ? combined.reduce((n, e) => n + e.size, 0) : Infinity;
  let logitSource: HubFileSelection['logitSource'] = 'onnx/model.onnx';
  let logitFiles: HubFileEntry[] = combined;
  if (safetensors && safetensors.size <= combinedBytes) {
    logitSource = 'model.safetensors';
    logitFiles = [safetensors];
  } else if (combinedBytes === Infinity) {
    problems.push('no siglip-batch.json, model.safetensors or onnx/model.onnx to read logit_scale / logit_bias from');
  }
  if (problems.length) throw new Error(`${repo}: ${problems.join('; ')}`);

  const files = [
    ...[...REQUIRED, ...OPTIONAL].flatMap((p) => (byPath.has(p) ? [byPath.get(p)!] : [])),
    ...towers.flatMap((t) => withData(entries, t)),
    ...logitFiles,
  ];
  return { files: [...new Map(files.map((f) => [f.path, f])).values()], layout: 'hub', logitSource };
}

function missingVariant(variant: HubVariant, paths: ReadonlySet<string>): string {
  const present = variantsPresent(paths);
  const combinedOnly = HUB_VARIANTS.filter((v) => paths.has(`onnx/model${variantSuffix(v)}.onnx`) && !present.includes(v));
  return (
    `variant ${variant} missing: no onnx/vision_model${variantSuffix(variant)}.onnx + onnx/text_model${variantSuffix(variant)}.onnx ` +
    `(variants with both towers: ${present.join(', ') || 'none'}` +
    (combinedOnly.length ? `; only a combined onnx/model_*.onnx, which cannot embed images and texts separately: ${combinedOnly.join(', ')}` : '') +
    ')'
  );
}
