import type { PadSide, TokenizerKind } from './text-tokenizer';

/**
 * - `siglip`: SigLIP (incl. multilingual): `SiglipModel` + SentencePiece unigram (`SiglipTokenizer`).
 * - `siglip2`: fixed-resolution SigLIP 2: `SiglipModel` + Gemma's BPE tokenizer (`Siglip2Tokenizer`).
 * - `siglip2-naflex`: SigLIP 2 NaFlex (`Siglip2Model`, `model_type` "siglip2"): variable resolution.
 */
export type ModelFamily = 'siglip' | 'siglip2' | 'siglip2-naflex';

/** The families' names as people write them. */
export const FAMILY_NAMES: Readonly<Record<ModelFamily, string>> = { siglip: 'SigLIP', siglip2: 'SigLIP 2', 'siglip2-naflex': 'SigLIP 2 NaFlex' };

/** How a model directory's text is tokenised, by default (options may change `lowercase`). */
export interface TokenizerDescription {
  readonly kind: TokenizerKind;
  /**
   * The model's training: SigLIP's `do_lower_case` (default true); SigLIP 2 always (its
   * checkpoints name `GemmaTokenizer`, which does not lower-case, but transformers'
   * `Siglip2Tokenizer` and the model's training do).
   */
  readonly lowercase: boolean;
  /** `tokenizer_config.json`'s `padding_side`, else the transformers class default. */
  readonly padSide: PadSide;
  /** `tokenizer_config.json`'s `tokenizer_class`, when it names one. */
  readonly configClass?: string;
}

export interface FamilyDescription {
  readonly family: ModelFamily;
  readonly tokenizer: TokenizerDescription;
}

/**
 * Recognises the family from the files' contents: `config.json`'s `model_type` ("siglip2" is
 * NaFlex's `Siglip2Model`; the fixed-resolution SigLIP 2 checkpoints are "siglip") and the
 * tokenizer model in `tokenizer.json` (Unigram: SigLIP; BPE: Gemma, i.e. SigLIP 2).
 * Problems (an unknown tokenizer model) are appended to `problems`.
 */
export function describeFamily(
  modelType: string | undefined,
  tokenizerJson: { model?: { type?: string } } | undefined,
  tokenizerConfig: Record<string, unknown> | undefined,
  problems: string[],
): FamilyDescription {
  const modelKind = tokenizerJson?.model?.type;
  const configClass = typeof tokenizerConfig?.['tokenizer_class'] === 'string' ? (tokenizerConfig['tokenizer_class'] as string) : undefined;
  const side = tokenizerConfig?.['padding_side'];
  const padSide = side === 'left' || side === 'right' ? side : undefined;
  if (side !== undefined && padSide === undefined) problems.push(`tokenizer_config.json: padding_side ${JSON.stringify(side)} is neither "left" nor "right"`);
  const withClass = configClass ? { configClass } : {};

  if (modelKind === 'BPE') {
    // GemmaTokenizer and Siglip2Tokenizer both pad on the left unless the checkpoint says otherwise.
    return {
      family: modelType === 'siglip2' ? 'siglip2-naflex' : 'siglip2',
      tokenizer: { kind: 'gemma-bpe', lowercase: true, padSide: padSide ?? 'left', ...withClass },
    };
  }
  if (modelKind !== undefined && modelKind !== 'Unigram') {
    problems.push(`tokenizer.json: model type ${modelKind}; expected SentencePiece Unigram (SigLIP) or BPE (SigLIP 2's Gemma tokenizer)`);
  }
  return {
    family: modelType === 'siglip2' ? 'siglip2-naflex' : 'siglip',
    tokenizer: { kind: 'sentencepiece-unigram', lowercase: tokenizerConfig?.['do_lower_case'] !== false, padSide: padSide ?? 'right', ...withClass },
  };
}
