import { GemmaTokenizer } from './gemma-tokenizer';
import type { SiglipModelInfo } from './siglip-config';
import { SiglipTokenizer } from './siglip-tokenizer';
import type { TextTokenizer } from './text-tokenizer';

export interface LoadTokenizerOptions {
  /**
   * Lower-case text before tokenising. `false` reproduces a tokenizer that does not
   * (SigLIP 2: transformers' `GemmaTokenizer`, which its checkpoints name; SigLIP:
   * `do_lower_case=False`).
   * @defaultValue the model's training: `info.tokenizer.lowercase`
   */
  readonly lowercase?: boolean;
}

/** The tokenizer a validated model directory needs: SigLIP's unigram or SigLIP 2's Gemma BPE. */
export async function loadTokenizer(info: Pick<SiglipModelInfo, 'dir' | 'textLength' | 'tokenizer'>, options: LoadTokenizerOptions = {}): Promise<TextTokenizer> {
  const common = { maxLength: info.textLength, lowercase: options.lowercase ?? info.tokenizer.lowercase, padSide: info.tokenizer.padSide };
  return info.tokenizer.kind === 'gemma-bpe' ? GemmaTokenizer.fromDirectory(info.dir, common) : SiglipTokenizer.fromDirectory(info.dir, common);
}
