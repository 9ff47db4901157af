import { availableExecutionProviders, FAMILY_NAMES, loadModelDir, MODEL_VARIANTS, type ModelVariant, type SiglipModelInfo } from '@siglip-batch/model';
import { Command, Option } from 'commander';

/** `siglip-batch model inspect <dir>`: what a model directory holds, validated. */
export function registerModelInspectCommand(model: Command): void {
  model
    .command('inspect')
    .description(
      'validate a model directory and print its family, tokenizer, checkpoint, sizes, logit scale/bias, variants and the execution providers available here',
    )
    .argument('<dir>', 'model directory (ours or a Xenova / onnx-community export)')
    .addOption(new Option('--variant <variant>', 'variant whose files are checked').choices([...MODEL_VARIANTS]).default('fp32'))
    .option('--no-verify-hash', 'do not recompute the content hash (trust the sidecar)')
    .option('--json', 'print JSON')
    .action(async (dir: string, options: { variant: ModelVariant; verifyHash: boolean; json?: boolean }) => {
      const info = await loadModelDir(dir, { variant: options.variant, verifyContentHash: options.verifyHash });
      const providers = await availableExecutionProviders();
      const report = {
        dir: info.dir,
        layout: info.layout,
        checkpoint: info.checkpoint,
        family: info.family,
        family_name: FAMILY_NAMES[info.family],
        tokenizer: {
          kind: info.tokenizer.kind,
          lowercase: info.tokenizer.lowercase,
          pad_side: info.tokenizer.padSide,
          ...(info.tokenizer.configClass ? { config_class: info.tokenizer.configClass } : {}),
        },
        content_hash: info.contentHash,
        embed_dim: info.embedDim,
        image_size: info.imageSize,
        text_length: info.textLength,
        vocab_size: info.vocabSize,
        logit_scale: info.logitScale,
        logit_bias: info.logitBias,
        logit_source: info.logitSource,
        variants: info.variants,
        preprocess: info.preprocess,
        execution_providers: providers,
      };
      if (options.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      const lines = [
        `model         ${info.dir} (${info.layout === 'hub' ? 'hub ONNX export' : 'siglip-batch export'})`,
        `checkpoint    ${info.checkpoint}`,
        `family        ${FAMILY_NAMES[info.family]}`,
        `tokenizer     ${describeTokenizer(info)}`,
        `content hash  ${info.contentHash}`,
        `embedding     ${info.embedDim} dims`,
        `image size    ${info.imageSize.width}×${info.imageSize.height}`,
        `text length   ${info.textLength} tokens (vocab ${info.vocabSize})`,
        `logit scale   ${info.logitScale} (exp ${Math.exp(info.logitScale).toFixed(4)})`,
        `logit bias    ${info.logitBias}   [from ${info.logitSource}]`,
        `variants      ${info.variants.join(', ') || 'none'}`,
        `providers     ${providers.join(', ')} (ONNX Runtime, available here)`,
        `devices       cpu${providers.includes('cuda') ? ', cuda[:N]' : ' (cuda: ONNX Runtime\'s CUDA provider is not installed here)'}`,
      ];
      process.stdout.write(`${lines.join('\n')}\n`);
    });
}

/** One line: the tokenizer kind, lower-casing (and how to turn it off), pad side. */
function describeTokenizer(info: SiglipModelInfo): string {
  const { kind, lowercase, padSide, configClass } = info.tokenizer;
  const name = kind === 'gemma-bpe' ? 'Gemma BPE with byte fallback (Siglip2Tokenizer)' : 'SentencePiece unigram (SiglipTokenizer)';
  const lower =
    kind === 'gemma-bpe'
      ? `lower-cases text as the model was trained (${configClass ?? 'GemmaTokenizer'} in tokenizer_config.json does not: --no-lowercase gives its ids)`
      : lowercase
        ? 'lower-cases text (do_lower_case)'
        : 'keeps case (do_lower_case false)';
  return `${name}; ${lower}; pads on the ${padSide}`;
}
