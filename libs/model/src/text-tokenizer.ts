/** Which tokenizer a model directory needs. */
export type TokenizerKind = 'sentencepiece-unigram' | 'gemma-bpe';

/** Side the padding goes on (transformers' `padding_side`). */
export type PadSide = 'left' | 'right';

/** What the text tower's input ids come from: SigLIP's SentencePiece unigram or SigLIP 2's Gemma BPE. */
export interface TextTokenizer {
  readonly kind: TokenizerKind;
  /** Token positions of the text model; every encoding has exactly this length. */
  readonly maxLength: number;
  /** Whether text is lower-cased before tokenising. */
  readonly lowercase: boolean;
  readonly padSide: PadSide;
  /** Exactly `maxLength` ids: truncated (special tokens kept), padded. */
  encode(text: string): number[];
  /** `tokenizer(text)["input_ids"]`: special tokens, no truncation or padding. */
  encodeUnpadded(text: string): number[];
  /** `input_ids` for the text model: int64 `[texts.length, maxLength]`, row-major. */
  encodeBatch(texts: readonly string[]): BigInt64Array;
}

/** `encodeBatch` from `encode`. */
export function encodeBatchInto(tokenizer: Pick<TextTokenizer, 'encode' | 'maxLength'>, texts: readonly string[]): BigInt64Array {
  const length = tokenizer.maxLength;
  const out = new BigInt64Array(texts.length * length);
  texts.forEach((text, row) => {
    tokenizer.encode(text).forEach((id, i) => {
      out[row * length + i] = BigInt(id);
    });
  });
  return out;
}
